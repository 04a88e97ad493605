//! `cachalot lint`: static analysis of a config file or AWS CLI JSON outputs.
//!
//! Exit codes: 0 no findings, 1 findings, 2 unreadable or invalid input (each problem
//! named with its file and JSON path).

use crate::cli_error::hinted;
use cachalot_doctor::input::Inputs;
use cachalot_doctor::lint::{self, Context, report, usage::KeyUsage};
use std::path::PathBuf;
use std::process::ExitCode;

/// Output formats of `lint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// Aligned table and plain-words details.
    Text,
    /// JSON with stable field names.
    Json,
    /// SARIF 2.1.0 (code scanning).
    Sarif,
}

/// Arguments of `cachalot lint`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Config file, AWS CLI JSON outputs (get-distribution-config, get-cache-policy, list-*, …), CloudFormation
    /// templates (JSON, YAML, cdk synth), terraform show -json, Terraform .tf files, or folders of them.
    #[arg(required = true, value_name = "PATH")]
    inputs: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Access logs (files, folders, globs) to check which whitelisted key parameters actually vary.
    #[arg(long, value_name = "LOG", num_args = 1..)]
    logs: Vec<String>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let inputs = Inputs::load(&args.inputs).map_err(|errors| input_errors(&errors))?;
    let snapshot = inputs.snapshot().map_err(|errors| input_errors(&errors))?;
    let mut notes = inputs.notes.clone();
    let usage = if args.logs.is_empty() {
        None
    } else {
        let logs = cachalot_doctor::logs::expand(&args.logs)
            .map_err(|e| hinted(format!("--logs {e}"), "pass access log files, folders or globs"))?;
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let (usage, stats) = KeyUsage::from_logs(&snapshot, &logs, threads)
            .map_err(|e| hinted(format!("--logs {e}"), "check that the log files are readable"))?;
        if stats.bad_lines > 0 {
            notes.push(format!("{} malformed log line(s) skipped", stats.bad_lines));
        }
        Some(usage)
    };
    let cx = Context { inputs: &inputs, snapshot: &snapshot, usage: usage.as_ref() };
    let findings = lint::lint(&cx);
    let out = match args.format {
        Format::Text => report::text(&findings, &inputs.files, &notes),
        Format::Json => pretty(&report::json(&findings, &inputs.files, &notes)),
        Format::Sarif => pretty(&report::sarif(&findings, env!("CARGO_PKG_VERSION"))),
    };
    super::analyze_io::write_stdout(&out)?;
    Ok(if findings.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn pretty(v: &serde_json::Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

fn input_errors(errors: &[cachalot_doctor::input::InputError]) -> anyhow::Error {
    for e in errors.iter().skip(1) {
        eprintln!("error: {e}");
        if let Some(h) = &e.hint {
            eprintln!("  hint: {h}");
        }
    }
    match errors.first() {
        Some(first) => {
            hinted(first.to_string(), first.hint.clone().unwrap_or_else(|| "fix the input named above".to_owned()))
        }
        None => hinted("invalid input", "check the files given"),
    }
}
