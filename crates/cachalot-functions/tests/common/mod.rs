//! Helpers shared by the integration tests: loading the example functions and building events.

#![allow(dead_code, unreachable_pub)]

use cachalot_functions::{
    EventContext, Function, KeyValueStore, Limits, Request, Response, Runtime, ViewerRequestEvent, ViewerResponseEvent,
};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub const BOTH: [Runtime; 2] = [Runtime::Js1, Runtime::Js2];

/// CloudFront's limits with a generous time budget: unoptimised test builds on a busy machine must
/// not turn a normal function into a throttled one (endless loops are throttled whatever the budget).
pub fn limits() -> Limits {
    Limits { time_budget: Duration::from_millis(250), ..Limits::default() }
}

pub fn functions_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/functions")
}

/// The source of test function `name`: from the test functions' folder, or from the
/// repository's `examples/functions` (the seed's `normalize-accept.js` is kept there once).
pub fn source(name: &str) -> String {
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/functions").join(name);
    let path = functions_dir().join(name);
    let path = if path.exists() { path } else { examples };
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn compile(name: &str, runtime: Runtime) -> Arc<Function> {
    compile_with(name, runtime, Vec::new())
}

pub fn compile_with(name: &str, runtime: Runtime, stores: Vec<Arc<KeyValueStore>>) -> Arc<Function> {
    Function::compile(name, runtime, &source(name), stores, limits())
        .unwrap_or_else(|e| panic!("{name} ({runtime}) does not compile: {e}"))
}

pub fn request(method: &str, target: &str, headers: &[(&str, &str)]) -> ViewerRequestEvent {
    let headers: Vec<(&str, &[u8])> = headers.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
    ViewerRequestEvent {
        context: EventContext {
            distribution_domain_name: "d111111abcdef8.cloudfront.net".into(),
            distribution_id: "E1EXAMPLE".into(),
            request_id: "test-request".into(),
        },
        viewer_ip: "198.51.100.7".into(),
        request: Request::from_http(method, target, headers),
    }
}

pub fn response_event(uri: &str, status: u16, headers: &[(&str, &str)]) -> ViewerResponseEvent {
    let req = request("GET", uri, &[("host", "example.com")]);
    let headers: Vec<(&str, &[u8])> = headers.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
    ViewerResponseEvent {
        context: req.context,
        viewer_ip: req.viewer_ip,
        request: req.request,
        response: Response::from_http(status, Some("OK"), headers),
    }
}

pub fn store(name: &str, items: &[(&str, &str)]) -> Arc<KeyValueStore> {
    Arc::new(KeyValueStore {
        name: name.into(),
        id: format!("{name}-id"),
        items: items.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
    })
}
