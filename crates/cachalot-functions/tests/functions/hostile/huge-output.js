// A generated body over CloudFront's 40 KB limit for function-generated responses.
function handler(event) {
    var body = 'x';
    while (body.length <= 40 * 1024) body += body;
    return { statusCode: 200, body: body };
}
