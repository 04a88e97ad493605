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
                 c.toString('hex'), Buffer.byteLength('é'), Buffer.alloc(3, 'ab').toString(), b.slice(1, 3).toString('latin1'),\
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
            "\u{c3}\u{a9}",
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
