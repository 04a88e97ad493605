// Sends viewers from Germany and Austria to the German site, using the
// cloudfront-viewer-country header (add it to the cache or origin request policy).
// Runs on cloudfront-js-1.0 and cloudfront-js-2.0 (viewer-request).
var GERMAN_SITE = 'https://www.example.de';

function handler(event) {
    var request = event.request;
    var country = request.headers['cloudfront-viewer-country'];
    if (country && (country.value === 'DE' || country.value === 'AT')) {
        return {
            statusCode: 302,
            statusDescription: 'Found',
            headers: {
                location: { value: GERMAN_SITE + request.uri },
                'cache-control': { value: 'private, max-age=0' },
            },
        };
    }
    return request;
}
