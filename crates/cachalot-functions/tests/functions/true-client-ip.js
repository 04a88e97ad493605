// Passes the viewer's address to the origin in a true-client-ip header
// (forward it with an origin request policy).
// Runs on cloudfront-js-1.0 and cloudfront-js-2.0 (viewer-request).
function handler(event) {
    var request = event.request;
    request.headers['true-client-ip'] = { value: event.viewer.ip };
    return request;
}
