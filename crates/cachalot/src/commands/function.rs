//! `cachalot function …`: work with CloudFront Functions locally.
//!
//! `test` runs a function once on a TestFunction event and prints TestFunction's
//! `TestResult` as JSON. Exit codes: 0 the function succeeded, 1 it failed
//! (`FunctionErrorMessage` is set), 2 the files or arguments are unusable.

use crate::cli_error::hinted;
use anyhow::Context as _;
use cachalot_config::Diagnostics;
use cachalot_config::model::KeyValueStore;
use cachalot_functions::{Limits, Runtime, TestError, test_function};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `cachalot function` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Run a CloudFront Function once and print a TestFunction-shaped result.
    Test(TestArgs),
}

/// Runtime names accepted by `--runtime`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum RuntimeArg {
    #[value(name = "cloudfront-js-1.0")]
    Js1,
    #[value(name = "cloudfront-js-2.0")]
    Js2,
}

/// Arguments of `cachalot function test`.
#[derive(Debug, clap::Args)]
pub(crate) struct TestArgs {
    /// The function's JavaScript file.
    code: String,
    /// The test event: a JSON file shaped like TestFunction's EventObject (version, context.eventType,
    /// viewer, request, and response for viewer-response).
    #[arg(long)]
    event: String,
    /// The runtime to run the code under.
    #[arg(long, value_enum, default_value = "cloudfront-js-2.0")]
    runtime: RuntimeArg,
    /// A key value store for `cf.kvs()`: CloudFront's import format {"data":[{"key":…,"value":…}]}.
    #[arg(long)]
    kvs: Option<String>,
    /// The time the invocation starts, which `Date` reads in the function: an RFC 3339 timestamp
    /// (2024-01-31T12:00:00Z) or milliseconds since the Unix epoch. Default: now.
    #[arg(long, value_parser = parse_now)]
    now: Option<SystemTime>,
}

/// `--now`: RFC 3339, or milliseconds since the Unix epoch (what `Date.now()` returns).
fn parse_now(text: &str) -> Result<SystemTime, String> {
    let hint = "give an RFC 3339 timestamp such as 2024-01-31T12:00:00Z, or milliseconds since the Unix epoch";
    if let Ok(ms) = text.parse::<u64>() {
        return UNIX_EPOCH
            .checked_add(Duration::from_millis(ms))
            .ok_or_else(|| format!("{text} is too far in the future; {hint}"));
    }
    let at = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("{text:?} is not a time ({e}); {hint}"))?;
    let ms = at.unix_timestamp_nanos() / 1_000_000;
    let ms = u64::try_from(ms).map_err(|_| format!("{text} is before 1970; {hint}"))?;
    Ok(UNIX_EPOCH + Duration::from_millis(ms))
}

pub(crate) fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Test(args) => test(args),
    }
}

fn test(args: TestArgs) -> anyhow::Result<ExitCode> {
    let code = std::fs::read_to_string(&args.code).map_err(|e| {
        hinted(format!("cannot read the function code {}: {e}", args.code), "pass the path of a JavaScript file")
    })?;
    let event = std::fs::read(&args.event).map_err(|e| {
        hinted(
            format!("cannot read the event {}: {e}", args.event),
            "pass a JSON file shaped like TestFunction's event object (see `cachalot function test --help`)",
        )
    })?;
    let stores = match &args.kvs {
        Some(path) => vec![read_kvs(path)?],
        None => Vec::new(),
    };
    let runtime = match args.runtime {
        RuntimeArg::Js1 => Runtime::Js1,
        RuntimeArg::Js2 => Runtime::Js2,
    };
    let name = Path::new(&args.code).file_stem().and_then(|s| s.to_str()).unwrap_or("function").to_owned();
    // What `Date` reads in the function: the invocation starts now unless told otherwise.
    #[allow(clippy::disallowed_methods)]
    let now = args.now.unwrap_or_else(SystemTime::now);
    let result = test_function(&name, runtime, &code, &event, stores, Limits::default(), now).map_err(|e| match e {
        TestError::InvalidEvent(message) => hinted(
            format!("{}: invalid test event: {message}", args.event),
            "the event needs a JSON object with `request` (and `response` for context.eventType viewer-response)",
        ),
    })?;
    let json = serde_json::to_string_pretty(&result).context("cannot format the result")?;
    println!("{json}");
    Ok(if result.failed() { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn read_kvs(path: &str) -> anyhow::Result<Arc<KeyValueStore>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| hinted(format!("cannot read the key value store {path}: {e}"), "pass a JSON file"))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        hinted(
            format!("{path}: not valid JSON: {e}"),
            "use CloudFront's import format: {\"data\": [{\"key\": \"k\", \"value\": \"v\"}]}",
        )
    })?;
    let mut diags = Diagnostics::new();
    let items = cachalot_config::file::parse_kvs_data(&value, "$", &mut diags);
    if let Some(problem) = diags.items().first() {
        return Err(hinted(
            format!("{path}: {}: {}", problem.path, problem.message),
            "use CloudFront's import format: {\"data\": [{\"key\": \"k\", \"value\": \"v\"}]}",
        ));
    }
    let name = Path::new(path).file_stem().and_then(|s| s.to_str()).unwrap_or("kvs").to_owned();
    Ok(Arc::new(KeyValueStore { id: name.clone(), name, items: items.into_iter().collect() }))
}
