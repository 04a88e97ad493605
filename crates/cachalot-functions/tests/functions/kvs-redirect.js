// Redirects paths listed in the associated key value store (key: path, value:
// target URL) and passes everything else through.
// cloudfront-js-2.0 only (viewer-request).
import cf from 'cloudfront';

const redirects = cf.kvs();

async function handler(event) {
    const request = event.request;
    let target;
    try {
        target = await redirects.get(request.uri);
    } catch (err) {
        return request;
    }
    console.log(`redirecting ${request.uri} to ${target}`);
    return {
        statusCode: 301,
        statusDescription: 'Moved Permanently',
        headers: { location: { value: target } },
    };
}
