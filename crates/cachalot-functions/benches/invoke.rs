//! Per-invocation cost of a small viewer-request function (Accept normalisation), both runtimes.
//!
//! Run: `cargo bench -p cachalot-functions --bench invoke`. Prints numbers; asserts nothing.

#![allow(clippy::disallowed_methods)] // a benchmark reads the clock

use cachalot_functions::{EventContext, Function, Limits, Request, Runtime, ViewerRequestEvent};
use std::time::{Duration, Instant};

const ITERATIONS: usize = 50_000;

fn event() -> ViewerRequestEvent {
    let headers: Vec<(&str, &[u8])> = vec![
        ("host", b"d111111abcdef8.cloudfront.net"),
        (
            "user-agent",
            b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
        ),
        ("accept", b"image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"),
        ("accept-encoding", b"gzip, deflate, br"),
        ("accept-language", b"en-GB,en;q=0.9"),
        ("referer", b"https://www.example.com/gallery"),
        ("cookie", b"session=abc123; theme=dark"),
    ];
    ViewerRequestEvent {
        context: EventContext {
            distribution_domain_name: "d111111abcdef8.cloudfront.net".into(),
            distribution_id: "E1EXAMPLE".into(),
            request_id: "4TyzHTaYWb1GX1qTfsHhEqV6HUDd_BzoBZnwfnvQc_1oF26ClkoUSEQ==".into(),
        },
        viewer_ip: "198.51.100.7".into(),
        request: Request::from_http("GET", "/images/cat.jpg?w=640", headers),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let event = event();
    let cases = [
        ("normalize-accept.js", include_str!("../../../examples/functions/normalize-accept.js")),
        ("identity (returns the request)", "function handler(event) { return event.request; }"),
    ];
    for (label, code) in cases {
        println!("{label}: {ITERATIONS} invocations per runtime, one thread");
        run(code, &event);
    }
    throttled(&event);
    floor();
}

/// What a function that always runs past its budget costs per invocation, in thread CPU time
/// (the budget itself is 1 ms), and how many engine instances it made the thread build.
fn throttled(event: &ViewerRequestEvent) {
    const CALLS: u32 = 200;
    let code = "function handler(event) { for (;;) {} }";
    let function = Function::compile("loop", Runtime::Js2, code, Vec::new(), Limits::default()).expect("compiles");
    let cpu = cpu_time::ThreadTime::now();
    for _ in 0..CALLS {
        let e = function.viewer_request(event).expect_err("throttled");
        assert_eq!(e.kind, cachalot_functions::FunctionErrorKind::Throttled);
    }
    println!(
        "endless loop (throttled, 1 ms budget): {CALLS} invocations, {:.2} ms of thread CPU per invocation, \
         {} engine instances built",
        cpu.elapsed().as_secs_f64() * 1e3 / f64::from(CALLS),
        function.engine_instances_built(),
    );
}

/// What the machine does right now with the same engine and no runtime around it: parse a
/// ~1 KB event with JSON.parse and serialise it back with JSON.stringify.
fn floor() {
    let json = r#"{"version":"1.0","context":{"distributionDomainName":"d111111abcdef8.cloudfront.net","distributionId":"E1EXAMPLE","eventType":"viewer-request","requestId":"4TyzHTaYWb1GX1qTfsHhEqV6HUDd_BzoBZnwfnvQc_1oF26ClkoUSEQ=="},"viewer":{"ip":"198.51.100.7"},"request":{"method":"GET","uri":"/images/cat.jpg","querystring":{"w":{"value":"640"}},"headers":{"host":{"value":"d111111abcdef8.cloudfront.net"},"user-agent":{"value":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"},"accept":{"value":"image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"},"accept-encoding":{"value":"gzip, deflate, br"},"accept-language":{"value":"en-GB,en;q=0.9"},"referer":{"value":"https://www.example.com/gallery"}},"cookies":{"session":{"value":"abc123"},"theme":{"value":"dark"}}}}"#;
    let rt = rquickjs::Runtime::new().expect("runtime");
    let ctx = rquickjs::Context::full(&rt).expect("context");
    ctx.with(|ctx| {
        let f: rquickjs::Function<'_> =
            ctx.eval("(function (s) { return JSON.stringify(JSON.parse(s).request); })").expect("compiles");
        for _ in 0..1000 {
            let _: String = f.call((json,)).expect("runs");
        }
        let t = Instant::now();
        for _ in 0..ITERATIONS {
            let _: String = f.call((json,)).expect("runs");
        }
        println!(
            "floor (bare QuickJS: JSON.parse of the event + JSON.stringify of the request): {:.2} µs",
            t.elapsed().as_secs_f64() * 1e6 / ITERATIONS as f64
        );
    });
}

fn run(code: &str, event: &ViewerRequestEvent) {
    let event = event.clone();
    for runtime in [Runtime::Js1, Runtime::Js2] {
        let started = Instant::now();
        let function = Function::compile("bench", runtime, code, Vec::new(), Limits::default()).expect("compiles");
        let compile_time = started.elapsed();

        // The first call on another thread builds that thread's engine instance.
        let f = function.clone();
        let e = event.clone();
        let cold = std::thread::spawn(move || {
            let t = Instant::now();
            f.viewer_request(&e).expect("runs");
            t.elapsed()
        })
        .join()
        .expect("thread ran");

        for _ in 0..1000 {
            function.viewer_request(&event).expect("runs");
        }
        let mut samples = Vec::with_capacity(ITERATIONS);
        let mut utilization = 0u64;
        let total = Instant::now();
        for _ in 0..ITERATIONS {
            let t = Instant::now();
            let inv = function.viewer_request(&event).expect("runs");
            samples.push(t.elapsed());
            utilization += u64::from(inv.compute_utilization);
        }
        let total = total.elapsed();
        samples.sort();
        println!(
            "  {runtime}: mean {:.2} µs, p50 {:.2} µs, p99 {:.2} µs, {:.0} calls/s; compile + first instance {:.0} µs, \
             first call on a new thread {:.0} µs, mean ComputeUtilization {:.1}",
            total.as_secs_f64() * 1e6 / ITERATIONS as f64,
            percentile(&samples, 0.5).as_secs_f64() * 1e6,
            percentile(&samples, 0.99).as_secs_f64() * 1e6,
            ITERATIONS as f64 / total.as_secs_f64(),
            compile_time.as_secs_f64() * 1e6,
            cold.as_secs_f64() * 1e6,
            utilization as f64 / ITERATIONS as f64,
        );
    }
}
