//! Writes realistic, deterministic CloudFront standard logs.
//!
//! ```text
//! cargo run --release -p cachalot-telemetry --example gen-logs -- --lines 1000000 --output /tmp/cf.log
//! cargo run --release -p cachalot-telemetry --example gen-logs -- --lines 50000 --cloudfront-dir fixtures/logs
//! ```
//!
//! Options (defaults in brackets): `--lines N` [1000000], `--seed S` [1], `--distributions N` [2],
//! `--pops N` [6], `--paths N` [5000], `--query-junk F` [0.2], `--cookies F` [0.3],
//! `--mix hit=70,refresh=4,miss=20,error=4,redirect=1,function=1`, `--rps R` [200],
//! `--start UNIX_SECONDS` [1709287200 = 2024-03-01T10:00:00Z], `--gzip`, `--output FILE` [stdout],
//! `--cloudfront-dir DIR` (instead of one file: CloudFront's layout, one gzip file per
//! distribution and hour, `--prefix P` inside DIR, written by the real log sink).

use cachalot_telemetry::generate::{GenConfig, Generator, ResultMix};
use cachalot_telemetry::{DistributionCtx, LogDestination, SinkConfig, Telemetry, TelemetryConfig, format};
use flate2::Compression;
use flate2::write::GzEncoder;
use std::collections::HashMap;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

struct Args {
    lines: u64,
    gen_config: GenConfig,
    gzip: bool,
    output: Option<String>,
    cloudfront_dir: Option<String>,
    prefix: String,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        lines: 1_000_000,
        gen_config: GenConfig::default(),
        gzip: false,
        output: None,
        cloudfront_dir: None,
        prefix: String::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--gzip" {
            args.gzip = true;
            continue;
        }
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let num = |v: &str| v.parse::<f64>().map_err(|_| format!("{flag}: not a number: {v}"));
        let int = |v: &str| v.parse::<u64>().map_err(|_| format!("{flag}: not a whole number: {v}"));
        let c = &mut args.gen_config;
        match flag.as_str() {
            "--lines" => args.lines = int(&value)?,
            "--seed" => c.seed = int(&value)?,
            "--distributions" => c.distributions = int(&value)? as usize,
            "--pops" => c.pops = int(&value)? as usize,
            "--paths" => c.paths = int(&value)? as usize,
            "--query-junk" => c.query_junk = num(&value)?,
            "--cookies" => c.cookies = num(&value)?,
            "--mix" => c.mix = ResultMix::parse(&value)?,
            "--rps" => c.requests_per_second = num(&value)?,
            "--start" => c.start = SystemTime::UNIX_EPOCH + Duration::from_secs(int(&value)?),
            "--output" => args.output = Some(value),
            "--cloudfront-dir" => args.cloudfront_dir = Some(value),
            "--prefix" => args.prefix = value,
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(args)
}

fn write_file(args: &Args) -> io::Result<()> {
    let out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::fs::File::create(path)?),
        None => Box::new(io::stdout().lock()),
    };
    let mut out: Box<dyn Write> = if args.gzip {
        Box::new(BufWriter::with_capacity(1 << 20, GzEncoder::new(out, Compression::default())))
    } else {
        Box::new(BufWriter::with_capacity(1 << 20, out))
    };
    let mut buf = Vec::with_capacity(1 << 20);
    format::write_header(&mut buf);
    for req in Generator::new(args.gen_config.clone()).take(args.lines as usize) {
        format::write_record(&mut buf, &req.record);
        if buf.len() > (1 << 20) - 4096 {
            out.write_all(&buf)?;
            buf.clear();
        }
    }
    out.write_all(&buf)?;
    out.flush()
}

fn write_cloudfront_dir(args: &Args, dir: &str) -> io::Result<()> {
    let telemetry = Telemetry::new(TelemetryConfig {
        sink: SinkConfig { flush_interval: Duration::from_secs(3600), ..SinkConfig::default() },
        ..TelemetryConfig::default()
    })?;
    let generator = Generator::new(args.gen_config.clone());
    let ctxs: HashMap<Arc<str>, DistributionCtx> = generator
        .distribution_ids()
        .into_iter()
        .map(|id| {
            let ctx = DistributionCtx::new(&id).with_logs(LogDestination::new(dir, &args.prefix, &id), true);
            (id, ctx)
        })
        .collect();
    for (n, req) in generator.take(args.lines as usize).enumerate() {
        telemetry.record(&ctxs[&req.distribution_id], req.behavior, req.record);
        // Keep the queue short: this program has no request path to protect.
        if n % 50_000 == 49_999 {
            telemetry.flush();
        }
    }
    telemetry.shutdown();
    let dropped = telemetry.sink().stats().dropped.load(std::sync::atomic::Ordering::Relaxed);
    if dropped > 0 {
        return Err(io::Error::other(format!("{dropped} lines dropped")));
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("error: {e}");
            }
            eprintln!(
                "usage: gen-logs [--lines N] [--seed S] [--distributions N] [--pops N] [--paths N] [--query-junk F] [--cookies F] [--mix SPEC] [--rps R] [--start UNIX] [--gzip] [--output FILE | --cloudfront-dir DIR [--prefix P]]"
            );
            return ExitCode::from(2);
        }
    };
    let result = match &args.cloudfront_dir {
        Some(dir) => write_cloudfront_dir(&args, dir),
        None => write_file(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
