//! Leak attempts: one viewer's invocation tries to leave data where a later viewer's invocation
//! of the same function (same thread, same engine instance) could read it.
//!
//! Viewer A's request carries a secret session cookie. The function's code, the same for every
//! request, attacks on A's request and probes on every other request; each probe reports what
//! it found in an `x-found` header, which must stay empty. The channels tried: every property
//! and accessor reachable from the global object and the hidden intrinsics (built-in
//! prototypes, iterator and generator prototypes, modules), the engine's own stack-trace hooks,
//! `RegExp` legacy statics, the symbol registry, `Date` and `Math` state, the prelude's
//! per-invocation state (log budget, byte strings), and promise jobs left queued.

mod common;

use cachalot_functions::{Function, Limits, Runtime, ViewerRequestOutcome};
use common::{BOTH, request, store};
use std::sync::Arc;
use std::time::Duration;

const SECRET: &str = "s3cr3t-7f3e9c";
/// What a probe looks for: part of the secret that appears nowhere else.
const NEEDLE: &str = "7f3e9c";

/// Walks everything reachable from the global object and the intrinsics code can reach
/// without syntax (ES5 syntax, so the same code runs on both runtimes).
const WALKER: &str = r#"
function rootsOf(extra) {
    var list = [['globalThis', globalThis]];
    var add = function (name, thunk) { try { list.push([name, thunk()]); } catch (e) {} };
    add('ArrayIterator', function () { return Object.getPrototypeOf([][Symbol.iterator]()); });
    add('StringIterator', function () { return Object.getPrototypeOf(''[Symbol.iterator]()); });
    add('MapIterator', function () { return Object.getPrototypeOf(new Map().entries()); });
    add('SetIterator', function () { return Object.getPrototypeOf(new Set().values()); });
    add('RegExpStringIterator', function () { return Object.getPrototypeOf(/a/g[Symbol.matchAll]('a')); });
    add('IteratorHelper', function () { return Object.getPrototypeOf([].values().map(function (x) { return x; })); });
    add('WrapForValidIterator', function () { return Object.getPrototypeOf(Iterator.from({ next: function () {} })); });
    add('TypedArray', function () { return Object.getPrototypeOf(Uint8Array); });
    add('ThrowTypeError', function () { return Object.getOwnPropertyDescriptor(Function.prototype, 'caller').get; });
    add('crypto', function () { return require('crypto'); });
    add('querystring', function () { return require('querystring'); });
    add('buffer', function () { return require('buffer'); });
    add('hash', function () { return require('crypto').createHash('sha256'); });
    add('hmac', function () { return require('crypto').createHmac('sha256', 'k'); });
    add('arguments', function () { return arguments; });
    for (var i = 0; i < extra.length; i++) list.push(extra[i]);
    return list;
}

function walk(extra, visit) {
    var seen = new Set();
    var stack = rootsOf(extra);
    while (stack.length > 0) {
        var item = stack.pop();
        var path = item[0], o = item[1];
        if ((typeof o !== 'object' && typeof o !== 'function') || o === null || seen.has(o)) continue;
        seen.add(o);
        visit(path, o);
        var keys = Reflect.ownKeys(o);
        for (var i = 0; i < keys.length; i++) {
            var d = Reflect.getOwnPropertyDescriptor(o, keys[i]);
            if (!d) continue;
            var name = path + '.' + String(keys[i]);
            if ('value' in d) stack.push([name, d.value]);
            else { stack.push([name + '<get>', d.get]); stack.push([name + '<set>', d.set]); }
        }
        stack.push([path + '.<proto>', Object.getPrototypeOf(o)]);
    }
    return seen.size;
}

// Tries to write the secret into every reachable object and through every reachable setter
// (the objects are listed first, so what the attack creates is not attacked in turn).
function attack(extra, secret) {
    var objects = [];
    walk(extra, function (path, o) { objects.push(o); });
    for (var j = 0; j < objects.length; j++) {
        var o = objects[j];
        var keys = Reflect.ownKeys(o);
        for (var i = 0; i < keys.length; i++) {
            var k = keys[i];
            var d = Reflect.getOwnPropertyDescriptor(o, k);
            if (!d) continue;
            if (d.set) {
                try { d.set.call(o, secret); } catch (e) {}
                try { d.set.call(Object.create(o), secret); } catch (e) {}
            } else if (d.writable) {
                try { o[k] = secret; } catch (e) {}
            }
            try { Object.defineProperty(o, k, { value: secret }); } catch (e) {}
        }
        try { o['leak-' + secret] = secret; } catch (e) {}
        try { o[Symbol.for('leak')] = secret; } catch (e) {}
        try { Object.setPrototypeOf(o, { leak: secret }); } catch (e) {}
        try { Object.defineProperty(o, 'leak', { get: function () { return secret; } }); } catch (e) {}
    }
}

// Looks for the needle in every reachable key, value and getter result (calling functions that
// getters return, the way a later function would use a planted hook).
function probe(extra, needle) {
    var found = [];
    var check = function (where, v) {
        if (typeof v === 'function') { try { v = v(); } catch (e) { return; } }
        if (typeof v === 'symbol') v = v.description;
        if (typeof v === 'string' && v.indexOf(needle) >= 0) found.push(where);
    };
    walk(extra, function (path, o) {
        var keys = Reflect.ownKeys(o);
        for (var i = 0; i < keys.length; i++) {
            var k = keys[i];
            var d = Reflect.getOwnPropertyDescriptor(o, k);
            check(path + ' key ' + String(k), typeof k === 'symbol' ? k.description : k);
            if (!d) continue;
            if ('value' in d) { if (typeof d.value !== 'function') check(path + '.' + String(k), d.value); }
            else if (d.get) { try { check(path + '.' + String(k) + ' (getter)', d.get.call(o)); } catch (e) {} }
        }
    });
    return found;
}
"#;

/// Limits for the walks: generous time (unoptimised engine in test builds) and memory (every
/// failed write leaves an exception behind until the collector runs).
fn walking_limits() -> Limits {
    Limits { time_budget: Duration::from_secs(20), memory_bytes: 64 << 20, ..Limits::default() }
}

/// Wraps `body` (which may use `secret`, `isAttacker`, `found` and `extra`) in a handler that
/// reports `found` in `x-found` and `marks` in `x-marks`.
fn function_code(runtime: Runtime, prologue: &str, body: &str) -> String {
    let import = if runtime == Runtime::Js2 { "import cf from 'cloudfront';" } else { "" };
    format!(
        "{import}\n{prologue}\n{WALKER}\n\
         function handler(event) {{\n\
             var r = event.request;\n\
             var secret = r.cookies.session ? r.cookies.session.value : '';\n\
             var isAttacker = secret.indexOf('{NEEDLE}') >= 0;\n\
             var found = [];\n\
             var marks = [];\n\
             var extra = [['rawQueryString', r.rawQueryString]];\n\
             {extra_roots}\n\
             {body}\n\
             r.headers['x-found'] = {{ value: found.join(' | ') }};\n\
             r.headers['x-marks'] = {{ value: marks.join(',') }};\n\
             return r;\n\
         }}",
        extra_roots = if runtime == Runtime::Js2 {
            "extra.push(['cloudfront', cf]); try { extra.push(['kvs', cf.kvs()]); } catch (e) {}\n\
             extra.push(['GeneratorFunction', Object.getPrototypeOf(function* () {})]);\n\
             extra.push(['AsyncFunction', Object.getPrototypeOf(async function () {})]);\n\
             extra.push(['AsyncGeneratorFunction', Object.getPrototypeOf(async function* () {})]);\n\
             extra.push(['Generator', Object.getPrototypeOf(Object.getPrototypeOf((function* () {})()))]);\n\
             extra.push(['AsyncGenerator', Object.getPrototypeOf(Object.getPrototypeOf((async function* () {})()))]);"
        } else {
            ""
        }
    )
}

/// Compiles `code`, runs it for viewer A (who holds the secret), then four times for viewer B;
/// returns B's (`x-found`, `x-marks`, logs) of each request.
fn run_viewers(runtime: Runtime, code: &str) -> Vec<(String, String, Vec<String>)> {
    let stores = vec![store("settings", &[("k", "v")])];
    let f: Arc<Function> = Function::compile("leak", runtime, code, stores, walking_limits())
        .unwrap_or_else(|e| panic!("{runtime}: {e}\n{code}"));
    let a = request("GET", "/a", &[("cookie", &format!("session={SECRET}"))]);
    // The attacker's own outcome does not matter (it may fail on purpose).
    let _ = f.viewer_request(&a);
    (0..4)
        .map(|i| {
            let b = request("GET", "/b", &[("cookie", &format!("session=viewer-b-{i}"))]);
            let inv = f.viewer_request(&b).unwrap_or_else(|e| panic!("{runtime}: viewer B failed: {e}"));
            let ViewerRequestOutcome::Continue { request, .. } = inv.outcome else { panic!("expected the request") };
            let found = request.headers.get("x-found").unwrap_or_default().to_owned();
            let marks = request.headers.get("x-marks").unwrap_or_default().to_owned();
            (found, marks, inv.logs)
        })
        .collect()
}

fn assert_no_leak(runtime: Runtime, what: &str, code: &str) {
    for (i, (found, _, logs)) in run_viewers(runtime, code).into_iter().enumerate() {
        assert!(found.is_empty(), "{runtime}, {what}: viewer B's request {i} read viewer A's secret at: {found}");
        assert!(
            logs.iter().all(|l| !l.contains(NEEDLE)),
            "{runtime}, {what}: viewer B's request {i} logged viewer A's secret: {logs:?}"
        );
    }
}

#[test]
fn no_reachable_property_or_accessor_carries_data_between_viewers() {
    let body = "if (isAttacker) attack(extra, secret); else found = probe(extra, NEEDLE);";
    for runtime in BOTH {
        let code = function_code(runtime, &format!("var NEEDLE = '{NEEDLE}';"), body);
        assert_no_leak(runtime, "writes through every reachable property and setter", &code);
    }
}

#[test]
fn error_stack_hooks_do_not_survive_the_invocation() {
    // V8-style hooks QuickJS keeps in its context: a hook set by one viewer would format the
    // stack of every later error, with the closure's data.
    let body = r#"
        if (isAttacker) {
            try { Error.prepareStackTrace = function () { return 'hooked ' + secret; }; } catch (e) {}
            try { Error.stackTraceLimit = 0; } catch (e) {}
            try { Error.captureStackTrace(Error.prototype); } catch (e) {}
        } else {
            var stack = String(new TypeError('probe').stack);
            if (stack.indexOf(NEEDLE) >= 0) found.push('new TypeError().stack: ' + stack);
            if (stack.indexOf('function.js') < 0) found.push('the stack trace lost its frames: ' + JSON.stringify(stack));
            try { null.x; } catch (e) { if (String(e.stack).indexOf(NEEDLE) >= 0) found.push('engine error stack'); }
            marks.push(typeof Error.prepareStackTrace, typeof Error.stackTraceLimit, typeof Error.captureStackTrace);
        }"#;
    for runtime in BOTH {
        let code = function_code(runtime, &format!("var NEEDLE = '{NEEDLE}';"), body);
        for (i, (found, marks, _)) in run_viewers(runtime, &code).into_iter().enumerate() {
            assert!(found.is_empty(), "{runtime}: request {i} of viewer B: {found}");
            // Not part of CloudFront's runtime, and the way the hooks above are planted.
            assert_eq!(marks, "undefined,undefined,undefined", "{runtime}");
        }
    }
}

#[test]
fn regexp_legacy_statics_hold_no_match() {
    let body = r#"
        if (isAttacker) {
            /(s3cr3t-[0-9a-f]+)/.exec(secret);
            secret.replace(/7f3e9c/, 'x');
        } else {
            var names = ['$1', '$2', 'input', '$_', 'lastMatch', '$&', 'lastParen', '$+', 'leftContext', '$`', 'rightContext', "$'"];
            for (var i = 0; i < names.length; i++) {
                var v;
                try { v = RegExp[names[i]]; } catch (e) { v = undefined; }
                if (v !== undefined) found.push('RegExp.' + names[i] + ' = ' + JSON.stringify(v));
            }
        }"#;
    for runtime in BOTH {
        assert_no_leak(runtime, "RegExp legacy statics", &function_code(runtime, "", body));
    }
}

#[test]
fn registered_symbols_carry_nothing_between_viewers() {
    let body = r#"
        if (isAttacker) {
            var s = Symbol.for('leak ' + secret);
            try { Symbol.prototype[s] = secret; } catch (e) {}
            try { Object.defineProperty(Symbol, s, { value: secret }); } catch (e) {}
        } else {
            found = probe(extra, NEEDLE);
            if (Symbol.keyFor(Symbol.for('leak')) !== 'leak') found.push('Symbol.keyFor is broken');
        }"#;
    for runtime in BOTH {
        let code = function_code(runtime, &format!("var NEEDLE = '{NEEDLE}';"), body);
        assert_no_leak(runtime, "the symbol registry", &code);
    }
}

#[test]
fn date_state_is_the_invocation_own() {
    let body = r#"
        if (isAttacker) {
            try { Date.prototype.setTime.call(Date.prototype, 7397); } catch (e) {}
            try { Date.now = function () { return 7397; }; } catch (e) {}
            try { Date.prototype.getTime = function () { return 7397; }; } catch (e) {}
        } else {
            try { found.push('Date.prototype holds a time: ' + Date.prototype.getTime.call(Date.prototype)); } catch (e) {}
            if (Date.now() === 7397 || new Date().getTime() === 7397) found.push('Date was replaced');
            if (Date.now() !== new Date().getTime()) found.push('Date.now and new Date disagree');
        }"#;
    for runtime in BOTH {
        assert_no_leak(runtime, "Date", &function_code(runtime, "", body));
    }
}

#[test]
fn prelude_state_is_reset_for_each_viewer() {
    // The console's 10 KB budget and cloudfront-js-1.0's byte strings are per invocation: a
    // string the attacker made a byte string must hash as UTF-8 text for the next viewer.
    let body = r#"
        if (isAttacker) {
            for (var i = 0; i < 40; i++) console.log('x'.repeat(400));
            '\u00e9'.toBytes();
            String.bytesFrom('e9', 'hex');
        } else {
            console.log('first line of viewer B');
            var h = require('crypto').createHash('sha256').update('\u00e9').digest('hex');
            // sha256 of C3 A9, the UTF-8 encoding of U+00E9.
            if (h !== '4a99557e4033c3539de2eb65472017cad5f9557f7a0625a09f1c3f6e2ba69c4c') found.push('hash of U+00E9 as a byte string: ' + h);
        }"#;
    let code = function_code(Runtime::Js1, "", body);
    for (i, (found, _, logs)) in run_viewers(Runtime::Js1, &code).into_iter().enumerate() {
        assert!(found.is_empty(), "request {i} of viewer B: {found}");
        assert_eq!(logs, ["first line of viewer B"], "request {i} of viewer B");
    }
}

#[test]
fn modules_and_their_objects_are_the_invocation_own() {
    let body = r#"
        var crypto = require('crypto'), qs = require('querystring');
        if (isAttacker) {
            try { crypto.createHash = function () { return secret; }; } catch (e) {}
            try { qs.parse = function () { return secret; }; } catch (e) {}
            try { Object.getPrototypeOf(crypto.createHash('md5')).digest = function () { return secret; }; } catch (e) {}
            try { cf.kvs().get = function () { return secret; }; } catch (e) {}
        } else {
            if (typeof crypto.createHash('md5').update('a').digest('hex') !== 'string') found.push('crypto');
            if (crypto.createHash('md5').update('a').digest('hex') !== '0cc175b9c0f1b6a831c399e269772661') found.push('md5');
            if (JSON.stringify(qs.parse('a=1')) !== '{"a":"1"}') found.push('querystring');
            if (String(cf.kvs().get).indexOf(NEEDLE) >= 0) found.push('kvs');
        }"#;
    let code = function_code(Runtime::Js2, &format!("var NEEDLE = '{NEEDLE}';"), body);
    assert_no_leak(Runtime::Js2, "modules", &code);
}

#[test]
fn work_left_queued_by_one_viewer_never_runs_for_another() {
    // The attacker queues reactions that would log its secret or change the origin, then runs
    // past its time budget so they are still queued when its invocation ends.
    let body = r#"
        if (isAttacker) {
            var p = Promise.resolve();
            for (var i = 0; i < 3; i++) {
                p = p.then(function () { console.log('queued by ' + secret); });
                Promise.resolve().then(function () { cf.updateRequestOrigin({ domainName: secret + '.example.com' }); });
            }
            for (;;) {}
        }"#;
    let code = function_code(Runtime::Js2, "", body);
    let f = Function::compile("queued", Runtime::Js2, &code, Vec::new(), Limits::default()).unwrap();
    let a = request("GET", "/a", &[("cookie", &format!("session={SECRET}"))]);
    let e = f.viewer_request(&a).unwrap_err();
    assert_eq!(e.kind, cachalot_functions::FunctionErrorKind::Throttled, "{e}");
    for i in 0..4 {
        let b = request("GET", "/b", &[("cookie", "session=b")]);
        let inv = f.viewer_request(&b).unwrap_or_else(|e| panic!("viewer B failed: {e}"));
        assert!(inv.logs.iter().all(|l| !l.contains(NEEDLE)), "request {i}: {:?}", inv.logs);
        let ViewerRequestOutcome::Continue { origin, .. } = inv.outcome else { panic!("expected the request") };
        assert!(origin.is_none(), "request {i}: viewer B's origin was changed by viewer A's code: {origin:?}");
    }
}

#[test]
fn math_random_does_not_continue_across_invocations() {
    // With one generator per engine instance, a function that sees a few of its outputs can
    // recover the generator's state and predict what later viewers' invocations draw (or learn
    // how many values an earlier invocation drew). Each invocation must start its own sequence.
    let code = r#"
        function handler(event) {
            var out = [];
            for (var i = 0; i < 3; i++) out.push(Math.random().toString());
            return { statusCode: 200, body: out.join(',') };
        }"#;
    for runtime in BOTH {
        let f = Function::compile("random", runtime, code, Vec::new(), common::limits()).unwrap();
        let draw = || -> Vec<f64> {
            match f.viewer_request(&request("GET", "/", &[])).unwrap().outcome {
                ViewerRequestOutcome::Respond(r) => match r.body {
                    Some(cachalot_functions::Body::Text(t)) => t.split(',').map(|s| s.parse().unwrap()).collect(),
                    other => panic!("{other:?}"),
                },
                other => panic!("{other:?}"),
            }
        };
        let first = draw();
        let second = draw();
        assert!(first.iter().all(|v| (0.0..1.0).contains(v)) && first[0] != first[1], "{runtime}: {first:?}");
        if let Some(predicted) = xorshift_continuation(&first) {
            assert_ne!(predicted, second[0], "{runtime}: the next invocation's first draw was predictable");
        }
        assert_ne!(first, second, "{runtime}");
    }
}

/// The value QuickJS's shared generator (xorshift64*, 52 bits per double) would draw next, if
/// `seen` are consecutive outputs of it.
fn xorshift_continuation(seen: &[f64]) -> Option<f64> {
    const MUL: u64 = 0x2545_F491_4F6C_DD1D;
    let inverse = {
        // Newton's iteration for the inverse of an odd number modulo 2^64.
        let mut x: u64 = MUL;
        for _ in 0..6 {
            x = x.wrapping_mul(2u64.wrapping_sub(MUL.wrapping_mul(x)));
        }
        x
    };
    let step = |s: u64| {
        let mut x = s;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        x
    };
    let top52 = |v: f64| ((v + 1.0).to_bits()) & ((1u64 << 52) - 1);
    let output = |state: u64| f64::from_bits((state.wrapping_mul(MUL) >> 12) | (1023u64 << 52)) - 1.0;
    let high = top52(seen[0]);
    for low in 0..(1u64 << 12) {
        let state = ((high << 12) | low).wrapping_mul(inverse);
        let mut s = state;
        if seen[1..].iter().all(|&v| {
            s = step(s);
            top52(v) == (s.wrapping_mul(MUL) >> 12)
        }) {
            return Some(output(step(s)));
        }
    }
    None
}

#[test]
fn every_reachable_built_in_is_frozen_and_holds_no_mutable_internal_state() {
    // What makes the isolation hold by construction: every object an invocation can reach
    // without creating it is frozen, and none of them keeps state in internal slots that
    // freezing does not cover (a Date's time, a Map's entries, a RegExp's pattern, an
    // ArrayBuffer's bytes, a promise's reactions). Objects created by the invocation itself
    // (`arguments`, hashes) are left out.
    let body = r#"
        var fresh = { arguments: 1, hash: 1, hmac: 1 };
        var typedArrayLength = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), 'length').get;
        var brands = [
            ['Date', function (o) { Date.prototype.getTime.call(o); }],
            ['Map', function (o) { Map.prototype.has.call(o, 0); }],
            ['Set', function (o) { Set.prototype.has.call(o, 0); }],
            ['WeakMap', function (o) { WeakMap.prototype.has.call(o, {}); }],
            ['WeakSet', function (o) { WeakSet.prototype.has.call(o, {}); }],
            ['ArrayBuffer', function (o) { Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'byteLength').get.call(o); }],
            ['TypedArray', function (o) { typedArrayLength.call(o); }],
            ['DataView', function (o) { Object.getOwnPropertyDescriptor(DataView.prototype, 'byteLength').get.call(o); }],
            ['RegExp', function (o) { Object.getOwnPropertyDescriptor(RegExp.prototype, 'source').get.call(o); if (o === RegExp.prototype) throw 0; }],
            ['Promise', function (o) { Promise.prototype.then.call(o); }],
        ];
        var count = walk(extra, function (path, o) {
            if (fresh[path.split('.')[0]]) return;
            if (!Object.isFrozen(o)) found.push('not frozen: ' + path);
            for (var i = 0; i < brands.length; i++) {
                try { brands[i][1](o); found.push(brands[i][0] + ' state: ' + path); } catch (e) {}
            }
        });
        marks.push(String(count));"#;
    for runtime in BOTH {
        let code = function_code(runtime, "", body);
        let f = Function::compile("audit", runtime, &code, vec![store("settings", &[])], walking_limits()).unwrap();
        let inv = f.viewer_request(&request("GET", "/", &[])).unwrap_or_else(|e| panic!("{runtime}: {e}"));
        let ViewerRequestOutcome::Continue { request, .. } = inv.outcome else { panic!("expected the request") };
        let found = request.headers.get("x-found").unwrap_or_default();
        let walked: usize = request.headers.get("x-marks").unwrap_or_default().parse().unwrap();
        assert!(found.is_empty(), "{runtime}: {found}");
        assert!(walked > 500, "{runtime}: the walk reached only {walked} objects");
    }
}
