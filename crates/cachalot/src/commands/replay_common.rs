//! Loading a config for `analyze --config` and `replay --config/--baseline`, and expanding log
//! arguments, with errors that name the file.

use crate::cli_error::hinted;
use cachalot_doctor::formats::Columns;
use cachalot_doctor::input::Inputs;
use cachalot_doctor::logs::{self, LogInput, LogInputError};
use cachalot_doctor::replay::ConfigModel;
use std::path::Path;

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
pub(crate) fn columns(fields: Option<&str>, realtime_config: Option<&Path>) -> anyhow::Result<Option<Columns>> {
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
pub(crate) fn log_error(e: &LogInputError) -> anyhow::Error {
    let hint = e.hint.clone().unwrap_or_else(|| "check that the log files exist and are readable".into());
    hinted(e.to_string(), hint)
}

/// Expands log arguments (files, folders, globs, `-`).
pub(crate) fn expand_logs(args: &[String]) -> anyhow::Result<Vec<LogInput>> {
    logs::expand(args)
        .map_err(|e| hinted(e.to_string(), "pass CloudFront log files (.gz or plain), folders, globs or - for stdin"))
}

/// Total size of the inputs on disk, when all are files.
pub(crate) fn total_size(inputs: &[LogInput]) -> Option<u64> {
    inputs.iter().map(LogInput::size).sum()
}

/// Threads to use: `--threads` (at least 1, checked by the parser), else every core.
pub(crate) fn threads(arg: Option<u64>) -> usize {
    match arg {
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX).max(1),
        None => std::thread::available_parallelism().map_or(2, |n| n.get()),
    }
}
