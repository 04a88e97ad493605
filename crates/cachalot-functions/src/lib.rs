//! CloudFront Functions runtime: compiles a function once, runs it per request.
//!
//! This crate owns the event model (CloudFront's event structure version `1.0`),
//! the JavaScript engine (QuickJS through `rquickjs`) and the isolation of one
//! invocation from the next, the limits (10 KB of code, a memory cap, a CPU-time
//! budget reported as compute utilization, stack depth, 10 KB of logs), the helper
//! modules (`crypto`, `querystring`, the String byte helpers, `Buffer`, `atob`/`btoa`,
//! `TextEncoder`/`TextDecoder`, the `cloudfront` module with key value stores and
//! origin modification) and validation of what a function returns. It also owns the
//! TestFunction result shape ([`test_function`]), shared by the CLI and the control
//! plane, and [`check`], whether code can run at all, shared by CreateFunction,
//! `serve --config` and `lint`.
//!
//! It must not know proxy internals: the edge turns HTTP into events with
//! [`Request::from_http`] / [`Response::from_http`] and applies the outcome itself.
//! Calls are synchronous and never panic on any input.
//!
//! # Using it from the edge
//!
//! ```
//! use cachalot_functions::{
//!     EventContext, Function, Limits, Request, Runtime, ViewerRequestEvent, ViewerRequestOutcome,
//! };
//!
//! let code = r#"
//!     function handler(event) {
//!         var request = event.request;
//!         if (request.uri.endsWith('/')) request.uri += 'index.html';
//!         return request;
//!     }"#;
//! // Once, when the configuration is published:
//! let function = Function::compile("spa", Runtime::Js2, code, Vec::new(), Limits::default())?;
//!
//! // Per request (from any thread; `Function` is `Send + Sync`):
//! let headers: Vec<(&str, &[u8])> = vec![("host", b"example.com")];
//! let event = ViewerRequestEvent {
//!     context: EventContext { distribution_id: "E1EXAMPLE".into(), ..Default::default() },
//!     viewer_ip: "192.0.2.10".into(),
//!     request: Request::from_http("GET", "/docs/?page=2", headers),
//! };
//! match function.viewer_request(&event) {
//!     Ok(invocation) => match invocation.outcome {
//!         ViewerRequestOutcome::Continue { request, origin } => {
//!             // Build the cache key from `request`; forward `request.target()`;
//!             // apply `origin` (if any) when choosing where to fetch.
//!             assert_eq!(request.target(), "/docs/index.html?page=2");
//!             assert!(origin.is_none());
//!         }
//!         ViewerRequestOutcome::Respond(response) => {
//!             // Send it with `x-cache: FunctionGeneratedResponse from cloudfront`.
//!             let _ = response;
//!         }
//!     },
//!     // 503/502 with `x-cache: <kind> from cloudfront`.
//!     Err(error) => panic!("{} {}", error.kind.status(), error.kind.x_cache()),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// The clock is read only where an invocation starts (each such place says why).
#![deny(clippy::disallowed_methods, clippy::disallowed_types)]

mod bridge;
mod codec;
mod engine;
mod error;
mod event;
mod limits;
mod origin;
mod output;
mod source;
mod testing;
mod tree;

pub use cachalot_config::model::KeyValueStore;
pub use error::{CompileError, FunctionError, FunctionErrorKind};
pub use event::{
    Body, EventContext, EventType, MultiValueMap, Request, Response, ResponseCookies, SetCookie, ViewerRequestEvent,
    ViewerResponseEvent, is_disallowed_header, read_only_headers, wire_header_name,
};
pub use limits::{Limits, MAX_CODE_BYTES};
pub use origin::{
    CustomOriginUpdate, OriginAccessControlUpdate, OriginOverride, OriginShieldUpdate, OriginTimeouts, OriginUpdate,
    RequestOriginGroup,
};
pub use testing::{ERROR_MESSAGE_PREFIX, TestError, TestResult, test_function};

use engine::{Program, RawFailure};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

/// A CloudFront Functions JavaScript runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Runtime {
    /// `cloudfront-js-1.0`: ES 5.1 plus selected later features; no `const`/`let`.
    Js1,
    /// `cloudfront-js-2.0`: modern syntax, async/await, `import cf from 'cloudfront'`.
    Js2,
}

impl Runtime {
    /// The runtime's name as CloudFront spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Js1 => "cloudfront-js-1.0",
            Self::Js2 => "cloudfront-js-2.0",
        }
    }
}

impl FromStr for Runtime {
    type Err = CompileError;

    fn from_str(s: &str) -> Result<Self, CompileError> {
        match s {
            "cloudfront-js-1.0" => Ok(Self::Js1),
            "cloudfront-js-2.0" => Ok(Self::Js2),
            other => Err(CompileError::UnknownRuntime(other.to_owned())),
        }
    }
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A successful invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation<T> {
    /// What the function decided.
    pub outcome: T,
    /// Share of the time budget used, 0–100 (TestFunction's `ComputeUtilization`).
    pub compute_utilization: u8,
    /// `console.log` output, one entry per call, truncated at the log limit.
    pub logs: Vec<String>,
}

/// What a viewer-request function decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewerRequestOutcome {
    /// Go on with this (possibly modified) request.
    Continue {
        /// The request to key and forward.
        request: Request,
        /// Origin changes asked for with the `cloudfront` module's helpers, if any.
        origin: Option<OriginOverride>,
    },
    /// Send this response now (no cache lookup, no origin).
    Respond(Response),
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A compiled CloudFront Function, ready to run from any thread.
#[derive(Debug)]
pub struct Function {
    name: String,
    program: Program,
}

impl Function {
    /// Checks and compiles `code`. Refuses what CloudFront refuses at create time: code over
    /// the size limit, syntax errors, syntax `cloudfront-js-1.0` does not have (`const`, `let`,
    /// `class`, `async`, `?.`, `??`…), imports of anything but the runtime's modules
    /// (`cloudfront`, `crypto`, `querystring`, `buffer`; cloudfront-js-2.0 only), and code
    /// without a `handler` function. Positions in messages are the user's (`function.js:L:C`). `key_value_stores`
    /// are the stores associated with the function (`cf.kvs()` reads the first; `cf.kvs(id)`
    /// picks one by id or name).
    pub fn compile(
        name: impl Into<String>,
        runtime: Runtime,
        code: &str,
        key_value_stores: Vec<Arc<KeyValueStore>>,
        limits: Limits,
    ) -> Result<Arc<Function>, CompileError> {
        let program = Program::new(runtime, code, key_value_stores, limits)?;
        // The compiling thread keeps the instance: configurations are usually published (and
        // functions compiled) where they are then run.
        engine::preload(&program).map_err(|message| program.load_error(&message))?;
        Ok(Arc::new(Function { name: name.into(), program }))
    }

    /// Compiles a function from the configuration model, resolving its key value stores by name.
    pub fn from_config(
        code: &cachalot_config::model::FunctionCode,
        stores: &std::collections::HashMap<String, Arc<KeyValueStore>>,
        limits: Limits,
    ) -> Result<Arc<Function>, CompileError> {
        let runtime = code.runtime.parse()?;
        let mut associated = Vec::with_capacity(code.key_value_stores.len());
        for name in &code.key_value_stores {
            match stores.get(name) {
                Some(store) => associated.push(store.clone()),
                None => {
                    return Err(CompileError::Load { message: format!("key value store `{name}` does not exist") });
                }
            }
        }
        Self::compile(code.name.clone(), runtime, &code.code, associated, limits)
    }

    /// The function's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The function's runtime.
    pub fn runtime(&self) -> Runtime {
        self.program.runtime
    }

    /// The limits it runs under.
    pub fn limits(&self) -> &Limits {
        &self.program.limits
    }

    /// How many engine instances have been built for this function so far: one per thread
    /// that ran it (the compiling thread included), plus one whenever an instance had to be
    /// replaced. Failures (throttling, running out of memory, exceptions) do not replace it.
    pub fn engine_instances_built(&self) -> u64 {
        self.program.instances_built.load(Ordering::Relaxed)
    }

    /// Runs the function for a viewer request, now.
    pub fn viewer_request(
        &self,
        event: &ViewerRequestEvent,
    ) -> Result<Invocation<ViewerRequestOutcome>, FunctionError> {
        // `Date` in a function reads the invocation's start time: the runtime reads the clock.
        #[allow(clippy::disallowed_methods)]
        self.viewer_request_at(event, SystemTime::now())
    }

    /// Runs the function for a viewer request started at `now` (what `Date` reads in the function).
    pub fn viewer_request_at(
        &self,
        event: &ViewerRequestEvent,
        now: SystemTime,
    ) -> Result<Invocation<ViewerRequestOutcome>, FunctionError> {
        let data = bridge::EventData {
            event_type: EventType::ViewerRequest,
            context: &event.context,
            viewer_ip: &event.viewer_ip,
            request: &event.request,
            response: None,
        };
        let raw = engine::invoke(&self.program, &data, now);
        let value = self.returned_value(raw.result, &raw.logs, raw.compute_utilization)?;
        let returned = output::viewer_request_result(&value, &event.request, self.program.limits.max_body_bytes)
            .map_err(|m| self.validation_error(m, &raw.logs, raw.compute_utilization))?;
        let outcome = match returned {
            output::Returned::Request(request) => {
                ViewerRequestOutcome::Continue { request, origin: (!raw.origin.is_empty()).then_some(raw.origin) }
            }
            output::Returned::Response(response) => ViewerRequestOutcome::Respond(response),
        };
        Ok(Invocation { outcome, compute_utilization: raw.compute_utilization, logs: raw.logs })
    }

    /// Runs the function for a viewer response, now; returns the response to send.
    pub fn viewer_response(&self, event: &ViewerResponseEvent) -> Result<Invocation<Response>, FunctionError> {
        #[allow(clippy::disallowed_methods)]
        self.viewer_response_at(event, SystemTime::now())
    }

    /// Runs the function for a viewer response started at `now` (what `Date` reads in the function).
    pub fn viewer_response_at(
        &self,
        event: &ViewerResponseEvent,
        now: SystemTime,
    ) -> Result<Invocation<Response>, FunctionError> {
        let data = bridge::EventData {
            event_type: EventType::ViewerResponse,
            context: &event.context,
            viewer_ip: &event.viewer_ip,
            request: &event.request,
            response: Some(&event.response),
        };
        let raw = engine::invoke(&self.program, &data, now);
        let value = self.returned_value(raw.result, &raw.logs, raw.compute_utilization)?;
        let response = output::viewer_response_result(&value, &event.response, self.program.limits.max_body_bytes)
            .map_err(|m| self.validation_error(m, &raw.logs, raw.compute_utilization))?;
        Ok(Invocation { outcome: response, compute_utilization: raw.compute_utilization, logs: raw.logs })
    }

    fn returned_value(
        &self,
        result: Result<Option<tree::Value>, RawFailure>,
        logs: &[String],
        compute_utilization: u8,
    ) -> Result<tree::Value, FunctionError> {
        let error = |kind, message: String| FunctionError { kind, message, logs: logs.to_vec(), compute_utilization };
        match result {
            Ok(Some(value)) => Ok(value),
            Err(RawFailure::Invalid(message)) => {
                Err(error(FunctionErrorKind::Validation, format!("the handler's result is not valid: {message}")))
            }
            Ok(None) => Err(error(FunctionErrorKind::Validation, "the handler must return an object".into())),
            Err(RawFailure::Thrown(message)) => {
                Err(error(FunctionErrorKind::Execution, self.program.positions.rewrite(&message)))
            }
            Err(RawFailure::OutOfMemory) => Err(error(
                FunctionErrorKind::Execution,
                format!("the function exceeded its memory limit of {} bytes", self.program.limits.memory_bytes),
            )),
            Err(RawFailure::Throttled) => Err(error(
                FunctionErrorKind::Throttled,
                format!(
                    "the function exceeded its time budget of {} µs (compute utilization 100)",
                    self.program.limits.time_budget.as_micros()
                ),
            )),
        }
    }

    fn validation_error(&self, message: String, logs: &[String], compute_utilization: u8) -> FunctionError {
        FunctionError {
            kind: FunctionErrorKind::Validation,
            message: format!("the function returned an invalid value: {message}"),
            logs: logs.to_vec(),
            compute_utilization,
        }
    }
}

impl Program {
    /// Checks and prepares `code` (everything but loading it into an engine).
    fn new(
        runtime: Runtime,
        code: &str,
        stores: Vec<Arc<KeyValueStore>>,
        limits: Limits,
    ) -> Result<Program, CompileError> {
        let prepared = source::prepare(code, runtime, &limits)?;
        if !source::declares_handler(code) {
            return Err(CompileError::MissingHandler);
        }
        // Reported by `kvs.meta()` as the stores' creation and update time.
        #[allow(clippy::disallowed_methods)]
        let created = SystemTime::now();
        Ok(Program {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            runtime,
            factory_source: prepared.factory,
            positions: prepared.positions,
            stores,
            limits,
            created,
            alive: Arc::new(()),
            instances_built: AtomicU64::new(0),
        })
    }

    /// What the engine said when loading the code failed, as a compile error at the user's positions.
    fn load_error(&self, message: &str) -> CompileError {
        let message = self.positions.rewrite(message);
        match message.strip_prefix("SyntaxError: ") {
            Some(rest) => CompileError::Syntax { message: rest.to_owned() },
            None => CompileError::Load { message },
        }
    }
}

/// Whether `code` can run as a CloudFront Function under `runtime`: everything
/// [`Function::compile`] checks, with the code loaded into a throwaway engine (so syntax the
/// engine refuses is found too). The one check behind `CreateFunction`/`UpdateFunction`,
/// `serve --config` and `lint`, so they refuse exactly what the edge could not run.
pub fn check(runtime: Runtime, code: &str) -> Result<(), CompileError> {
    let program = Program::new(runtime, code, Vec::new(), Limits::default())?;
    engine::load(&program).map_err(|message| program.load_error(&message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_import_checks_know_exactly_what_each_module_exports() {
        // source::MODULES (what named imports may name) against the prelude's module objects.
        for (module, exports) in source::MODULES {
            let code = format!(
                "import m from '{module}';\nfunction handler(e) {{ return {{ statusCode: 200, body: Object.keys(m).sort().join(',') }}; }}"
            );
            let f = Function::compile("modules", Runtime::Js2, &code, Vec::new(), Limits::default()).unwrap();
            let Ok(Invocation { outcome: ViewerRequestOutcome::Respond(response), .. }) =
                f.viewer_request(&ViewerRequestEvent {
                    context: EventContext::default(),
                    viewer_ip: String::new(),
                    request: Request::from_http("GET", "/", Vec::<(&str, &[u8])>::new()),
                })
            else {
                panic!("{module}: no response")
            };
            let mut expected = exports.to_vec();
            expected.sort_unstable();
            assert_eq!(response.body, Some(Body::Text(expected.join(","))), "{module}");
        }
    }

    #[test]
    fn check_refuses_what_cannot_run_and_accepts_the_rest() {
        assert!(check(Runtime::Js2, "import crypto from 'crypto';\nfunction handler(e) { return e.request; }").is_ok());
        let errors = [
            (Runtime::Js2, "function handler(e) {\n  var = 1;\n}", "SyntaxError: "),
            (Runtime::Js1, "const x = 1; function handler(e) { return e.request; }", "`const`"),
            (Runtime::Js2, "import fs from 'fs'; function handler(e) { return e.request; }", "'fs'"),
            (Runtime::Js2, "function other() {}", "no function named `handler`"),
        ];
        for (runtime, code, expected) in errors {
            let e = check(runtime, code).unwrap_err().to_string();
            assert!(e.contains(expected), "{code}: {e}");
        }
    }

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn function_is_send_and_sync() {
        assert_send_sync::<Function>();
        assert_send_sync::<Arc<Function>>();
    }
}
