//! `cachalot serve`.

use std::process::ExitCode;

/// Arguments of `cachalot serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Config file (JSON; CloudFront resources in the AWS CLI's shapes).
    #[arg(long)]
    config: Option<String>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    Err(crate::cli_error::hinted(format!("serve is not available yet ({:?})", args.config), "see docs/compat.md"))
}
