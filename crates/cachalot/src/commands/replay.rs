//! `cachalot replay LOG... --config CANDIDATE [--baseline CURRENT]`: predicts hit ratio,
//! origin requests and origin bytes per POP under a candidate config.
//!
//! Exit codes: 0 the prediction was printed, 2 an input cannot be read or a config does not parse.

use super::analyze_io::write_stdout;
use super::replay_common::{LogArgs, load_model, read_logs};
use crate::cli_error::hinted;
use cachalot_doctor::replay::{self, Options};
use std::path::PathBuf;
use std::process::ExitCode;

/// Output formats of `replay`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// An aligned table.
    Text,
    /// JSON with stable field names.
    Json,
}

/// Arguments of `cachalot replay`.
#[derive(Debug, clap::Args)]
// Replay's threads also key the requests and run the simulations; its help says so.
#[command(mut_arg("threads", |a| a.help("Worker threads for reading, keying and simulating, at least 1 [default: every core]")))]
pub(crate) struct Args {
    /// The candidate config (Cachalot config file or AWS CLI JSON).
    #[arg(long, value_name = "CANDIDATE")]
    config: PathBuf,
    /// The current config; without it the log's own results are the baseline.
    #[arg(long, value_name = "CURRENT")]
    baseline: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Bytes each cache tier holds (LRU), e.g. 256MiB; with a disk tier, memory and disk
    /// sizes as MEMORY,DISK (256MiB,20GiB), as in `CacheSize` and `DiskCacheSize` [default: unbounded].
    #[arg(long, value_name = "SIZE[,DISK]")]
    cache_size: Option<String>,
    #[command(flatten)]
    logs: LogArgs,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (cache_size, largest_object) = match &args.cache_size {
        Some(s) => tier_sizes(s)?,
        None => (None, None),
    };
    let (inputs, columns) = args.logs.inputs()?;
    let candidate = load_model(&args.config, "--config")?;
    let baseline = match &args.baseline {
        Some(p) => Some(load_model(p, "--baseline")?),
        None => None,
    };
    let options = Options { cache_size, largest_object, threads: args.logs.threads(), columns };
    let report = read_logs(&inputs, "replaying", |counter| {
        replay::replay(&inputs, &candidate, baseline.as_ref(), &options, Some(counter))
    })?;
    for b in &report.read.first_bad {
        eprintln!("warning: {b}");
    }
    if report.read.bad_lines > 0 {
        eprintln!("warning: {} malformed line(s) skipped", report.read.bad_lines);
    }
    for t in &report.read.truncated {
        eprintln!("warning: {t} (the lines before were replayed)");
    }
    let out = match args.format {
        Format::Text => replay::text(&report),
        Format::Json => serde_json::to_string_pretty(&report)? + "\n",
    };
    write_stdout(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// `--cache-size MEMORY[,DISK]` as the edge keeps objects: without a disk tier, at most
/// MEMORY bytes and no object larger than a quarter of it; with one, every object kept in
/// memory is on disk too, so a tier holds max(MEMORY, DISK) bytes and objects up to DISK.
fn tier_sizes(text: &str) -> anyhow::Result<(Option<u64>, Option<u64>)> {
    let size = |s: &str| {
        cachalot_config::file::parse_size(&serde_json::Value::from(s.trim())).ok_or_else(|| {
            hinted(
                format!("--cache-size {text}: \"{s}\" is not a size"),
                "use bytes (268435456) or a size such as 256MiB, and MEMORY,DISK (256MiB,20GiB) with a disk tier",
            )
        })
    };
    match text.split_once(',') {
        None => {
            let memory = size(text)?;
            Ok((Some(memory), Some(memory / 4)))
        }
        Some((memory, disk)) => {
            let (memory, disk) = (size(memory)?, size(disk)?);
            Ok((Some(memory.max(disk)), Some(disk.max(memory / 4))))
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn cache_sizes_read_memory_and_disk() {
        assert_eq!(super::tier_sizes("64MiB").unwrap(), (Some(64 << 20), Some(16 << 20)));
        assert_eq!(super::tier_sizes("64MiB,2GiB").unwrap(), (Some(2 << 30), Some(2 << 30)));
        assert!(super::tier_sizes("64MiB,lots").is_err());
    }
}
