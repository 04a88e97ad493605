// Adds security headers to every response (viewer-response).
// Runs on cloudfront-js-1.0 and cloudfront-js-2.0.
function handler(event) {
    var response = event.response;
    var headers = response.headers;
    headers['strict-transport-security'] = { value: 'max-age=63072000; includeSubDomains; preload' };
    headers['content-security-policy'] = { value: "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'" };
    headers['x-content-type-options'] = { value: 'nosniff' };
    headers['x-frame-options'] = { value: 'DENY' };
    headers['referrer-policy'] = { value: 'strict-origin-when-cross-origin' };
    if (!headers['cache-control']) {
        headers['cache-control'] = { value: 'public, max-age=60' };
    }
    return response;
}
