function handler(event) {
    const request = event.request;
    return request;
}
