//! The `cachalot` binary: argument parsing, one module per command, printing and exit codes.
//!
//! Business logic lives in the library crates; this crate wires them together.
//! Exit codes: 0 success / no findings, 1 findings, 2 usage, input or I/O error.

mod cli_error;
mod commands;
mod dashboard;
mod setup;
mod wiring;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// A CloudFront-compatible CDN edge and a doctor for cache hit ratio.
#[derive(Debug, Parser)]
#[command(name = "cachalot", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the edge: POP listeners (data plane) and the admin listener (API, metrics, dashboard).
    Serve(commands::serve::Args),
    /// Diagnose a URL's caching the way the CloudFront cache-miss guide does, automatically.
    Probe(commands::probe::Args),
    /// Check a config file or AWS CLI JSON outputs for settings that hurt the hit ratio.
    Lint(commands::lint::Args),
    /// Read CloudFront standard access logs and explain the hit ratio and every miss.
    Analyze(commands::analyze::Args),
    /// Replay logged requests under a candidate config and predict the hit ratio.
    Replay(commands::replay::Args),
    /// Work with CloudFront Functions.
    #[command(subcommand)]
    Function(commands::function::Command),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Serve(args) => commands::serve::run(args),
        Command::Probe(args) => commands::probe::run(args),
        Command::Lint(args) => commands::lint::run(args),
        Command::Analyze(args) => commands::analyze::run(args),
        Command::Replay(args) => commands::replay::run(args),
        Command::Function(cmd) => commands::function::run(cmd),
    };
    match result {
        Ok(code) => code,
        Err(e) => cli_error::report(&e),
    }
}
