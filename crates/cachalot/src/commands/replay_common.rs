//! What `analyze` and `replay` share: their log arguments, loading a config for
//! `analyze --config` and `replay --config/--baseline`, and reading the logs under a progress
//! bar, with errors that name the file.

use super::analyze_io::Progress;
use crate::cli_error::hinted;
use cachalot_doctor::formats::Columns;
use cachalot_doctor::input::Inputs;
use cachalot_doctor::logs::{self, LogInput, LogInputError};
use cachalot_doctor::replay::ConfigModel;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

/// The arguments of `analyze` and `replay` that say which logs to read and how. Flattened
/// last into each command's arguments, so that `--help` lists them after the command's own.
#[derive(Debug, clap::Args)]
pub(crate) struct LogArgs {
    /// CloudFront logs: files (plain or .gz; legacy standard logs, v2 w3c, json, plain or parquet,
    /// real-time log records, told apart by their content), folders, globs, or - for stdin.
    #[arg(required = true, value_name = "LOG")]
    logs: Vec<String>,
    /// Worker threads, at least 1 [default: every core].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    threads: Option<u64>,
    /// The columns of records without a header (v2 plain files, real-time log records), in order,
    /// separated by commas: e.g. date,time,x-edge-location,cs-uri-stem,sc-status,x-edge-result-type.
    #[arg(long, value_name = "LIST")]
    fields: Option<String>,
    /// The columns of real-time log records, from the JSON `aws cloudfront get-realtime-log-config` prints.
    #[arg(long, value_name = "FILE", conflicts_with = "fields")]
    realtime_config: Option<PathBuf>,
}

impl LogArgs {
    /// The log inputs the arguments name, and the columns of headerless records.
    pub(crate) fn inputs(&self) -> anyhow::Result<(Vec<LogInput>, Option<Columns>)> {
        let inputs = expand_logs(&self.logs)?;
        let columns = columns(self.fields.as_deref(), self.realtime_config.as_deref())?;
        Ok((inputs, columns))
    }

    /// Threads to use: `--threads`, else every core.
    pub(crate) fn threads(&self) -> usize {
        threads(self.threads)
    }
}

/// Runs `read` (which counts the bytes it reads of `inputs`) under a progress bar saying
/// `what`; a log that cannot be read is an error with its hint.
pub(crate) fn read_logs<T>(
    inputs: &[LogInput],
    what: &'static str,
    read: impl FnOnce(&AtomicU64) -> Result<T, LogInputError>,
) -> anyhow::Result<T> {
    let counter = Arc::new(AtomicU64::new(0));
    let progress = Progress::start(counter.clone(), total_size(inputs), what);
    let result = read(&counter);
    progress.finish();
    result.map_err(|e| log_error(&e))
}

/// Reads and validates a config (Cachalot config file or AWS CLI outputs); exits 2 naming
/// the file and JSON path when it does not parse.
pub(crate) fn load_model(path: &Path, flag: &str) -> anyhow::Result<ConfigModel> {
    let inputs = Inputs::load(&[path.to_path_buf()]).map_err(|e| errors(flag, &e))?;
    if let Some((id, index)) = inputs.unresolved_behaviors.first() {
        let behavior = index.map_or("DefaultCacheBehavior".to_owned(), |i| format!("CacheBehaviors.Items[{i}]"));
        let note = inputs.notes.iter().find(|n| n.contains("get-cache-policy")).cloned().unwrap_or_default();
        return Err(hinted(
            format!("{flag} {}: distribution {id}, {behavior}: its cache policy is not in the config", path.display()),
            format!("requests cannot be keyed without it: {note}"),
        ));
    }
    let snapshot = inputs.snapshot().map_err(|e| errors(flag, &e))?;
    Ok(ConfigModel::new(&path.display().to_string(), &inputs, snapshot))
}

fn errors(flag: &str, errors: &[cachalot_doctor::input::InputError]) -> anyhow::Error {
    for e in errors.iter().skip(1) {
        eprintln!("error: {flag} {e}");
    }
    match errors.first() {
        Some(e) => hinted(
            format!("{flag} {e}"),
            e.hint.clone().unwrap_or_else(|| "give a Cachalot config file or aws cloudfront get-* JSON".into()),
        ),
        None => hinted(format!("{flag}: invalid config"), "give a Cachalot config file or aws cloudfront get-* JSON"),
    }
}

/// The columns of headerless records: `--fields` (names in the records' order) or
/// `--realtime-config` (the JSON of `aws cloudfront get-realtime-log-config`).
fn columns(fields: Option<&str>, realtime_config: Option<&Path>) -> anyhow::Result<Option<Columns>> {
    match (fields, realtime_config) {
        (Some(list), _) => Columns::from_list(list).map(Some).map_err(|e| {
            hinted(
                e,
                "name the records' columns in order, e.g. --fields date,time,x-edge-location,cs-uri-stem,sc-status",
            )
        }),
        (None, Some(path)) => {
            let name = path.display().to_string();
            let text = std::fs::read_to_string(path)
                .map_err(|e| hinted(format!("--realtime-config {name}: cannot read: {e}"), "check the path"))?;
            Columns::from_realtime_config(&name, &text).map(Some).map_err(|e| {
                hinted(
                    format!("--realtime-config {e}"),
                    "give the output of aws cloudfront get-realtime-log-config --name NAME",
                )
            })
        }
        (None, None) => Ok(None),
    }
}

/// The error of a log input, with its hint.
fn log_error(e: &LogInputError) -> anyhow::Error {
    let hint = e.hint.clone().unwrap_or_else(|| "check that the log files exist and are readable".into());
    hinted(e.to_string(), hint)
}

/// Expands log arguments (files, folders, globs, `-`).
fn expand_logs(args: &[String]) -> anyhow::Result<Vec<LogInput>> {
    logs::expand(args)
        .map_err(|e| hinted(e.to_string(), "pass CloudFront log files (.gz or plain), folders, globs or - for stdin"))
}

/// Total size of the inputs on disk, when all are files.
fn total_size(inputs: &[LogInput]) -> Option<u64> {
    inputs.iter().map(LogInput::size).sum()
}

/// Threads to use: `--threads` (at least 1, checked by the parser), else every core.
fn threads(arg: Option<u64>) -> usize {
    match arg {
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX).max(1),
        None => std::thread::available_parallelism().map_or(2, |n| n.get()),
    }
}
