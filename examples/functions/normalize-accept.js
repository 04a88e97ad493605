// Normalises the Accept header of image requests to one of three values, so the
// cache keeps at most three variants per image instead of one per browser.
// Runs on cloudfront-js-1.0 and cloudfront-js-2.0 (viewer-request).
function handler(event) {
    var request = event.request;
    var header = request.headers['accept'];
    var offered = {};
    if (header) {
        header.value.split(',').forEach(function (range) {
            var parts = range.split(';');
            var type = parts[0].trim().toLowerCase();
            var refused = parts.slice(1).some(function (p) {
                return /^\s*q\s*=\s*0(\.0*)?\s*$/.test(p);
            });
            if (!refused) {
                offered[type] = true;
            }
        });
    }
    var format = offered['image/avif'] ? 'image/avif' : offered['image/webp'] ? 'image/webp' : 'image/jpeg';
    request.headers['accept'] = { value: format };
    return request;
}
