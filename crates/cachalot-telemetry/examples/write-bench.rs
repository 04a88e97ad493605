//! Prints the access log writer's throughput per file format: metrics alone, the legacy
//! standard log, and standard logging (v2) as json, plain, w3c and parquet with CloudFront's
//! 35 default fields.
//!
//! ```text
//! cargo run --release -p cachalot-telemetry --example write-bench -- --records 200000 --dir /tmp/wb
//! ```
//!
//! For each format the same generated records go through [`Telemetry::record_with`], the call
//! the edge makes once per request, then [`Telemetry::shutdown`] publishes the files. Printed:
//! - `request`: records per second of the calling thread's CPU time (metrics, formatting the
//!   record, queueing it): what a request pays;
//! - `writer`: records per second of the writer thread's CPU time (compression, parquet
//!   encoding, files);
//! - `end to end`: records per second of wall time from the first record to the last file
//!   published (both threads at work at once);
//! - bytes per record in the published files, and the records written and dropped (the queue
//!   holds every record, so none should be).

use cachalot_config::logging::{DEFAULT_FIELDS, LogDelivery, OutputFormat};
use cachalot_telemetry::generate::{GenConfig, GeneratedRequest, Generator};
use cachalot_telemetry::{DistributionCtx, LogDestination, RecordExtras, SinkConfig, Telemetry, TelemetryConfig};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// CPU seconds of one thread of this process (Linux `schedstat`), `None` elsewhere.
fn cpu_seconds(task: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(task.join("schedstat")).ok()?;
    let nanos: f64 = text.split_whitespace().next()?.parse().ok()?;
    Some(nanos / 1e9)
}

/// The writer thread's `/proc` folder (it is named `cachalot-logs`).
fn writer_task() -> Option<PathBuf> {
    std::fs::read_dir("/proc/self/task")
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|task| std::fs::read_to_string(task.join("comm")).is_ok_and(|name| name.trim() == "cachalot-logs"))
}

/// Bytes of the files under `dir`, recursively.
fn bytes_under(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => stack.push(e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

fn delivery(distribution_id: &str, format: OutputFormat) -> LogDelivery {
    LogDelivery {
        id: format!("bench{}", format.as_str()),
        distribution_id: distribution_id.to_owned(),
        account_id: "123456789012".into(),
        bucket: "logs".into(),
        prefix: format.as_str().into(),
        format,
        fields: DEFAULT_FIELDS.to_vec(),
        delimiter: "\t".into(),
        suffix_path: "{DistributionId}/{yyyy}/{MM}/{dd}/{HH}".into(),
        hive: false,
        include_cookies: true,
    }
}

/// Runs one format over `records`; prints its line.
fn run(
    name: &str,
    records: &[GeneratedRequest],
    dir: &Path,
    format: Option<Option<OutputFormat>>,
) -> Result<(), String> {
    let out = dir.join(name);
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let telemetry = Telemetry::new(TelemetryConfig {
        sink: SinkConfig { capacity: records.len() + 1, flush_interval: Duration::from_secs(3600) },
        ..TelemetryConfig::default()
    })
    .map_err(|e| e.to_string())?;
    let ctx = |id: &str| {
        let ctx = DistributionCtx::new(id);
        match format {
            None => ctx,
            Some(None) => ctx.with_logs(LogDestination::new(&out, "legacy/", id), true),
            Some(Some(f)) => ctx.with_delivery(LogDestination::v2(&out, delivery(id, f))),
        }
    };
    let mut ctxs: std::collections::HashMap<&str, DistributionCtx> = std::collections::HashMap::new();
    for r in records {
        ctxs.entry(&r.distribution_id).or_insert_with(|| ctx(&r.distribution_id));
    }
    let input: Vec<GeneratedRequest> = records.to_vec();
    let extras = RecordExtras {
        origin_fbl: Some(Duration::from_millis(12)),
        origin_lbl: Some(Duration::from_millis(15)),
        asn: Some(16509),
        country: "DE".into(),
        connection_id: "kYbxLkDn7ADW5rBcS1n-kBsS1vu1qMlm0R3qTlpkhWAtlyFoLEt5Iw==".into(),
    };
    let this_thread = PathBuf::from("/proc/thread-self");
    let writer = writer_task();
    let (writer_before, request_before) = (writer.as_deref().and_then(cpu_seconds), cpu_seconds(&this_thread));
    let wall = Instant::now();
    for r in input {
        if let Some(ctx) = ctxs.get(&*r.distribution_id) {
            telemetry.record_with(ctx, r.behavior, r.record, &extras);
        }
    }
    let request_cpu = request_before.zip(cpu_seconds(&this_thread)).map(|(a, b)| b - a);
    // Every file published (parquet encoded); the writer's CPU read before it exits.
    telemetry.flush();
    let wall = wall.elapsed().as_secs_f64();
    let writer_cpu = writer_before.zip(writer.as_deref().and_then(cpu_seconds)).map(|(a, b)| b - a);
    telemetry.shutdown();
    let stats = telemetry.sink().stats();
    let n = records.len() as f64;
    let rate = |secs: Option<f64>| secs.map_or_else(|| "n/a".to_owned(), |s| format!("{:.0}", n / s.max(1e-9)));
    let written = stats.written.load(Ordering::Relaxed);
    let bytes = bytes_under(&out);
    println!(
        "{name:<8} request {:>9} rec/s  writer {:>9} rec/s  end to end {:>9.0} rec/s  {:>6.1} B/rec  written {written} dropped {}",
        rate(request_cpu),
        if format.is_none() { "-".to_owned() } else { rate(writer_cpu) },
        n / wall.max(1e-9),
        if written == 0 { 0.0 } else { bytes as f64 / written as f64 },
        stats.dropped.load(Ordering::Relaxed),
    );
    let _ = std::fs::remove_dir_all(&out);
    Ok(())
}

fn main() -> ExitCode {
    let mut records = 200_000usize;
    let mut dir = std::env::temp_dir().join(format!("cachalot-write-bench-{}", std::process::id()));
    let mut only: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next();
        match (arg.as_str(), value) {
            ("--records", Some(v)) => match v.parse() {
                Ok(n) => records = n,
                Err(_) => {
                    eprintln!("error: --records takes a number, not `{v}`");
                    return ExitCode::from(2);
                }
            },
            ("--dir", Some(v)) => dir = PathBuf::from(v),
            ("--format", Some(v)) => only = Some(v),
            _ => {
                eprintln!("usage: write-bench [--records N] [--dir DIR] [--format none|legacy|json|plain|w3c|parquet]");
                return ExitCode::from(2);
            }
        }
    }
    // Fast enough that the records fall in one or two hours (one file per format and hour).
    let cfg = GenConfig { requests_per_second: 1000.0, distributions: 1, ..GenConfig::default() };
    let generated: Vec<GeneratedRequest> = Generator::new(cfg).take(records).collect();
    println!("{records} records, {} cores, load {}", std::thread::available_parallelism().map_or(1, |n| n.get()), {
        std::fs::read_to_string("/proc/loadavg").unwrap_or_default().split(' ').take(3).collect::<Vec<_>>().join(" ")
    });
    let formats: [(&str, Option<Option<OutputFormat>>); 6] = [
        ("none", None),
        ("legacy", Some(None)),
        ("json", Some(Some(OutputFormat::Json))),
        ("plain", Some(Some(OutputFormat::Plain))),
        ("w3c", Some(Some(OutputFormat::W3c))),
        ("parquet", Some(Some(OutputFormat::Parquet))),
    ];
    for (name, format) in formats {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        if let Err(e) = run(name, &generated, &dir, format) {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    ExitCode::SUCCESS
}
