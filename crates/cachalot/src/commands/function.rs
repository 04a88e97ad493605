//! `cachalot function …`.

use std::process::ExitCode;

/// `cachalot function` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Run a CloudFront Function once and print a TestFunction-shaped result.
    Test(TestArgs),
}

/// Arguments of `cachalot function test`.
#[derive(Debug, clap::Args)]
pub(crate) struct TestArgs {
    /// The function's JavaScript file.
    code: String,
    /// The event JSON file.
    #[arg(long)]
    event: String,
}

pub(crate) fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Test(args) => Err(crate::cli_error::hinted(
            format!("`cachalot function test` is not available in this build ({} / {})", args.code, args.event),
            "see docs/compat.md for what is implemented",
        )),
    }
}
