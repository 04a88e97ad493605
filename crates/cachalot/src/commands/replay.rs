//! `cachalot replay`.

use std::process::ExitCode;

/// Arguments of `cachalot replay`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Inputs.
    #[arg(required = true)]
    inputs: Vec<String>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    Err(crate::cli_error::hinted(
        format!("`cachalot replay` is not available in this build (inputs: {})", args.inputs.join(" ")),
        "see docs/compat.md for what is implemented",
    ))
}
