// Tries to carry state from one request to the next; each request must see a fresh start.
var counter = 0;

function handler(event) {
    counter += 1;
    var leaked = [];
    try { globalThis.shared = (globalThis.shared || 0) + 1; } catch (e) { leaked.push('global:' + e.name); }
    try { Object.prototype.polluted = true; } catch (e) { leaked.push('proto:' + e.name); }
    try { JSON.parse = function () { return 1; }; } catch (e) { leaked.push('json:' + e.name); }
    var request = event.request;
    request.headers['x-counter'] = { value: String(counter) };
    request.headers['x-blocked'] = { value: leaked.join(',') };
    return request;
}
