//! The QuickJS side: one hardened engine instance per (thread, function), driven per invocation.
//!
//! QuickJS values cannot cross threads, so a [`crate::Function`] keeps only its
//! prepared source; each thread that runs it builds an [`Instance`] on first use
//! (runtime, context, prelude, compiled factory) and keeps it in a thread-local
//! cache. An invocation calls the factory for fresh top-level state, then the
//! handler, under a memory limit (set just above the instance's measured
//! baseline), a stack limit and a CPU-time budget enforced by QuickJS's
//! interrupt handler. An instance outlives failures: after a throttle or an
//! out-of-memory error the garbage is collected and any work left queued is
//! discarded without running user code ([`discard_pending_jobs`]), so a hostile
//! function costs its time budget per call, not the price of a new instance.

use crate::Runtime as JsRuntime;
use crate::bridge::{self, EventData, ReadError, SavedNames, Serializer};
use crate::codec::{self, Encoding};
use crate::limits::Limits;
use crate::origin::{OriginOverride, RecordHelperCall as _};
use crate::source::{CODE_FILE_NAME, SourceMap};
use cachalot_config::model::KeyValueStore;
use cpu_time::ThreadTime;
use rquickjs::context::{EvalOptions, intrinsic};
use rquickjs::function::Opt;
use rquickjs::{
    Context, Ctx, Exception, Function as JsFunction, Object, Persistent, Promise, Runtime, TypedArray, Value,
};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const PRELUDE: &str = include_str!("js/prelude.js");

/// Most instances one thread keeps; beyond this the cache is cleared of dead and excess entries.
const MAX_INSTANCES_PER_THREAD: usize = 64;

/// What the engine needs to build an instance on any thread.
#[derive(Debug)]
pub(crate) struct Program {
    pub(crate) id: u64,
    pub(crate) runtime: JsRuntime,
    /// The factory expression wrapping the user's code.
    pub(crate) factory_source: String,
    /// Turns the factory's positions in messages back into the user's.
    pub(crate) positions: SourceMap,
    pub(crate) stores: Vec<Arc<KeyValueStore>>,
    pub(crate) limits: Limits,
    pub(crate) created: SystemTime,
    /// Instances on other threads hold a weak reference and are evicted once it is gone.
    pub(crate) alive: Arc<()>,
    /// Engine instances built for this program so far, on every thread.
    pub(crate) instances_built: AtomicU64,
}

/// Raw result of one invocation, before validation.
pub(crate) struct RawInvocation {
    pub(crate) result: Result<Option<crate::tree::Value>, RawFailure>,
    pub(crate) logs: Vec<String>,
    pub(crate) origin: OriginOverride,
    pub(crate) compute_utilization: u8,
}

/// A failure seen by the engine.
pub(crate) enum RawFailure {
    Thrown(String),
    /// The result has no JSON form.
    Invalid(String),
    Throttled,
    OutOfMemory,
}

#[derive(Default)]
struct InvocationState {
    logs: Vec<String>,
    origin: OriginOverride,
}

struct Instance {
    // Field order matters: JavaScript values go before the context and runtime that own them.
    run: Persistent<JsFunction<'static>>,
    as_json: Persistent<JsFunction<'static>>,
    object_prototype: Persistent<Object<'static>>,
    names: SavedNames,
    factory: Persistent<JsFunction<'static>>,
    context: Context,
    runtime: Runtime,
    state: Rc<RefCell<InvocationState>>,
    started: Rc<Cell<Option<Started>>>,
    interrupted: Rc<Cell<bool>>,
    /// Set while queued work is being discarded: every interrupt check stops the code.
    discarding: Rc<Cell<bool>>,
    alive: Weak<()>,
}

/// When the code being timed started, by the wall clock (cheap to read) and by the thread's
/// CPU clock (a system call): the CPU time spent is at most the wall time, so the CPU clock is
/// read again only once the wall time exceeds the budget.
#[derive(Clone, Copy)]
struct Started {
    wall: Instant,
    cpu: ThreadTime,
}

impl Started {
    fn now() -> Self {
        // Compute utilization and the budget are measured on the clocks.
        #[allow(clippy::disallowed_methods)]
        let wall = Instant::now();
        Started { wall, cpu: ThreadTime::now() }
    }

    /// CPU time used so far, or the wall time when that is within `limit` (the CPU time is
    /// then within it too): what counts against the budget.
    fn elapsed(&self, limit: Duration) -> Duration {
        let wall = self.wall.elapsed();
        if wall <= limit { wall } else { self.cpu.elapsed() }
    }
}

thread_local! {
    static INSTANCES: RefCell<HashMap<u64, Instance>> = RefCell::new(HashMap::new());
}

/// Builds this thread's instance of `program` now, reporting load errors (syntax errors).
pub(crate) fn preload(program: &Program) -> Result<(), String> {
    let instance = build(program)?;
    put_back(program.id, instance);
    Ok(())
}

/// Builds an instance of `program` and drops it: whether the code loads at all.
pub(crate) fn load(program: &Program) -> Result<(), String> {
    build(program).map(drop)
}

/// Runs one invocation on this thread; `Date` in the function reads `now`.
pub(crate) fn invoke(program: &Program, event: &EventData<'_>, now: SystemTime) -> RawInvocation {
    // `try_with`: the cache may already be gone when a thread is being torn down.
    let cached = INSTANCES.try_with(|cell| cell.borrow_mut().remove(&program.id)).ok().flatten();
    let instance = match cached {
        Some(instance) => Ok(instance),
        None => build(program),
    };
    let instance = match instance {
        Ok(i) => i,
        Err(message) => {
            return RawInvocation {
                result: Err(RawFailure::Thrown(format!("the function could not be loaded: {message}"))),
                logs: Vec::new(),
                origin: OriginOverride::default(),
                compute_utilization: 0,
            };
        }
    };
    // What `Date` reads in the function: the invocation's start time.
    let now_ms = now.duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_millis() as f64);

    let mut attempt = 0;
    let (result, elapsed) = loop {
        {
            let mut state = instance.state.borrow_mut();
            state.logs.clear();
            state.origin = OriginOverride::default();
        }
        instance.interrupted.set(false);
        let start = Started::now();
        instance.started.set(Some(start));
        let result = instance.context.with(|ctx| run_once(&ctx, &instance, program, event, now_ms));
        let elapsed = start.elapsed(program.limits.time_budget);
        instance.started.set(None);
        // Cyclic garbage left by earlier requests counts against the memory limit until QuickJS
        // collects it; when a request runs out of memory, collect and run it once more.
        let retry = attempt == 0
            && matches!(result, Err(RawFailure::OutOfMemory))
            && !instance.interrupted.get()
            && !instance.runtime.is_job_pending();
        if !retry {
            break (result, elapsed);
        }
        instance.runtime.run_gc();
        attempt += 1;
    };

    let result = budget_outcome(result, elapsed, program.limits.time_budget, instance.interrupted.get());
    let (logs, origin) = {
        let mut state = instance.state.borrow_mut();
        (std::mem::take(&mut state.logs), std::mem::take(&mut state.origin))
    };
    if matches!(result, Err(RawFailure::OutOfMemory)) {
        // What the failed invocation allocated goes now, not at the next request's expense.
        instance.runtime.run_gc();
    }
    // Work the invocation left queued (it failed before the queue was drained) must never
    // run in a later invocation; an instance whose queue cannot be emptied is dropped.
    let reusable = !instance.runtime.is_job_pending() || discard_pending_jobs(&instance, &program.limits);
    if reusable {
        put_back(program.id, instance);
    }
    RawInvocation { result, logs, origin, compute_utilization: utilization(elapsed, program.limits.time_budget) }
}

/// Most queued jobs one failed invocation's leftovers may hold before its instance is dropped.
const MAX_DISCARDED_JOBS: usize = 100_000;

/// Empties the job queue without running user code: with a one-byte stack limit every call
/// into JavaScript fails at once with a stack overflow, so a queued reaction or thenable job
/// only settles its promise as rejected (which may queue the next reaction, failing the same
/// way), and the interrupt handler stops any resumed async function at its next check. Returns
/// false when jobs are still queued after [`MAX_DISCARDED_JOBS`].
fn discard_pending_jobs(instance: &Instance, limits: &Limits) -> bool {
    instance.discarding.set(true);
    instance.runtime.set_max_stack_size(1);
    let mut left = MAX_DISCARDED_JOBS;
    while left > 0 && instance.runtime.is_job_pending() {
        // The error a failed job leaves pending on its context is cleared with it.
        if let Err(exception) = instance.runtime.execute_pending_job() {
            exception.0.with(|ctx| drop(ctx.catch()));
        }
        left -= 1;
    }
    instance.runtime.set_max_stack_size(limits.max_stack_bytes);
    instance.discarding.set(false);
    !instance.runtime.is_job_pending()
}

/// How many budgets an invocation the interrupt handler did not stop may take before it is
/// throttled anyway. The handler only gets a chance between bytecode instructions, so a single
/// long built-in call (`'x'.repeat(1900000)`, about 6.6 budgets) overruns unchecked; the margin
/// keeps the host's own hiccups from throttling an innocent invocation: on a shared two-core VM
/// a 25 µs function measured up to 1.7 ms of thread CPU time (4 calls in 300,000), and once over
/// 2 ms in a 100,000-call benchmark (a VM's stolen time can count as the thread's).
const LATE_FINISH_BUDGETS: u32 = 4;

/// Whether the invocation is throttled: the interrupt handler stopped it, or it finished more
/// than [`LATE_FINISH_BUDGETS`] budgets late. Running out of memory is reported as such: the
/// memory limit is what stopped the code.
fn budget_outcome<T>(
    result: Result<T, RawFailure>,
    elapsed: Duration,
    budget: Duration,
    interrupted: bool,
) -> Result<T, RawFailure> {
    match result {
        _ if interrupted => Err(RawFailure::Throttled),
        Err(RawFailure::OutOfMemory) => Err(RawFailure::OutOfMemory),
        _ if elapsed > budget * LATE_FINISH_BUDGETS => Err(RawFailure::Throttled),
        other => other,
    }
}

/// Share of the budget used, rounded up so that any work shows as at least 1.
fn utilization(elapsed: Duration, budget: Duration) -> u8 {
    if budget.is_zero() {
        return 100;
    }
    let percent = (elapsed.as_nanos() * 100).div_ceil(budget.as_nanos());
    percent.min(100) as u8
}

fn put_back(id: u64, instance: Instance) {
    let _ = INSTANCES.try_with(|cell| {
        let mut map = cell.borrow_mut();
        if map.len() >= MAX_INSTANCES_PER_THREAD {
            map.retain(|_, i| i.alive.strong_count() > 0);
            if map.len() >= MAX_INSTANCES_PER_THREAD {
                map.clear();
            }
        }
        map.insert(id, instance);
    });
}

fn run_once<'js>(
    ctx: &Ctx<'js>,
    instance: &Instance,
    program: &Program,
    event: &EventData<'_>,
    now_ms: f64,
) -> Result<Option<crate::tree::Value>, RawFailure> {
    let internal = |e: rquickjs::Error| RawFailure::Thrown(format!("internal error: {e}"));
    let run = instance.run.clone().restore(ctx).map_err(internal)?;
    let factory = instance.factory.clone().restore(ctx).map_err(internal)?;
    let as_json = instance.as_json.clone().restore(ctx).map_err(internal)?;
    let object_prototype = instance.object_prototype.clone().restore(ctx).map_err(internal)?;
    let names = instance.names.restore(ctx).map_err(internal)?;
    let (event_object, known) = bridge::build_event(ctx, &names, event).map_err(|e| failure(ctx, e))?;
    let raw_query = event.request.raw_query.as_deref();
    let returned: Value<'js> = run
        .call((factory, event_object, raw_query, now_ms, event_type_code(event.event_type)))
        .map_err(|e| failure(ctx, e))?;
    let value = if let Some(promise) = returned.as_promise() { settle(ctx, promise)? } else { returned };
    // Work the handler left queued (unawaited promises) still runs within the budget.
    while ctx.execute_pending_job() {}
    // `undefined` reads as `null` (then fails validation as "not an object").
    let value = if value.is_undefined() { Value::new_null(ctx.clone()) } else { value };
    let mut serializer = Serializer::new(ctx, &names, known, object_prototype, as_json, program.limits.memory_bytes)
        .map_err(|e| failure(ctx, e))?;
    serializer.read(value).map_err(|e| match e {
        ReadError::Js(e) => failure(ctx, e),
        ReadError::TooLarge => RawFailure::OutOfMemory,
        ReadError::Invalid(message) => RawFailure::Invalid(message),
    })
}

/// The event type as the prelude's `run` takes it (a number: no string to create per call).
fn event_type_code(event_type: crate::EventType) -> u8 {
    match event_type {
        crate::EventType::ViewerRequest => 0,
        crate::EventType::ViewerResponse => 1,
    }
}

fn settle<'js>(ctx: &Ctx<'js>, promise: &Promise<'js>) -> Result<Value<'js>, RawFailure> {
    loop {
        match promise.result::<Value<'js>>() {
            Some(Ok(v)) => return Ok(v),
            Some(Err(e)) => return Err(failure(ctx, e)),
            None => {
                if !ctx.execute_pending_job() {
                    return Err(RawFailure::Thrown("the handler's promise never settled".into()));
                }
            }
        }
    }
}

/// Describes the pending exception (`Name: message (function.js:line:column)`).
fn failure(ctx: &Ctx<'_>, error: rquickjs::Error) -> RawFailure {
    if !matches!(error, rquickjs::Error::Exception) {
        return match error {
            rquickjs::Error::Allocation => RawFailure::OutOfMemory,
            other => RawFailure::Thrown(other.to_string()),
        };
    }
    let thrown = ctx.catch();
    let message = describe(&thrown);
    if message.contains("out of memory") { RawFailure::OutOfMemory } else { RawFailure::Thrown(message) }
}

pub(crate) fn describe(thrown: &Value<'_>) -> String {
    if let Some(obj) = thrown.as_object()
        && let Some(exception) = Exception::from_object(obj.clone())
    {
        let name = obj.get::<_, Option<String>>("name").ok().flatten().unwrap_or_else(|| "Error".into());
        let message = exception.message().unwrap_or_default();
        let location = exception
            .stack()
            .and_then(|stack| {
                stack.lines().find_map(|line| {
                    let at = line.find(CODE_FILE_NAME)?;
                    Some(line[at..].trim_end_matches(')').to_owned())
                })
            })
            .map(|l| format!(" ({l})"))
            .unwrap_or_default();
        return format!("{name}: {message}{location}");
    }
    if thrown.is_null() || thrown.is_undefined() {
        // QuickJS throws null when it cannot even allocate the error.
        return "out of memory".into();
    }
    thrown
        .as_string()
        .and_then(|s| s.to_string().ok())
        .map(|s| format!("Uncaught {s}"))
        .unwrap_or_else(|| "Uncaught exception".into())
}

type Intrinsics = (
    intrinsic::Date,
    intrinsic::Eval,
    intrinsic::RegExpCompiler,
    intrinsic::RegExp,
    intrinsic::Json,
    intrinsic::Proxy,
    intrinsic::MapSet,
    intrinsic::TypedArrays,
    intrinsic::Promise,
);

/// CPU time allowed for compiling a function's code (top-level code that escapes the factory
/// wrapper would run here, so it is bounded like an invocation).
const COMPILE_TIME_LIMIT: Duration = Duration::from_millis(100);

/// Memory allowed for the compiled code itself, on top of the invocation allowance, while compiling.
const COMPILE_MEMORY_ALLOWANCE: usize = 1024 * 1024;

fn build(program: &Program) -> Result<Instance, String> {
    let runtime = Runtime::new().map_err(|e| e.to_string())?;
    runtime.set_max_stack_size(program.limits.max_stack_bytes);
    program.instances_built.fetch_add(1, Ordering::Relaxed);
    let started: Rc<Cell<Option<Started>>> = Rc::new(Cell::new(None));
    let limit = Rc::new(Cell::new(COMPILE_TIME_LIMIT));
    let interrupted = Rc::new(Cell::new(false));
    let discarding = Rc::new(Cell::new(false));
    {
        let started = started.clone();
        let limit = limit.clone();
        let interrupted = interrupted.clone();
        let discarding = discarding.clone();
        runtime.set_interrupt_handler(Some(Box::new(move || {
            if discarding.get() {
                return true;
            }
            match started.get() {
                Some(start) if start.elapsed(limit.get()) > limit.get() => {
                    interrupted.set(true);
                    true
                }
                _ => false,
            }
        })));
    }
    let context = Context::custom::<Intrinsics>(&runtime).map_err(|e| e.to_string())?;
    let state = Rc::new(RefCell::new(InvocationState::default()));
    let (run, as_json, object_prototype, names) = context.with(|ctx| -> Result<_, String> {
        let native = natives(&ctx, program, &state).map_err(|e| e.to_string())?;
        let mut options = EvalOptions::default();
        options.strict = true;
        options.filename = Some("cloudfront-runtime.js".into());
        let prelude: JsFunction<'_> = ctx.eval_with_options(PRELUDE, options).map_err(|e| load_error(&ctx, e))?;
        let version = match program.runtime {
            JsRuntime::Js1 => 1,
            JsRuntime::Js2 => 2,
        };
        let host: Object<'_> =
            prelude.call((native, version, program.limits.max_log_bytes)).map_err(|e| load_error(&ctx, e))?;
        let run: JsFunction<'_> = host.get("run").map_err(|e| e.to_string())?;
        let as_json: JsFunction<'_> = host.get("asJson").map_err(|e| e.to_string())?;
        let object_prototype: Object<'_> = host.get("objectPrototype").map_err(|e| e.to_string())?;
        let names = SavedNames::new(&ctx).map_err(|e| e.to_string())?;
        Ok((
            Persistent::save(&ctx, run),
            Persistent::save(&ctx, as_json),
            Persistent::save(&ctx, object_prototype),
            names,
        ))
    })?;
    // From here on user code is involved: bound its memory and time.
    let usage = runtime.memory_usage().malloc_size.max(0) as usize;
    runtime.set_memory_limit(usage + program.limits.memory_bytes + COMPILE_MEMORY_ALLOWANCE);
    let factory = context.with(|ctx| -> Result<_, String> {
        let mut options = EvalOptions::default();
        options.strict = true;
        options.filename = Some(CODE_FILE_NAME.into());
        started.set(Some(Started::now()));
        let factory = ctx.eval_with_options::<JsFunction<'_>, _>(program.factory_source.as_str(), options);
        started.set(None);
        if interrupted.get() {
            return Err("loading the code took too long".into());
        }
        let factory = factory.map_err(|e| load_error(&ctx, e))?;
        Ok(Persistent::save(&ctx, factory))
    });
    let factory = match factory {
        Ok(f) => f,
        Err(e) => {
            // JavaScript values go before the runtime that owns them.
            drop((run, as_json, object_prototype, names));
            return Err(e);
        }
    };
    context.with(|ctx| ctx.run_gc());
    let baseline = runtime.memory_usage().malloc_size.max(0) as usize;
    runtime.set_memory_limit(baseline + program.limits.memory_bytes);
    limit.set(program.limits.time_budget);
    Ok(Instance {
        run,
        as_json,
        object_prototype,
        names,
        factory,
        context,
        runtime,
        state,
        started,
        interrupted,
        discarding,
        alive: Arc::downgrade(&program.alive),
    })
}

fn load_error(ctx: &Ctx<'_>, e: rquickjs::Error) -> String {
    if matches!(e, rquickjs::Error::Exception) { describe(&ctx.catch()) } else { e.to_string() }
}

fn part_bytes(text: &str, encoding: &str) -> Vec<u8> {
    codec::decode(text, Encoding::parse(encoding).unwrap_or(Encoding::Utf8))
}

fn encoding_arg(ctx: &Ctx<'_>, name: &str) -> rquickjs::Result<Encoding> {
    Encoding::parse(name).ok_or_else(|| Exception::throw_type(ctx, &format!("Unknown encoding: {name}")))
}

/// The native functions the prelude receives.
fn natives<'js>(
    ctx: &Ctx<'js>,
    program: &Program,
    state: &Rc<RefCell<InvocationState>>,
) -> rquickjs::Result<Object<'js>> {
    let native = Object::new(ctx.clone())?;

    let log_state = state.clone();
    native.set(
        "log",
        JsFunction::new(ctx.clone(), move |line: String| {
            log_state.borrow_mut().logs.push(line);
        })?,
    )?;

    native.set(
        "digest",
        JsFunction::new(
            ctx.clone(),
            |ctx: Ctx<'js>,
             algorithm: String,
             key: Option<String>,
             key_encoding: String,
             parts: Vec<String>,
             encodings: Vec<String>,
             output: String|
             -> rquickjs::Result<String> {
                let key = key.map(|k| part_bytes(&k, &key_encoding));
                let data: Vec<Vec<u8>> = parts
                    .iter()
                    .enumerate()
                    .map(|(i, part)| part_bytes(part, encodings.get(i).map_or("utf8", String::as_str)))
                    .collect();
                let digest =
                    codec::digest(&algorithm, key.as_deref(), &data).map_err(|m| Exception::throw_message(&ctx, &m))?;
                let enc = encoding_arg(&ctx, &output)?;
                codec::encode(&digest, enc).ok_or_else(|| Exception::throw_type(&ctx, "digest is not valid UTF-8"))
            },
        )?,
    )?;

    native.set(
        "decodeToArray",
        JsFunction::new(ctx.clone(), |ctx: Ctx<'js>, text: String, encoding: String| {
            let enc = encoding_arg(&ctx, &encoding)?;
            TypedArray::<u8>::new(ctx.clone(), codec::decode(&text, enc))
        })?,
    )?;

    native.set(
        "decodeToLatin1",
        JsFunction::new(ctx.clone(), |ctx: Ctx<'js>, text: String, encoding: String| {
            let enc = encoding_arg(&ctx, &encoding)?;
            rquickjs::Result::Ok(codec::latin1_string(&codec::decode(&text, enc)))
        })?,
    )?;

    native.set(
        "encodeBytes",
        JsFunction::new(ctx.clone(), |ctx: Ctx<'js>, bytes: String, encoding: String| {
            let enc = encoding_arg(&ctx, &encoding)?;
            rquickjs::Result::Ok(codec::encode(&codec::latin1_bytes(&bytes), enc))
        })?,
    )?;

    native.set("unescapeLossy", JsFunction::new(ctx.clone(), |text: String| codec::unescape_lossy(&text))?)?;

    // Math.random's seed words: from the thread's generator, drawn when an invocation first
    // calls Math.random.
    native.set("randomWord", JsFunction::new(ctx.clone(), || fastrand::u32(..))?)?;

    // TextDecoder: bytes (one per char) as UTF-8 text, U+FFFD for invalid sequences, or null
    // when `fatal` and the bytes are not UTF-8.
    native.set(
        "decodeUtf8",
        JsFunction::new(ctx.clone(), |bytes: String, fatal: bool| -> Option<String> {
            let bytes = codec::latin1_bytes(&bytes);
            if fatal { String::from_utf8(bytes).ok() } else { Some(String::from_utf8_lossy(&bytes).into_owned()) }
        })?,
    )?;

    // atob: the bytes of forgiving-base64 text as a byte string, or null when it is not base64.
    native.set(
        "forgivingBase64",
        JsFunction::new(ctx.clone(), |text: String| codec::forgiving_base64(&text).map(|b| codec::latin1_string(&b)))?,
    )?;

    let count = program.stores.len();
    native.set("kvsCount", JsFunction::new(ctx.clone(), move || count)?)?;

    let stores = program.stores.clone();
    native.set(
        "kvsFind",
        JsFunction::new(ctx.clone(), move |id: String| -> i32 {
            if id.is_empty() {
                return if stores.is_empty() { -1 } else { 0 };
            }
            stores
                .iter()
                .position(|s| s.id == id || s.name == id || id.ends_with(&format!("/{}", s.id)))
                .map_or(-1, |i| i as i32)
        })?,
    )?;

    let stores = program.stores.clone();
    native.set(
        "kvsGet",
        JsFunction::new(ctx.clone(), move |index: usize, key: String| -> Option<String> {
            stores.get(index).and_then(|s| s.items.get(&key).cloned())
        })?,
    )?;

    let stores = program.stores.clone();
    let created = iso8601(program.created);
    native.set(
        "kvsMeta",
        JsFunction::new(ctx.clone(), move |index: usize| -> String {
            let count = stores.get(index).map_or(0, |s| s.items.len());
            serde_json::json!({
                "creationDateTime": created,
                "lastUpdatedDateTime": created,
                "keyCount": count,
            })
            .to_string()
        })?,
    )?;

    let origin_state = state.clone();
    native.set(
        "origin",
        JsFunction::new(ctx.clone(), move |kind: String, json: Opt<String>| -> String {
            let json = json.0.unwrap_or_else(|| "null".into());
            match origin_state.borrow_mut().origin.record(&kind, &json) {
                Ok(()) => String::new(),
                Err(problem) => problem,
            }
        })?,
    )?;

    Ok(native)
}

/// `2024-01-31T12:00:00Z` (UTC, seconds).
fn iso8601(t: SystemTime) -> String {
    let at = time::OffsetDateTime::from(t);
    let (y, m, d) = at.to_calendar_date();
    let (hh, mm, ss) = at.to_hms();
    format!("{y:04}-{:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z", u8::from(m))
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // Tests may read the clock.
mod tests {
    use super::*;

    #[test]
    fn queued_work_is_discarded_without_running() {
        // The handler queues reactions (plain, async, with loops) and fails: they must be gone
        // afterwards without having run (a run would have logged into the instance's state).
        let code = r#"
            function handler(event) {
                var p = Promise.resolve();
                for (var i = 0; i < 50; i++) p = p.then(function () { console.log('reaction ran'); });
                Promise.resolve().then(console.log);
                (async function () { await null; console.log('async resumed'); for (;;) {} })();
                throw new Error('fails with work queued');
            }"#;
        let function = crate::Function::compile("queued", JsRuntime::Js2, code, Vec::new(), Limits::default()).unwrap();
        let request = crate::Request::from_http("GET", "/", Vec::<(&str, &[u8])>::new());
        let context = crate::EventContext::default();
        let data = EventData {
            event_type: crate::EventType::ViewerRequest,
            context: &context,
            viewer_ip: "",
            request: &request,
            response: None,
        };
        let raw = invoke(&function.program, &data, SystemTime::now());
        assert!(matches!(raw.result, Err(RawFailure::Thrown(ref m)) if m.contains("fails with work queued")));
        INSTANCES.with(|cell| {
            let map = cell.borrow();
            let instance = map.get(&function.program.id).expect("the instance is kept");
            assert!(!instance.runtime.is_job_pending());
            assert!(instance.state.borrow().logs.is_empty(), "{:?}", instance.state.borrow().logs);
        });
    }

    #[test]
    fn finishing_past_the_budget_is_throttled() {
        let budget = Duration::from_millis(1);
        let ok = |elapsed, interrupted| budget_outcome(Ok(()), elapsed, budget, interrupted);
        assert!(ok(Duration::from_micros(999), false).is_ok());
        assert!(ok(budget, false).is_ok());
        assert!(ok(Duration::from_micros(3999), false).is_ok(), "within the margin for the host's hiccups");
        assert!(matches!(ok(Duration::from_micros(4001), false), Err(RawFailure::Throttled)));
        assert!(matches!(ok(Duration::from_micros(10), true), Err(RawFailure::Throttled)));
        let thrown = budget_outcome::<()>(Err(RawFailure::Thrown("x".into())), Duration::from_millis(7), budget, false);
        assert!(matches!(thrown, Err(RawFailure::Throttled)));
        let oom = budget_outcome::<()>(Err(RawFailure::OutOfMemory), Duration::from_millis(7), budget, false);
        assert!(matches!(oom, Err(RawFailure::OutOfMemory)));
    }

    #[test]
    fn utilization_rounds_up_and_caps() {
        let budget = Duration::from_millis(1);
        assert_eq!(utilization(Duration::ZERO, budget), 0);
        assert_eq!(utilization(Duration::from_nanos(1), budget), 1);
        assert_eq!(utilization(Duration::from_micros(500), budget), 50);
        assert_eq!(utilization(Duration::from_millis(5), budget), 100);
    }

    #[test]
    fn iso8601_formats_utc() {
        assert_eq!(iso8601(UNIX_EPOCH + Duration::from_secs(1_706_702_400)), "2024-01-31T12:00:00Z");
        assert_eq!(iso8601(UNIX_EPOCH), "1970-01-01T00:00:00Z");
    }
}
