// Single-page application routing: `/docs/` serves `/docs/index.html`, and any
// path without a file extension (`/account/settings`) serves `/index.html`.
// Runs on cloudfront-js-1.0 and cloudfront-js-2.0 (viewer-request).
function handler(event) {
    var request = event.request;
    var uri = request.uri;
    if (uri.endsWith('/')) {
        request.uri = uri + 'index.html';
    } else if (uri.split('/').pop().indexOf('.') === -1) {
        request.uri = '/index.html';
    }
    return request;
}
