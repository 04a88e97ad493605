// Lets a request through only with a valid HS256 JSON Web Token in its `jwt` query
// parameter, signed with the secret the function's key value store holds under
// `jwt.secret`; the token is removed before the request goes on. Uses what
// cloudfront-js-2.0 offers modules for: `import` of `crypto` and `cloudfront`, Buffer,
// async/await (the shape of AWS's kvs-jwt-verify example). Viewer-request.
import crypto from 'crypto';
import cf from 'cloudfront';

const unauthorized = { statusCode: 401, statusDescription: 'Unauthorized' };

function claimsOf(segment) {
    return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
}

// Compares in constant time, so the comparison does not tell how much of a forged
// signature is right.
function sameText(a, b) {
    if (a.length !== b.length) return false;
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
    return diff === 0;
}

function verify(token, secret) {
    const parts = token.split('.');
    if (parts.length !== 3) throw new Error('the token has ' + parts.length + ' parts');
    const signed = parts[0] + '.' + parts[1];
    const expected = crypto.createHmac('sha256', secret).update(signed).digest('base64url');
    if (!sameText(expected, parts[2])) throw new Error('bad signature');
    const claims = claimsOf(parts[1]);
    const now = Date.now() / 1000;
    if (claims.nbf && now < claims.nbf) throw new Error('not valid yet');
    if (claims.exp && now > claims.exp) throw new Error('expired');
    return claims;
}

async function handler(event) {
    const request = event.request;
    const token = request.querystring.jwt;
    if (!token) return unauthorized;
    let secret;
    try {
        secret = await cf.kvs().get('jwt.secret');
    } catch (e) {
        console.log('no secret: ' + e.message);
        return unauthorized;
    }
    try {
        verify(token.value, secret);
    } catch (e) {
        console.log('rejected: ' + e.message);
        return unauthorized;
    }
    delete request.querystring.jwt;
    return request;
}
