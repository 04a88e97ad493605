//! Writes a scenario's config and log, or a large realistic log for benchmarks.
//!
//! ```text
//! cargo run -p cachalot-doctor --example scenario -- CAUSE OUT_DIR      # e.g. query-strings-in-key
//! cargo run -p cachalot-doctor --release --example scenario -- bench OUT_FILE LINES
//! ```

use cachalot_doctor::{Cause, scenario};
use cachalot_telemetry::format;
use cachalot_telemetry::generate::{GenConfig, Generator};
use std::io::Write as _;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: scenario CAUSE OUT_DIR | scenario bench OUT_FILE LINES";
    match args.first().map(String::as_str) {
        Some("bench") => {
            let (Some(out), Some(lines)) = (args.get(1), args.get(2).and_then(|n| n.parse::<usize>().ok())) else {
                eprintln!("{usage}");
                std::process::exit(2);
            };
            // The telemetry crate's realistic generator (Zipf paths, junk query strings, cookies, 16 POPs).
            let mut text = Vec::with_capacity(lines * 420);
            format::write_header(&mut text);
            for g in Generator::new(GenConfig { requests_per_second: 300.0, ..GenConfig::default() }).take(lines) {
                format::write_record(&mut text, &g.record);
            }
            let mut f = std::fs::File::create(out).unwrap_or_else(|e| panic!("{out}: {e}"));
            f.write_all(&text).unwrap_or_else(|e| panic!("{out}: {e}"));
            println!("{out}: {lines} lines, {} bytes", text.len());
        }
        Some(id) => {
            let (Some(cause), Some(dir)) = (Cause::from_id(id), args.get(1)) else {
                eprintln!("{usage}");
                std::process::exit(2);
            };
            let Some(s) = scenario::generate(cause, 1) else {
                eprintln!("{id} has no traffic signature; try one of the five seed causes");
                std::process::exit(2);
            };
            let (config, log) =
                scenario::write(std::path::Path::new(dir), &s.config, &s.records, &scenario::log_file_name(id))
                    .unwrap_or_else(|e| panic!("{dir}: {e}"));
            println!(
                "{} {} ({} requests, measured hit ratio {:.1}%)",
                config.display(),
                log.display(),
                s.records.len(),
                scenario::measured_hit_ratio(&s.records)
            );
        }
        None => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    }
}
