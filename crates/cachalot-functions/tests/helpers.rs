//! The helper modules: crypto, querystring, String byte helpers, Buffer, the key value store.

mod common;

use cachalot_functions::{Body, Function, Runtime, ViewerRequestOutcome};
use common::{BOTH, limits, request, store};
use serde_json::{Value, json};

/// Runs `body` (statements ending in `return <value>;`) and returns the value as JSON.
fn eval(
    runtime: Runtime,
    prologue: &str,
    body: &str,
    stores: Vec<std::sync::Arc<cachalot_functions::KeyValueStore>>,
) -> Value {
    let code = format!(
        "{prologue}\nasync function compute(event) {{ {body} }}\n\
         async function handler(event) {{ var v = await compute(event); return {{ statusCode: 200, body: JSON.stringify(v) }}; }}"
    );
    let code = if runtime == Runtime::Js1 { code.replace("async ", "").replace("await ", "") } else { code };
    let f = Function::compile("helpers", runtime, &code, stores, limits()).unwrap_or_else(|e| panic!("{e}"));
    match f.viewer_request(&request("GET", "/p?a=1&b=x%20y&a=2", &[])).unwrap_or_else(|e| panic!("{e}")).outcome {
        ViewerRequestOutcome::Respond(r) => match r.body {
            Some(Body::Text(t)) => serde_json::from_str(&t).unwrap(),
            other => panic!("unexpected body {other:?}"),
        },
        other => panic!("unexpected outcome {other:?}"),
    }
}

fn both(body: &str) -> Value {
    let one = eval(Runtime::Js1, "", body, Vec::new());
    let two = eval(Runtime::Js2, "", body, Vec::new());
    assert_eq!(one, two, "runtimes disagree on: {body}");
    one
}

#[test]
fn crypto_hashes_and_hmacs_like_node() {
    let v = both(
        "var c = require('crypto'); return [\
           c.createHash('md5').update('abc').digest('hex'),\
           c.createHash('sha1').update('abc').digest('base64'),\
           c.createHash('sha256').update('a').update('bc').digest('hex'),\
           c.createHmac('sha256', 'Jefe').update('what do ya want for nothing?').digest('hex'),\
           c.createHash('sha256').update('\\u00e9').digest('base64url')];",
    );
    assert_eq!(
        v,
        json!([
            "900150983cd24fb0d6963f7d28e17f72",
            "qZk+NkcGgWq6PiVxeFDCbJzQ2J0=",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            "SplVfkAzw1Od4utlRyAXytX5VX96BiWgnxw_biumnEw"
        ])
    );
    let e = both("try { require('crypto').createHash('sha512'); return 'no error'; } catch (e) { return e.message; }");
    assert_eq!(e, json!("Digest method not supported"));
}

#[test]
fn binary_digests_chain_into_hmac_keys_on_both_runtimes() {
    // SigV4-style key derivation: the raw digest of one step keys the next.
    let body = "var c = require('crypto');\
        var k1 = c.createHmac('sha256', 'AWS4secret').update('20240101').digest();\
        var k2 = c.createHmac('sha256', k1).update('us-east-1').digest();\
        return c.createHmac('sha256', k2).update('s3').digest('hex');";
    // Computed independently with Python's hmac module.
    assert_eq!(both(body), json!("cbe70d01f778c4b03fe5ae06db5365646d97220f864553b9602df9b44a4d6609"));
}

#[test]
fn querystring_follows_node() {
    let v = both(
        "var qs = require('querystring'); return [\
           qs.parse('name=value&abc=xyz&abc=123&plus=a+b&pct=%E2%82%AC&bad=%E2%82&empty&=v'),\
           qs.stringify({ name: 'value', abc: ['xyz', '123'], anotherName: '', n: 5, u: undefined, s: 'a b&c' }),\
           qs.escape('a b/ü'), qs.unescape('a%20b%zz'), qs.decode === qs.parse,\
           qs.parse('a:1;b:2', ';', ':'), Object.keys(qs.parse('a=1&b=2&c=3', null, null, { maxKeys: 2 }))];",
    );
    assert_eq!(
        v,
        json!([
            {"name": "value", "abc": ["xyz", "123"], "plus": "a b", "pct": "€", "bad": "\u{fffd}", "empty": "", "": "v"},
            "name=value&abc=xyz&abc=123&anotherName=&n=5&u=&s=a%20b%26c",
            "a%20b%2F%C3%BC",
            "a b%zz",
            true,
            {"a": "1", "b": "2"},
            ["a", "b"]
        ])
    );
}

#[test]
fn string_byte_helpers_exist_only_in_js1() {
    let v = eval(
        Runtime::Js1,
        "",
        "var b = String.bytesFrom('68656c6c6f', 'hex');\
         return [b, String.bytesFrom([104, 105]), String.bytesFrom('aGk=', 'base64'),\
                 '\\u00e9'.toUTF8(), '\\u00c3\\u00a9'.fromUTF8(), '\\u0100'.toBytes(), 'abc'.toBytes(1), 'abc'.fromBytes(0, 2),\
                 '\\u00ff'.fromUTF8()];",
        Vec::new(),
    );
    assert_eq!(v, json!(["hello", "hi", "hi", "\u{c3}\u{a9}", "é", null, "bc", "ab", null]));
    let v = eval(Runtime::Js2, "", "return [typeof String.bytesFrom, typeof ''.toUTF8, typeof Buffer];", Vec::new());
    assert_eq!(v, json!(["undefined", "undefined", "function"]));
}

#[test]
fn buffer_covers_the_common_node_methods_in_js2() {
    let v = eval(
        Runtime::Js2,
        "",
        "const b = Buffer.from('héllo');\
         const c = require('crypto').createHash('sha1').update('abc').digest();\
         return [b.length, b.toString('hex'), b.toString('base64'), Buffer.from('aGk', 'base64').toString(),\
                 Buffer.concat([Buffer.from('a'), Buffer.from([98, 99])]).toString(), Buffer.isBuffer(c), c.length,\
                 c.toString('hex'), Buffer.byteLength('é'), Buffer.alloc(3, 'ab').toString(), b.subarray(1, 3).toString('hex'),\
                 Buffer.from('abc').equals(Buffer.from('abc')), require('buffer').Buffer === Buffer];",
        Vec::new(),
    );
    assert_eq!(
        v,
        json!([
            6,
            "68c3a96c6c6f",
            "aMOpbGxv",
            "hi",
            "abc",
            true,
            20,
            "a9993e364706816aba3e25717850c26c9cd0d89d",
            2,
            "aba",
            "c3a9",
            true,
            true
        ])
    );
}

#[test]
fn key_value_store_get_exists_and_meta() {
    let kvs = store("config", &[("greeting", "héllo"), ("settings", "{\"ttl\": 60}")]);
    let v = eval(
        Runtime::Js2,
        "import cf from 'cloudfront';\nconst kvs = cf.kvs();",
        "const missing = await kvs.get('nope').then(() => 'found', (e) => e.message);\
         const bytes = await kvs.get('greeting', { format: 'bytes' });\
         const meta = await kvs.meta();\
         return [await kvs.get('greeting'), (await kvs.get('settings', { format: 'json' })).ttl, bytes.length,\
                 await kvs.exists('greeting'), await kvs.exists('nope'), missing, meta.keyCount,\
                 typeof meta.creationDateTime, cf.kvs('config-id') === kvs, cf.kvs('config') === kvs];",
        vec![kvs],
    );
    assert_eq!(v, json!(["héllo", 60, 6, true, false, "KeyNotFound: nope", 2, "string", true, true]));
    let v = eval(
        Runtime::Js2,
        "import cf from 'cloudfront';",
        "try { cf.kvs(); return 'no error'; } catch (e) { return e.message; }",
        Vec::new(),
    );
    assert_eq!(v, json!("no key value store is associated with this function"));
}

#[test]
fn the_event_has_cloudfronts_shape() {
    let v = both(
        "var r = event.request; return [event.version, event.context.eventType, event.context.distributionId, event.viewer.ip,\
           r.method, r.uri, r.querystring.a, r.querystring.b.value, r.rawQueryString(), Object.keys(r.cookies).length];",
    );
    assert_eq!(
        v,
        json!([
            "1.0", "viewer-request", "E1EXAMPLE", "198.51.100.7", "GET", "/p",
            {"value": "1", "multiValue": [{"value": "1"}, {"value": "2"}]}, "x%20y", "a=1&b=x%20y&a=2", 0
        ])
    );
}

#[test]
fn modern_syntax_runs_on_js2() {
    let v = eval(
        Runtime::Js2,
        "",
        "const { a = 1, ...rest } = { b: 2 }; class P { #x = 3; get x() { return this.#x; } }\
         const m = new Map([[1, 'one']]); let s = 0; for (const [k] of m) s += k;\
         return [a, rest, new P().x, s, [1, [2, [3]]].flat(2), 2 ** 10, 'a-b'.replaceAll('-', '+'), await Promise.resolve(7), null ?? 'd', ({}).x?.y];",
        Vec::new(),
    );
    assert_eq!(v, json!([1, {"b": 2}, 3, 1, [1, 2, 3], 1024, "a+b", 7, "d", null]));
    for runtime in BOTH {
        let v = eval(runtime, "", "var f = (x, ...r) => `${x}:${r.length}`; return f(1, 2, 3);", Vec::new());
        assert_eq!(v, json!("1:2"));
    }
}

#[test]
fn modules_import_in_every_form() {
    // Default, named (renamed), namespace and combined imports of the four modules bind the
    // same objects `require` returns; the module object is each module's default export.
    let prologue = "import crypto, { createHash, createHmac as hmac } from 'crypto';\n\
                    import * as qs from 'querystring';\n\
                    import { parse, stringify as encode } from 'querystring';\n\
                    import buffer, { Buffer as B } from 'buffer';\n\
                    import cf, { kvs } from 'cloudfront';\n\
                    import 'crypto';";
    let v = eval(
        Runtime::Js2,
        prologue,
        "return [\
           crypto === require('crypto'), createHash === crypto.createHash, hmac === crypto.createHmac,\
           createHash('sha256').update('a').digest('hex').slice(0, 8),\
           qs === require('querystring'), parse('x=1&x=2').x, encode({ a: 'b c' }),\
           buffer.Buffer === Buffer, B === Buffer, B.from('hi').toString('hex'),\
           typeof cf.kvs, kvs === cf.kvs, await kvs().get('k')];",
        vec![store("s", &[("k", "v")])],
    );
    assert_eq!(
        v,
        json!([true, true, true, "ca978112", true, ["1", "2"], "a=b%20c", true, true, "6869", "function", true, "v"])
    );
}

/// Every API AWS's "JavaScript runtime 2.0 features for CloudFront Functions" page lists
/// (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/functions-javascript-runtime-20.html).
const DOCUMENTED_2_0: &[&str] = &[
    // Globals.
    "globalThis",
    "decodeURI",
    "decodeURIComponent",
    "encodeURI",
    "encodeURIComponent",
    "isFinite",
    "isNaN",
    "parseFloat",
    "parseInt",
    "atob",
    "btoa",
    "console.log",
    // Object.
    "Object.create",
    "Object.defineProperties",
    "Object.defineProperty",
    "Object.freeze",
    "Object.getOwnPropertyDescriptor",
    "Object.getOwnPropertyDescriptors",
    "Object.getOwnPropertyNames",
    "Object.getPrototypeOf",
    "Object.isExtensible",
    "Object.isFrozen",
    "Object.isSealed",
    "Object.keys",
    "Object.preventExtensions",
    "Object.seal",
    "Object.assign",
    "Object.entries",
    "Object.values",
    "Object.is",
    "Object.setPrototypeOf",
    "Object.prototype.hasOwnProperty",
    "Object.prototype.isPrototypeOf",
    "Object.prototype.propertyIsEnumerable",
    "Object.prototype.toString",
    "Object.prototype.valueOf",
    // String.
    "String.fromCharCode",
    "String.fromCodePoint",
    "String.prototype.charAt",
    "String.prototype.concat",
    "String.prototype.indexOf",
    "String.prototype.lastIndexOf",
    "String.prototype.match",
    "String.prototype.replace",
    "String.prototype.search",
    "String.prototype.slice",
    "String.prototype.split",
    "String.prototype.substr",
    "String.prototype.substring",
    "String.prototype.toLowerCase",
    "String.prototype.trim",
    "String.prototype.toUpperCase",
    "String.prototype.codePointAt",
    "String.prototype.endsWith",
    "String.prototype.includes",
    "String.prototype.repeat",
    "String.prototype.startsWith",
    "String.prototype.padStart",
    "String.prototype.padEnd",
    "String.prototype.trimStart",
    "String.prototype.trimEnd",
    "String.prototype.replaceAll",
    // Number.
    "Number.EPSILON",
    "Number.MAX_SAFE_INTEGER",
    "Number.MIN_SAFE_INTEGER",
    "Number.MAX_VALUE",
    "Number.MIN_VALUE",
    "Number.NaN",
    "Number.NEGATIVE_INFINITY",
    "Number.POSITIVE_INFINITY",
    "Number.isFinite",
    "Number.isInteger",
    "Number.isNaN",
    "Number.isSafeInteger",
    "Number.parseInt",
    "Number.parseFloat",
    "Number.prototype.toExponential",
    "Number.prototype.toFixed",
    "Number.prototype.toPrecision",
    // Math.
    "Math.E",
    "Math.LN10",
    "Math.LN2",
    "Math.LOG10E",
    "Math.LOG2E",
    "Math.PI",
    "Math.SQRT1_2",
    "Math.SQRT2",
    "Math.abs",
    "Math.acos",
    "Math.acosh",
    "Math.asin",
    "Math.asinh",
    "Math.atan",
    "Math.atan2",
    "Math.atanh",
    "Math.cbrt",
    "Math.ceil",
    "Math.clz32",
    "Math.cos",
    "Math.cosh",
    "Math.exp",
    "Math.expm1",
    "Math.floor",
    "Math.fround",
    "Math.hypot",
    "Math.imul",
    "Math.log",
    "Math.log1p",
    "Math.log2",
    "Math.log10",
    "Math.max",
    "Math.min",
    "Math.pow",
    "Math.random",
    "Math.round",
    "Math.sign",
    "Math.sinh",
    "Math.sin",
    "Math.sqrt",
    "Math.tan",
    "Math.tanh",
    "Math.trunc",
    // Date, Function, RegExp, JSON.
    "Date.now",
    "Date.parse",
    "Date.UTC",
    "Function.prototype.apply",
    "Function.prototype.bind",
    "Function.prototype.call",
    "RegExp.prototype.exec",
    "RegExp.prototype.test",
    "RegExp.prototype.toString",
    "RegExp.prototype[Symbol.replace]",
    "RegExp.prototype[Symbol.split]",
    "JSON.parse",
    "JSON.stringify",
    // Array.
    "Array.isArray",
    "Array.of",
    "Array.prototype.concat",
    "Array.prototype.every",
    "Array.prototype.filter",
    "Array.prototype.forEach",
    "Array.prototype.indexOf",
    "Array.prototype.join",
    "Array.prototype.lastIndexOf",
    "Array.prototype.map",
    "Array.prototype.pop",
    "Array.prototype.push",
    "Array.prototype.reduce",
    "Array.prototype.reduceRight",
    "Array.prototype.reverse",
    "Array.prototype.shift",
    "Array.prototype.slice",
    "Array.prototype.some",
    "Array.prototype.sort",
    "Array.prototype.splice",
    "Array.prototype.unshift",
    "Array.prototype.copyWithin",
    "Array.prototype.fill",
    "Array.prototype.find",
    "Array.prototype.findIndex",
    "Array.prototype.includes",
    // Typed arrays, ArrayBuffer, DataView.
    "Float32Array",
    "Float64Array",
    "Int8Array",
    "Int16Array",
    "Int32Array",
    "Uint8Array",
    "Uint8ClampedArray",
    "Uint16Array",
    "Uint32Array",
    "Uint8Array.from",
    "Uint8Array.of",
    "Uint8Array.prototype.copyWithin",
    "Uint8Array.prototype.every",
    "Uint8Array.prototype.fill",
    "Uint8Array.prototype.filter",
    "Uint8Array.prototype.find",
    "Uint8Array.prototype.findIndex",
    "Uint8Array.prototype.forEach",
    "Uint8Array.prototype.includes",
    "Uint8Array.prototype.indexOf",
    "Uint8Array.prototype.join",
    "Uint8Array.prototype.lastIndexOf",
    "Uint8Array.prototype.map",
    "Uint8Array.prototype.reduce",
    "Uint8Array.prototype.reduceRight",
    "Uint8Array.prototype.reverse",
    "Uint8Array.prototype.some",
    "Uint8Array.prototype.set",
    "Uint8Array.prototype.slice",
    "Uint8Array.prototype.sort",
    "Uint8Array.prototype.subarray",
    "Uint8Array.prototype.toString",
    "ArrayBuffer.isView",
    "ArrayBuffer.prototype.slice",
    "DataView.prototype.getFloat32",
    "DataView.prototype.getFloat64",
    "DataView.prototype.getInt16",
    "DataView.prototype.getInt32",
    "DataView.prototype.getInt8",
    "DataView.prototype.getUint16",
    "DataView.prototype.getUint32",
    "DataView.prototype.getUint8",
    "DataView.prototype.setFloat32",
    "DataView.prototype.setFloat64",
    "DataView.prototype.setInt16",
    "DataView.prototype.setInt32",
    "DataView.prototype.setInt8",
    "DataView.prototype.setUint16",
    "DataView.prototype.setUint32",
    "DataView.prototype.setUint8",
    // Promise, Symbol, text codecs.
    "Promise.all",
    "Promise.allSettled",
    "Promise.any",
    "Promise.reject",
    "Promise.resolve",
    "Promise.race",
    "Promise.prototype.catch",
    "Promise.prototype.finally",
    "Promise.prototype.then",
    "Symbol.for",
    "Symbol.keyFor",
    "TextDecoder.prototype.decode",
    "TextEncoder.prototype.encode",
    "TextEncoder.prototype.encodeInto",
    // Error types.
    "Error",
    "EvalError",
    "InternalError",
    "RangeError",
    "ReferenceError",
    "SyntaxError",
    "TypeError",
    "URIError",
    // Buffer.
    "Buffer.alloc",
    "Buffer.allocUnsafe",
    "Buffer.byteLength",
    "Buffer.compare",
    "Buffer.concat",
    "Buffer.from",
    "Buffer.isBuffer",
    "Buffer.isEncoding",
    "Buffer.prototype.compare",
    "Buffer.prototype.copy",
    "Buffer.prototype.equals",
    "Buffer.prototype.fill",
    "Buffer.prototype.includes",
    "Buffer.prototype.indexOf",
    "Buffer.prototype.lastIndexOf",
    "Buffer.prototype.readInt8",
    "Buffer.prototype.readIntBE",
    "Buffer.prototype.readInt16BE",
    "Buffer.prototype.readInt32BE",
    "Buffer.prototype.readIntLE",
    "Buffer.prototype.readInt16LE",
    "Buffer.prototype.readInt32LE",
    "Buffer.prototype.readUInt8",
    "Buffer.prototype.readUIntBE",
    "Buffer.prototype.readUInt16BE",
    "Buffer.prototype.readUInt32BE",
    "Buffer.prototype.readUIntLE",
    "Buffer.prototype.readUInt16LE",
    "Buffer.prototype.readUInt32LE",
    "Buffer.prototype.readDoubleBE",
    "Buffer.prototype.readDoubleLE",
    "Buffer.prototype.readFloatBE",
    "Buffer.prototype.readFloatLE",
    "Buffer.prototype.subarray",
    "Buffer.prototype.swap16",
    "Buffer.prototype.swap32",
    "Buffer.prototype.swap64",
    "Buffer.prototype.toJSON",
    "Buffer.prototype.toString",
    "Buffer.prototype.write",
    "Buffer.prototype.writeInt8",
    "Buffer.prototype.writeIntBE",
    "Buffer.prototype.writeInt16BE",
    "Buffer.prototype.writeInt32BE",
    "Buffer.prototype.writeIntLE",
    "Buffer.prototype.writeInt16LE",
    "Buffer.prototype.writeInt32LE",
    "Buffer.prototype.writeUInt8",
    "Buffer.prototype.writeUIntBE",
    "Buffer.prototype.writeUInt16BE",
    "Buffer.prototype.writeUInt32BE",
    "Buffer.prototype.writeUIntLE",
    "Buffer.prototype.writeUInt16LE",
    "Buffer.prototype.writeUInt32LE",
    "Buffer.prototype.writeDoubleBE",
    "Buffer.prototype.writeDoubleLE",
    "Buffer.prototype.writeFloatBE",
    "Buffer.prototype.writeFloatLE",
    // Modules.
    "require('querystring').escape",
    "require('querystring').parse",
    "require('querystring').decode",
    "require('querystring').stringify",
    "require('querystring').encode",
    "require('querystring').unescape",
    "require('crypto').createHash",
    "require('crypto').createHmac",
];

/// Accessor properties the page lists, as `[object, name]`.
const DOCUMENTED_2_0_ACCESSORS: &[(&str, &str)] = &[
    ("RegExp.prototype", "global"),
    ("RegExp.prototype", "ignoreCase"),
    ("RegExp.prototype", "multiline"),
    ("RegExp.prototype", "source"),
    ("RegExp.prototype", "sticky"),
    ("RegExp.prototype", "flags"),
    ("TextDecoder.prototype", "encoding"),
    ("TextDecoder.prototype", "fatal"),
    ("TextDecoder.prototype", "ignoreBOM"),
];

#[test]
fn every_api_the_2_0_runtime_documents_is_present() {
    let paths = serde_json::to_string(DOCUMENTED_2_0).unwrap();
    let accessors = serde_json::to_string(DOCUMENTED_2_0_ACCESSORS).unwrap();
    // `require` and the `Symbol.*` keys need evaluating; there is no eval, so each path is
    // walked by name.
    let body = format!(
        "const missing = [];\
         const at = (path) => {{\
           const m = /^require\\('(\\w+)'\\)\\.(\\w+)$/.exec(path);\
           if (m) return require(m[1])[m[2]];\
           let v = globalThis;\
           for (const part of path.replace(/\\[Symbol\\.(\\w+)\\]/g, '.@$1').split('.')) {{\
             if (v === undefined || v === null) return undefined;\
             v = part.startsWith('@') ? v[Symbol[part.slice(1)]] : v[part];\
           }}\
           return v;\
         }};\
         for (const path of {paths}) if (at(path) === undefined) missing.push(path);\
         for (const [owner, name] of {accessors}) {{\
           const d = Object.getOwnPropertyDescriptor(at(owner), name);\
           if (!d || typeof d.get !== 'function') missing.push(owner + '.' + name);\
         }}\
         return missing;"
    );
    assert_eq!(eval(Runtime::Js2, "", &body, Vec::new()), json!([]));
}

/// The global object holds ECMAScript's standard built-ins, the globals CloudFront documents
/// for the runtime, and nothing else (no engine extras such as V8-style error hooks, web APIs,
/// or proposals no ECMAScript edition has taken).
#[test]
fn nothing_undocumented_is_added() {
    const ECMASCRIPT: &[&str] = &[
        "AggregateError",
        "Array",
        "ArrayBuffer",
        "Atomics",
        "BigInt",
        "BigInt64Array",
        "BigUint64Array",
        "Boolean",
        "DataView",
        "Date",
        "Error",
        "EvalError",
        "Float16Array",
        "Float32Array",
        "Float64Array",
        "Function",
        "Infinity",
        "Int16Array",
        "Int32Array",
        "Int8Array",
        "Iterator",
        "JSON",
        "Map",
        "Math",
        "NaN",
        "Number",
        "Object",
        "Promise",
        "Proxy",
        "RangeError",
        "ReferenceError",
        "Reflect",
        "RegExp",
        "Set",
        "SharedArrayBuffer",
        "String",
        "Symbol",
        "SyntaxError",
        "TypeError",
        "URIError",
        "Uint16Array",
        "Uint32Array",
        "Uint8Array",
        "Uint8ClampedArray",
        "WeakMap",
        "WeakSet",
        "decodeURI",
        "decodeURIComponent",
        "encodeURI",
        "encodeURIComponent",
        "escape",
        "globalThis",
        "isFinite",
        "isNaN",
        "parseFloat",
        "parseInt",
        "undefined",
        "unescape",
    ];
    let documented_1 = ["InternalError", "MemoryError", "console", "require"];
    let documented_2 = ["InternalError", "console", "require", "Buffer", "TextEncoder", "TextDecoder", "atob", "btoa"];
    let body = "return [Object.getOwnPropertyNames(globalThis).sort(),\
                 ['fileName', 'lineNumber', 'columnNumber'].filter((n) => n in Function.prototype),\
                 ['prepareStackTrace', 'stackTraceLimit', 'captureStackTrace'].filter((n) => n in Error)];";
    for (runtime, documented) in [(Runtime::Js1, &documented_1[..]), (Runtime::Js2, &documented_2[..])] {
        let v = eval(runtime, "", body, Vec::new());
        let globals: Vec<&str> = v[0].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
        let extra: Vec<&&str> = globals.iter().filter(|n| !ECMASCRIPT.contains(n) && !documented.contains(n)).collect();
        assert!(extra.is_empty(), "{runtime}: undocumented globals {extra:?}");
        let absent: Vec<&&str> = documented.iter().filter(|n| !globals.contains(n)).collect();
        assert!(absent.is_empty(), "{runtime}: documented globals missing {absent:?}");
        assert_eq!(v[1], json!([]), "{runtime}: QuickJS's function metadata");
        assert_eq!(v[2], json!([]), "{runtime}: V8-style error hooks");
    }
}

#[test]
fn text_codecs_and_base64_globals_follow_the_web_platform() {
    let v = eval(
        Runtime::Js2,
        "",
        "const e = new TextEncoder(); const d = new TextDecoder();\
         const into = new Uint8Array(4); const r = e.encodeInto('aé€', into);\
         const s = new TextDecoder('utf-8'); const part = s.decode(new Uint8Array([0xe2, 0x82]), { stream: true });\
         let fatal; try { new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array([0xff])); } catch (x) { fatal = x.name; }\
         let label; try { new TextDecoder('latin1'); } catch (x) { label = x.name; }\
         let bad; try { atob('a'); } catch (x) { bad = x.name; }\
         let wide; try { btoa('€'); } catch (x) { wide = x.name; }\
         return [Array.from(e.encode('h\\u00e9\\ud800')), e.encoding, [r.read, r.written, Array.from(into)],\
                 d.decode(new Uint8Array([0xef, 0xbb, 0xbf, 0x68, 0xff])), d.encoding, d.fatal, d.ignoreBOM,\
                 part + s.decode(new Uint8Array([0xac])), fatal, label,\
                 btoa('h\\u00e9llo'), atob(' aOls\\nbG8= '), bad, wide];",
        Vec::new(),
    );
    assert_eq!(
        v,
        json!([
            [104, 195, 169, 239, 191, 189],
            "utf-8",
            [2, 3, [97, 195, 169, 0]],
            "h\u{fffd}",
            "utf-8",
            false,
            false,
            "€",
            "TypeError",
            "RangeError",
            "aOlsbG8=",
            "h\u{e9}llo",
            "TypeError",
            "TypeError"
        ])
    );
}

#[test]
fn buffer_reads_writes_searches_and_copies_like_node() {
    let v = eval(
        Runtime::Js2,
        "",
        "const b = Buffer.alloc(16);\
         const ends = [b.writeUInt8(255, 0), b.writeInt8(-2, 1), b.writeUInt16BE(0x1234, 2), b.writeInt16LE(-2, 4),\
                       b.writeUInt32LE(0xdeadbeef, 6), b.writeIntBE(-123456, 10, 3), b.writeUIntLE(0x0a0b0c, 13, 3)];\
         const reads = [b.readUInt8(0), b.readInt8(1), b.readUInt16BE(2), b.readInt16LE(4), b.readUInt32LE(6).toString(16),\
                        b.readIntBE(10, 3), b.readUIntLE(13, 3), b.readUIntBE(13, 3), b.readInt32BE(6)];\
         const f = Buffer.alloc(12); f.writeDoubleLE(1.5, 0); f.writeFloatBE(-0.25, 8);\
         let range; try { b.readUInt32BE(14); } catch (x) { range = x.name; }\
         let value; try { b.writeUInt8(256); } catch (x) { value = x.name; }\
         const h = Buffer.from('hello, hello');\
         const target = Buffer.alloc(5, '.');\
         const copied = h.copy(target, 1, 7, 10);\
         const swap = Buffer.from([1, 2, 3, 4]).swap16().toString('hex') + '/' + Buffer.from([1, 2, 3, 4]).swap32().toString('hex');\
         let odd; try { Buffer.from([1, 2, 3]).swap16(); } catch (x) { odd = x.name; }\
         return [ends, reads, [f.readDoubleLE(0), f.readFloatBE(8)], range, value,\
                 [h.indexOf('hello'), h.indexOf('hello', 1), h.lastIndexOf('hello'), h.indexOf(0x2c), h.indexOf(Buffer.from('lo')),\
                  h.includes('xyz'), h.lastIndexOf('l', -3), h.indexOf('6c6c', 'hex')],\
                 [copied, target.toString()], swap, odd,\
                 [h.compare(Buffer.from('hello'), 0, 5, 7, 12), h.compare(Buffer.from('z')), Buffer.from(new String('hi')).toString(),\
                  Buffer.from({ valueOf() { return 'abc'; } }).toString(), Buffer.alloc(4, Buffer.from([1, 2])).toString('hex')],\
                 h.subarray(0, 5) instanceof Buffer, h.write('\\u20ac\\u20ac', 10)];",
        Vec::new(),
    );
    assert_eq!(
        v,
        json!([
            [1, 2, 4, 6, 10, 13, 16],
            [255, -2, 0x1234, -2, "deadbeef", -123456, 0x0a0b0c, 0x0c0b0a, -272716322],
            [1.5, -0.25],
            "RangeError",
            "RangeError",
            [0, 7, 7, 5, 3, false, 9, 2],
            [3, ".hel."],
            "02010403/04030201",
            "RangeError",
            [0, -1, "hi", "abc", "01020102"],
            true,
            0
        ])
    );
    // Only the encodings CloudFront documents (utf8, hex, base64, base64url).
    let v = eval(
        Runtime::Js2,
        "",
        "const out = []; for (const enc of ['latin1', 'binary', 'ascii', 'utf16le']) { try { Buffer.from('a', enc); out.push(enc); } catch (e) { out.push(e.name); } }\
         return [out, Buffer.isEncoding('base64url'), Buffer.isEncoding('latin1')];",
        Vec::new(),
    );
    assert_eq!(v, json!([["TypeError", "TypeError", "TypeError", "TypeError"], true, false]));
}
