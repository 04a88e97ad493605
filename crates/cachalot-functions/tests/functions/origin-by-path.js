// Sends /api/ requests to the distribution's "api" origin and /media/ requests to
// a bucket, with origin access control signing.
// cloudfront-js-2.0 only (viewer-request).
import cf from 'cloudfront';

function handler(event) {
    const request = event.request;
    if (request.uri.startsWith('/api/')) {
        cf.selectRequestOriginById('api');
    } else if (request.uri.startsWith('/media/')) {
        cf.updateRequestOrigin({
            domainName: 'media-bucket.s3.us-east-1.amazonaws.com',
            originAccessControlConfig: {
                enabled: true,
                signingBehavior: 'always',
                signingProtocol: 'sigv4',
                originType: 's3',
            },
            timeouts: { readTimeout: 30, connectionTimeout: 5 },
            customHeaders: {},
        });
    }
    return request;
}
