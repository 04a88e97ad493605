// Sorts query parameters by name and drops tracking parameters (utm_*, fbclid,
// gclid), so `?b=2&a=1&utm_source=x` and `?a=1&b=2` share one cache entry.
// Assigns the result as a string, as AWS's own example does.
// Runs on cloudfront-js-1.0 and cloudfront-js-2.0 (viewer-request).
function handler(event) {
    var request = event.request;
    var params = request.querystring;
    var names = Object.keys(params).filter(function (name) {
        return name.indexOf('utm_') !== 0 && name !== 'fbclid' && name !== 'gclid';
    });
    names.sort();
    var pairs = [];
    names.forEach(function (name) {
        var entry = params[name];
        var values = entry.multiValue ? entry.multiValue.map(function (v) { return v.value; }) : [entry.value];
        values.sort().forEach(function (value) {
            pairs.push(name + '=' + value);
        });
    });
    request.querystring = pairs.join('&');
    return request;
}
