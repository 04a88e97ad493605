//! Prints the log parser's single-threaded throughput on a file (plain or gzip).
//!
//! ```text
//! cargo run --release -p cachalot-telemetry --example parse-bench -- /tmp/cf.log
//! ```
//!
//! Three passes over the same file:
//! - `split`: split every line into fields and count `x-edge-result-type` values (the same
//!   job as `awk -F'\t' '{c[$14]++}'`);
//! - `fields`: `split` plus what an analysis reads per line: timestamp, status, bytes,
//!   method, decoded URI and query, result types;
//! - `records`: a fully typed, decoded, owned `LogRecord` per line.

use cachalot_telemetry::Field;
use cachalot_telemetry::parse::LogReader;
use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Instant;

/// CPU time of this thread in seconds (Linux), so numbers hold on a busy shared machine.
fn thread_cpu_seconds() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: f64 = text.split_whitespace().next()?.parse().ok()?;
    Some(nanos / 1e9)
}

struct Timer {
    wall: Instant,
    cpu: Option<f64>,
}

fn start() -> Timer {
    Timer { wall: Instant::now(), cpu: thread_cpu_seconds() }
}

fn report(name: &str, lines: u64, errors: u64, timer: Timer) {
    let wall = timer.wall.elapsed().as_secs_f64();
    let cpu = timer.cpu.zip(thread_cpu_seconds()).map(|(a, b)| b - a);
    let per_cpu = cpu.map_or_else(|| "n/a".to_owned(), |c| format!("{:.0}", lines as f64 / c.max(1e-9)));
    println!(
        "{name:<8} {lines:>8} lines {errors:>3} errors  wall {wall:>6.3} s {:>9.0} lines/s  cpu {:>6.3} s {per_cpu:>9} lines/s",
        lines as f64 / wall.max(1e-9),
        cpu.unwrap_or(f64::NAN),
    );
}

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: parse-bench FILE");
        return ExitCode::from(2);
    };
    let open = || match LogReader::open(&path) {
        Ok(r) => Some(r),
        Err(e) => {
            eprintln!("error: {e}");
            None
        }
    };

    let Some(mut reader) = open() else { return ExitCode::from(2) };
    let started = start();
    let (mut lines, mut errors) = (0u64, 0u64);
    let mut results: HashMap<String, u64> = HashMap::new();
    while let Some(line) = reader.next_line() {
        match line {
            Ok(line) => {
                lines += 1;
                let r = line.raw(Field::EdgeResultType);
                match results.get_mut(r) {
                    Some(c) => *c += 1,
                    None => {
                        results.insert(r.to_owned(), 1);
                    }
                }
            }
            Err(_) => errors += 1,
        }
    }
    report("split", lines, errors, started);
    let mut sorted: Vec<_> = results.into_iter().collect();
    sorted.sort();
    println!("         result types: {sorted:?}");

    let Some(mut reader) = open() else { return ExitCode::from(2) };
    let started = start();
    let (mut lines, mut errors, mut bytes, mut query_chars) = (0u64, 0u64, 0u64, 0usize);
    while let Some(line) = reader.next_line() {
        let Ok(line) = line else {
            errors += 1;
            continue;
        };
        let ok = line.timestamp().is_ok() && line.status().is_ok();
        bytes += line.number(Field::ScBytes).ok().flatten().unwrap_or(0);
        query_chars +=
            line.text(Field::UriStem).len() + line.text(Field::UriQuery).len() + line.raw(Field::Method).len();
        let _ = (line.result_type(Field::EdgeResultType), line.result_type(Field::EdgeDetailedResultType));
        if ok { lines += 1 } else { errors += 1 }
    }
    report("fields", lines, errors, started);
    println!("         sc-bytes total {bytes}, uri+query chars {query_chars}");

    let Some(reader) = open() else { return ExitCode::from(2) };
    let started = start();
    let (mut lines, mut errors) = (0u64, 0u64);
    for r in reader {
        match r {
            Ok(_) => lines += 1,
            Err(_) => errors += 1,
        }
    }
    report("records", lines, errors, started);
    ExitCode::SUCCESS
}
