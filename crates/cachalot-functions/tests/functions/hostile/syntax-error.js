function handler(event) {
    var request = event.request
    return request.;
}
