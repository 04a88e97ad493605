// Accepts requests under /private/ only with a valid `token` query parameter:
// hex HMAC-SHA256 of the path and the `expires` parameter, keyed with a shared secret.
// Runs on cloudfront-js-1.0 and cloudfront-js-2.0 (viewer-request).
var crypto = require('crypto');
var SECRET = 'change-me';

function handler(event) {
    var request = event.request;
    if (request.uri.indexOf('/private/') !== 0) {
        return request;
    }
    var token = request.querystring.token;
    var expires = request.querystring.expires;
    var expected = expires
        ? crypto.createHmac('sha256', SECRET).update(request.uri + ':' + expires.value).digest('hex')
        : '';
    if (!token || !expires || token.value !== expected || Number(expires.value) * 1000 < Date.now()) {
        return { statusCode: 403, statusDescription: 'Forbidden', body: 'invalid or expired token' };
    }
    delete request.querystring.token;
    delete request.querystring.expires;
    return request;
}
