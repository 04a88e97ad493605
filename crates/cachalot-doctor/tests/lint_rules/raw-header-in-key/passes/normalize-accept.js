function handler(event) {
    var headers = event.request.headers;
    var accept = headers.accept ? headers.accept.value : '';
    var format = accept.indexOf('image/avif') >= 0 ? 'image/avif' : accept.indexOf('image/webp') >= 0 ? 'image/webp' : 'image/jpeg';
    headers.accept = { value: format };
    return event.request;
}
