//! Runs the real `cachalot` binary's doctor commands (`analyze`, `replay`) on logs and configs
//! written to a scratch folder, for the doctor's integration tests.
// Each test binary uses a different part of this module.
#![allow(dead_code)]

use cachalot_doctor::{Cause, scenario};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A scratch folder of this test binary and process, named `name`: removed by the test at its
/// end, left behind for a look when it fails.
pub(crate) fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("{}-{}-{name}", env!("CARGO_CRATE_NAME"), std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs `cachalot ARGS`; returns (exit code, stdout, stderr).
pub(crate) fn cachalot(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cachalot")).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `cachalot ARGS` that must exit 0 (stderr in the failure): its stdout as JSON.
pub(crate) fn cachalot_json(args: &[&str]) -> serde_json::Value {
    let (code, stdout, stderr) = cachalot(args);
    assert_eq!(code, 0, "cachalot {args:?}: {stderr}");
    serde_json::from_str(&stdout).unwrap()
}

/// `cachalot analyze PATH --format json EXTRA...`, which must exit 0.
pub(crate) fn analyze_json(path: &Path, extra: &[&str]) -> serde_json::Value {
    let p = path.display().to_string();
    let mut args = vec!["analyze", p.as_str(), "--format", "json"];
    args.extend_from_slice(extra);
    cachalot_json(&args)
}

/// `cachalot replay LOG --config CONFIG --format json EXTRA...`, which must exit 0.
pub(crate) fn replay_json(log: &Path, config: &Path, extra: &[&str]) -> serde_json::Value {
    let (l, c) = (log.display().to_string(), config.display().to_string());
    let mut args = vec!["replay", l.as_str(), "--config", c.as_str(), "--format", "json"];
    args.extend_from_slice(extra);
    cachalot_json(&args)
}

/// The causes of a report's `diagnosis`, in order.
pub(crate) fn causes(report: &serde_json::Value) -> Vec<&str> {
    report["diagnosis"].as_array().unwrap().iter().map(|c| c["cause"].as_str().unwrap()).collect()
}

/// Writes `text` to `dir/name`; returns the path.
pub(crate) fn write_file(dir: &Path, name: &str, text: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Writes the scenario config of `cause` to `dir/config.json`.
pub(crate) fn scenario_config(dir: &Path, cause: Cause) -> PathBuf {
    write_file(dir, "config.json", scenario::config_for(cause))
}

/// Generates the scenario of `cause` with `seed` and writes its config and a log named after
/// `unique` to `dir`; returns the scenario, the config's path and the log's path.
pub(crate) fn scenario_log(
    dir: &Path,
    cause: Cause,
    seed: u64,
    unique: &str,
) -> (scenario::Scenario, PathBuf, PathBuf) {
    let s = scenario::generate(cause, seed).unwrap();
    let (config, log) = scenario::write(dir, &s.config, &s.records, &scenario::log_file_name(unique)).unwrap();
    (s, config, log)
}
