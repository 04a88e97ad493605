//! `cachalot analyze LOG...`: hit ratio and the reason for every miss, from access logs.
//!
//! Exit codes: 0 the report was written (malformed lines are counted and shown, not fatal),
//! 2 an input cannot be read, the config does not parse, or the output cannot be written.

use super::analyze_io::write_output;
use super::replay_common::{LogArgs, load_model, read_logs};
use cachalot_doctor::analyze::{self, Options};
use std::path::PathBuf;
use std::process::ExitCode;

/// Output formats of `analyze`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// Aligned tables in plain words.
    Text,
    /// JSON with stable field names.
    Json,
    /// A self-contained HTML page with charts.
    Html,
}

/// Arguments of `cachalot analyze`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Write the report to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Rows in each table, at least 1.
    #[arg(long, default_value_t = 20, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    top: u64,
    /// The config the logs were served under: keys requests exactly as the edge does.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(flatten)]
    logs: LogArgs,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (inputs, columns) = args.logs.inputs()?;
    let config = match &args.config {
        Some(p) => Some(load_model(p, "--config")?),
        None => None,
    };
    let options =
        Options { top: usize::try_from(args.top).unwrap_or(usize::MAX), threads: args.logs.threads(), columns };
    let report =
        read_logs(&inputs, "analyzing", |counter| analyze::analyze(&inputs, config.as_ref(), &options, Some(counter)))?;
    for b in &report.first_bad {
        eprintln!("warning: {}:{}: {}", b.file, b.line, b.message);
    }
    if report.bad_lines > report.first_bad.len() as u64 {
        eprintln!("warning: {} malformed line(s) skipped in all", report.bad_lines);
    }
    for t in &report.truncated {
        eprintln!("warning: {}:{}: {} (the lines before were analysed)", t.file, t.line, t.message);
    }
    let text = match args.format {
        Format::Text => analyze::text(&report),
        Format::Json => serde_json::to_string_pretty(&report)? + "\n",
        Format::Html => analyze::html(&report),
    };
    write_output(args.output.as_deref(), &text)?;
    Ok(ExitCode::SUCCESS)
}
