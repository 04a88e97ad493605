//! `cachalot analyze LOG...`: hit ratio and the reason for every miss, from access logs.
//!
//! Exit codes: 0 the report was written (malformed lines are counted and shown, not fatal),
//! 2 an input cannot be read, the config does not parse, or the output cannot be written.

use super::analyze_io::{Progress, write_output};
use super::replay_common::{columns, expand_logs, load_model, log_error, threads, total_size};
use cachalot_doctor::analyze::{self, Options};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

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
    /// CloudFront logs: files (plain or .gz; legacy standard logs, v2 w3c, json, plain or parquet,
    /// real-time log records, told apart by their content), folders, globs, or - for stdin.
    #[arg(required = true, value_name = "LOG")]
    logs: Vec<String>,
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

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let inputs = expand_logs(&args.logs)?;
    let columns = columns(args.fields.as_deref(), args.realtime_config.as_deref())?;
    let config = match &args.config {
        Some(p) => Some(load_model(p, "--config")?),
        None => None,
    };
    let counter = Arc::new(AtomicU64::new(0));
    let progress = Progress::start(counter.clone(), total_size(&inputs), "analyzing");
    let options =
        Options { top: usize::try_from(args.top).unwrap_or(usize::MAX), threads: threads(args.threads), columns };
    let result = analyze::analyze(&inputs, config.as_ref(), &options, Some(&counter));
    progress.finish();
    let report = result.map_err(|e| log_error(&e))?;
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
