function handler(event) {
    return { statusCode: 200, body: new Array(200 * 1024).join('x') };
}
