//! Hostile and broken code: each case fails with the right kind, quickly, and the runtime keeps working.

mod common;

use cachalot_functions::{CompileError, Function, FunctionError, FunctionErrorKind, Runtime, ViewerRequestOutcome};
use common::{BOTH, compile, limits, request, source};
use std::sync::Arc;

/// Runs `name`'s handler once and returns its failure.
fn failure(name: &str, runtime: Runtime) -> FunctionError {
    let f = compile(name, runtime);
    match f.viewer_request(&request("GET", "/", &[])) {
        Ok(inv) => panic!("{name} ({runtime}) succeeded: {:?}", inv.outcome),
        Err(e) => e,
    }
}

/// A normal function still works on this thread afterwards.
fn still_works(runtime: Runtime) {
    let f = compile("true-client-ip.js", runtime);
    let inv = f.viewer_request(&request("GET", "/after", &[])).expect("a normal function runs after a hostile one");
    assert!(matches!(inv.outcome, ViewerRequestOutcome::Continue { .. }));
}

fn compile_error(name: &str, runtime: Runtime) -> CompileError {
    match Function::compile(name, runtime, &source(name), Vec::new(), limits()) {
        Ok(_) => panic!("{name} ({runtime}) compiled"),
        Err(e) => e,
    }
}

#[test]
fn an_endless_loop_is_throttled() {
    for runtime in BOTH {
        let e = failure("hostile/endless-loop.js", runtime);
        assert_eq!(e.kind, FunctionErrorKind::Throttled, "{e}");
        assert_eq!(e.compute_utilization, 100);
        assert_eq!(e.kind.status(), 503);
        assert_eq!(e.kind.x_cache(), "FunctionThrottledError from cloudfront");
        still_works(runtime);
    }
}

#[test]
fn a_memory_bomb_fails_with_an_execution_error() {
    for runtime in BOTH {
        let e = failure("hostile/memory-bomb.js", runtime);
        assert_eq!(e.kind, FunctionErrorKind::Execution, "{e}");
        assert!(e.message.contains("memory limit"), "{e}");
        still_works(runtime);
    }
}

#[test]
fn deep_recursion_fails_with_an_execution_error() {
    for runtime in BOTH {
        let e = failure("hostile/deep-recursion.js", runtime);
        assert_eq!(e.kind, FunctionErrorKind::Execution, "{e}");
        assert!(e.message.to_lowercase().contains("stack"), "{e}");
        still_works(runtime);
    }
}

#[test]
fn a_huge_body_fails_validation() {
    for runtime in BOTH {
        let e = failure("hostile/huge-output.js", runtime);
        assert_eq!(e.kind, FunctionErrorKind::Validation, "{e}");
        assert_eq!(e.kind.status(), 502);
        assert!(e.message.contains("over the 40960-byte limit"), "{e}");
        still_works(runtime);
    }
}

#[test]
fn results_too_large_to_write_fail_with_the_memory_limit() {
    // Small in the engine, enormous written out: a sparse array and one string repeated.
    let cases = [
        "function handler(e) { var a = []; a.length = 2147483647; return { statusCode: 200, body: a }; }",
        "function handler(e) { var s = 'x'.repeat(500000); var a = []; for (var i = 0; i < 2000; i++) a.push(s); return { a: a }; }",
    ];
    for code in cases {
        for runtime in BOTH {
            let f = Function::compile("big-result", runtime, code, Vec::new(), limits()).unwrap();
            let e = f.viewer_request(&request("GET", "/", &[])).unwrap_err();
            assert_eq!(e.kind, FunctionErrorKind::Execution, "{code}: {e}");
            assert!(e.message.contains("memory limit"), "{code}: {e}");
            still_works(runtime);
        }
    }
}

#[test]
fn code_run_while_the_result_is_read_stays_bounded() {
    // Getters and toJSON run while the result is read: they are under the same time budget and
    // their errors are execution errors, as they were under JSON.stringify.
    let looping = "function handler(e) { var r = e.request; Object.defineProperty(r, 'uri', { get: function () { for (;;) {} }, enumerable: true }); return r; }";
    let throwing = "function handler(e) { var r = e.request; r.headers.x = { toJSON: function () { throw new RangeError('no'); } }; return r; }";
    for runtime in BOTH {
        let f = Function::compile("getter", runtime, looping, Vec::new(), limits()).unwrap();
        assert_eq!(f.viewer_request(&request("GET", "/", &[])).unwrap_err().kind, FunctionErrorKind::Throttled);
        let f = Function::compile("to-json", runtime, throwing, Vec::new(), limits()).unwrap();
        let e = f.viewer_request(&request("GET", "/", &[])).unwrap_err();
        assert_eq!(e.kind, FunctionErrorKind::Execution, "{e}");
        assert!(e.message.starts_with("RangeError: no (function.js:1:"), "{e}");
        still_works(runtime);
    }
}

#[test]
fn huge_logs_are_truncated_at_10_kb() {
    for runtime in BOTH {
        let f = compile("hostile/huge-log.js", runtime);
        let inv = f.viewer_request(&request("GET", "/", &[])).unwrap();
        let total: usize = inv.logs.iter().map(String::len).sum();
        assert!(total <= 10 * 1024, "{total} bytes of logs kept");
        assert!(inv.logs.len() >= 9, "the first lines are kept");
        assert!(inv.logs[0].starts_with("0 yyy"));
        still_works(runtime);
    }
}

#[test]
fn a_syntax_error_is_refused_at_compile_time_with_its_line() {
    for runtime in BOTH {
        match compile_error("hostile/syntax-error.js", runtime) {
            CompileError::Syntax { message } => assert!(message.contains("function.js:3"), "{message}"),
            other => panic!("expected a syntax error, got {other}"),
        }
        still_works(runtime);
    }
}

#[test]
fn eval_and_the_function_constructor_throw() {
    for runtime in BOTH {
        let e = failure("hostile/eval.js", runtime);
        assert_eq!(e.kind, FunctionErrorKind::Execution, "{e}");
        assert!(e.message.contains("eval is not defined"), "{e}");
        let e = failure("hostile/function-constructor.js", runtime);
        assert_eq!(e.kind, FunctionErrorKind::Execution, "{e}");
        assert!(e.message.starts_with("EvalError: Code generation from strings"), "{e}");
        still_works(runtime);
    }
}

#[test]
fn const_is_refused_under_js1_only() {
    match compile_error("hostile/const-under-js1.js", Runtime::Js1) {
        CompileError::Unsupported { message } => {
            assert!(message.contains("`const` is not supported by cloudfront-js-1.0 (line 2"), "{message}")
        }
        other => panic!("expected an unsupported-feature error, got {other}"),
    }
    let f = compile("hostile/const-under-js1.js", Runtime::Js2);
    assert!(f.viewer_request(&request("GET", "/", &[])).is_ok());
}

#[test]
fn nothing_one_request_stores_is_seen_by_the_next() {
    for runtime in BOTH {
        let f = compile("hostile/global-state.js", runtime);
        for _ in 0..3 {
            let inv = f.viewer_request(&request("GET", "/", &[])).unwrap();
            let ViewerRequestOutcome::Continue { request, .. } = inv.outcome else { panic!("expected the request") };
            assert_eq!(request.headers.get("x-counter"), Some("1"), "{runtime}: top-level state was shared");
            assert_eq!(request.headers.get("x-blocked"), Some("global:TypeError,proto:TypeError,json:TypeError"));
        }
    }
}

#[test]
fn each_request_gets_a_pristine_event() {
    // Changes one request makes to its event (values, added properties, the rawQueryString
    // method) must not show in the next request's event.
    let code = r#"
        function handler(event) {
            var r = event.request;
            var seen = [
                r.headers['x-mark'] ? 'header' : '-',
                r.marker ? 'prop' : '-',
                r.rawQueryString.marker ? 'method' : '-',
                Object.keys(r.querystring).join('|'),
                r.headers.accept.value,
                Object.keys(event).join('|'),
            ].join(',');
            r.headers['x-mark'] = { value: 'set' };
            r.headers.accept.value = 'changed';
            r.marker = true;
            try { r.rawQueryString.marker = true; } catch (e) {}
            r.querystring.extra = { value: '1' };
            event.extra = 1;
            r.headers['x-seen'] = { value: seen };
            delete r.headers['x-mark'];
            return r;
        }"#;
    for runtime in BOTH {
        let f = Function::compile("pristine", runtime, code, Vec::new(), limits()).unwrap();
        for _ in 0..3 {
            let inv = f.viewer_request(&request("GET", "/p?a=1", &[("accept", "text/html")])).unwrap();
            let ViewerRequestOutcome::Continue { request, .. } = inv.outcome else { panic!("expected the request") };
            assert_eq!(
                request.headers.get("x-seen"),
                Some("-,-,-,a,text/html,version|context|viewer|request"),
                "{runtime}: the event kept changes from an earlier request"
            );
            assert_eq!(request.headers.get("accept"), Some("changed"));
        }
    }
}

#[test]
fn a_function_recovers_after_being_throttled_or_running_out_of_memory() {
    let code = r#"
        function handler(event) {
            var r = event.request;
            if (r.uri === '/loop') { while (true) {} }
            if (r.uri === '/oom') { var a = []; for (;;) a.push(new Array(10000).join('z') + a.length); }
            if (r.uri === '/throw') { throw new Error('boom'); }
            if (r.uri === '/pending') { new Promise(function () {}); Promise.resolve().then(function () { for (;;) {} }); }
            return r;
        }"#;
    for runtime in BOTH {
        let f = Function::compile("flaky", runtime, code, Vec::new(), limits()).unwrap();
        let run = |uri: &str| f.viewer_request(&request("GET", uri, &[]));
        assert_eq!(run("/loop").unwrap_err().kind, FunctionErrorKind::Throttled);
        assert!(run("/ok").is_ok());
        assert_eq!(run("/oom").unwrap_err().kind, FunctionErrorKind::Execution);
        assert!(run("/ok").is_ok());
        let e = run("/throw").unwrap_err();
        assert_eq!(e.kind, FunctionErrorKind::Execution);
        assert!(e.message.starts_with("Error: boom (function.js:6:"), "{e}");
        assert!(run("/ok").is_ok());
        assert_eq!(run("/pending").unwrap_err().kind, FunctionErrorKind::Throttled);
        assert!(run("/ok").is_ok());
    }
}

#[test]
fn invalid_results_fail_validation() {
    let cases = [
        ("function handler(e) { }", "must return an object"),
        ("function handler(e) { e.request.method = 'POST'; return e.request; }", "method is read-only"),
        ("function handler(e) { e.request.headers.host = {value: 'x'}; return e.request; }", "read-only"),
        ("function handler(e) { e.request.headers['x-cache'] = {value: 'Hit'}; return e.request; }", "disallowed"),
        ("function handler(e) { e.request.uri = 'no-slash'; return e.request; }", "start with '/'"),
        ("function handler(e) { return {statusCode: 'abc'}; }", "statusCode"),
        ("function handler(e) { var o = {}; o.self = o; return o; }", "circular"),
    ];
    for (code, expected) in cases {
        let f = Function::compile("invalid", Runtime::Js2, code, Vec::new(), limits()).unwrap();
        let e = f.viewer_request(&request("GET", "/", &[("host", "example.com")])).unwrap_err();
        let accepted = if expected == "circular" {
            e.kind == FunctionErrorKind::Execution || e.kind == FunctionErrorKind::Validation
        } else {
            e.kind == FunctionErrorKind::Validation && e.message.contains(expected)
        };
        assert!(accepted, "{code}: {e}");
    }
}

#[test]
fn compile_refuses_oversized_code_and_missing_handlers() {
    let big = format!("function handler(e) {{ return e.request; }} // {}", "x".repeat(10 * 1024));
    assert!(matches!(
        Function::compile("big", Runtime::Js2, &big, Vec::new(), limits()),
        Err(CompileError::SizeLimitExceeded { .. })
    ));
    assert!(matches!(
        Function::compile("none", Runtime::Js2, "function other() {}", Vec::new(), limits()),
        Err(CompileError::MissingHandler)
    ));
}

#[test]
fn one_function_runs_on_many_threads() {
    let f: Arc<Function> = compile("spa-rewrite.js", Runtime::Js2);
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let f = f.clone();
            std::thread::spawn(move || {
                let target = format!("/t{i}/");
                for _ in 0..50 {
                    let inv = f.viewer_request(&request("GET", &target, &[])).unwrap();
                    let ViewerRequestOutcome::Continue { request, .. } = inv.outcome else {
                        panic!("expected a request")
                    };
                    assert_eq!(request.uri, format!("/t{i}/index.html"));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("thread finished");
    }
}

#[test]
fn date_is_fixed_for_the_whole_invocation_and_timers_are_absent() {
    let code = r#"
        function handler(event) {
            var first = Date.now();
            for (var i = 0; i < 20000; i++) {}
            var r = event.request;
            r.headers['x-same'] = { value: String(first === Date.now() && first === new Date().getTime()) };
            r.headers['x-timers'] = { value: typeof setTimeout + ',' + typeof setInterval + ',' + typeof eval };
            r.headers['x-require'] = { value: typeof require('crypto').createHash + ',' + typeof require('querystring').parse };
            try { require('fs'); } catch (e) { r.headers['x-fs'] = { value: e.message }; }
            return r;
        }"#;
    for runtime in BOTH {
        let f = Function::compile("date", runtime, code, Vec::new(), limits()).unwrap();
        let inv = f.viewer_request(&request("GET", "/", &[])).unwrap();
        let ViewerRequestOutcome::Continue { request, .. } = inv.outcome else { panic!("expected a request") };
        assert_eq!(request.headers.get("x-same"), Some("true"));
        assert_eq!(request.headers.get("x-timers"), Some("undefined,undefined,undefined"));
        assert_eq!(request.headers.get("x-require"), Some("function,function"));
        assert_eq!(request.headers.get("x-fs"), Some("Cannot find module 'fs'"));
    }
}

#[test]
fn garbage_from_earlier_requests_does_not_eat_the_next_requests_memory() {
    // Each call leaves ~800 KB of cyclic garbage (40% of the memory limit); the engine must collect it.
    let code = r#"
        function handler(event) {
            var big = { data: new Array(90000).fill(7) };
            big.self = big;
            var r = event.request;
            r.headers['x-size'] = { value: String(big.data.length) };
            return r;
        }"#;
    for runtime in BOTH {
        let f = Function::compile("cyclic", runtime, code, Vec::new(), limits()).unwrap();
        for i in 0..60 {
            let inv = f.viewer_request(&request("GET", "/", &[])).unwrap_or_else(|e| panic!("call {i}: {e}"));
            assert!(matches!(inv.outcome, ViewerRequestOutcome::Continue { .. }));
        }
    }
}

#[test]
fn code_escaping_the_wrapper_is_bounded_at_compile_time() {
    for escape in ["while (true) {}", "var a = []; for (;;) a.push(new Array(4096).fill(1));"] {
        let code = format!("function handler(e) {{ return e.request; }} }}); {escape} (function () {{");
        for runtime in BOTH {
            match Function::compile("escape", runtime, &code, Vec::new(), limits()) {
                Err(CompileError::Syntax { message }) => assert!(!message.is_empty()),
                Err(other) => panic!("unexpected error kind: {other}"),
                Ok(_) => panic!("code escaping the wrapper compiled"),
            }
            still_works(runtime);
        }
    }
}

#[test]
fn failures_do_not_rebuild_the_engine() {
    // A throttled, out-of-memory or throwing invocation keeps its thread's engine instance, so a
    // hostile function costs its own time budget per call and not the price of a new instance
    // (building and hardening one costs several budgets). Work left queued is discarded.
    let code = r#"
        async function handler(event) {
            var r = event.request;
            if (r.uri === '/loop') { for (;;) {} }
            if (r.uri === '/oom') { var a = []; for (;;) a.push(new Array(10000).join('z') + a.length); }
            if (r.uri === '/throw') { throw new Error('boom'); }
            if (r.uri === '/queued-loop') {
                var p = Promise.resolve();
                for (var i = 0; i < 1000; i++) p = p.then(function () { for (;;) {} });
                (async function () { await null; for (;;) {} })();
                for (;;) {}
            }
            if (r.uri === '/queued-throw') {
                Promise.resolve().then(function () { console.log('late'); });
                throw new Error('early');
            }
            return r;
        }"#;
    let f =
        Function::compile("hostile", Runtime::Js2, code, Vec::new(), cachalot_functions::Limits::default()).unwrap();
    assert_eq!(f.engine_instances_built(), 1, "compiling builds the compiling thread's instance");
    let run = |uri: &str| f.viewer_request(&request("GET", uri, &[]));
    for _ in 0..5 {
        assert_eq!(run("/loop").unwrap_err().kind, FunctionErrorKind::Throttled);
        assert_eq!(run("/oom").unwrap_err().kind, FunctionErrorKind::Execution);
        assert_eq!(run("/throw").unwrap_err().kind, FunctionErrorKind::Execution);
        assert_eq!(run("/queued-loop").unwrap_err().kind, FunctionErrorKind::Throttled);
        let e = run("/queued-throw").unwrap_err();
        assert!(e.message.contains("early"), "{e}");
        let ok = run("/ok").unwrap();
        assert!(ok.logs.is_empty(), "work queued by an earlier invocation ran: {:?}", ok.logs);
    }
    assert_eq!(f.engine_instances_built(), 1, "a failure rebuilt the engine");
}

#[test]
fn one_long_built_in_call_past_the_budget_is_throttled() {
    // One call into the engine's C code gives the interrupt handler no chance to stop it; it
    // still overruns CloudFront's budget (about 6.6 ms in an optimised build, against 1 ms).
    let code = "function handler(event) { var s = 'x'.repeat(1900000); return event.request; }";
    for runtime in BOTH {
        let f = Function::compile("repeat", runtime, code, Vec::new(), cachalot_functions::Limits::default()).unwrap();
        let e = f.viewer_request(&request("GET", "/", &[])).unwrap_err();
        assert_eq!(e.kind, FunctionErrorKind::Throttled, "{runtime}: {e}");
        assert_eq!(e.compute_utilization, 100);
    }
}

#[test]
fn error_positions_are_the_users() {
    // Line 1 shares its line with the engine's wrapper; the end of the file is followed by it.
    for runtime in BOTH {
        let code = "function handler(e) { throw new Error('line one'); }";
        let f = Function::compile("one-line", runtime, code, Vec::new(), limits()).unwrap();
        let e = f.viewer_request(&request("GET", "/", &[])).unwrap_err();
        // The engine points at `Error(`, column 33 of the user's line.
        assert_eq!(e.message, "Error: line one (function.js:1:33)", "{runtime}");

        let err = Function::compile("bad", runtime, "function handler(e) {\n  var = 1;\n}", Vec::new(), limits())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("SyntaxError: ") && !err.contains("SyntaxError: SyntaxError"), "{err}");
        assert!(err.ends_with("(function.js:2:7)"), "{runtime}: {err}");

        let err = Function::compile(
            "cut",
            runtime,
            "function handler(e) { return e.request; }\nvar x =",
            Vec::new(),
            limits(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.ends_with("(function.js:2:8)"), "{runtime}: a position past the end of the file: {err}");
    }
}
