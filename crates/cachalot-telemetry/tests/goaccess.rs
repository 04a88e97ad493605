//! A real third-party reader: GoAccess's predefined `CLOUDFRONT` format must read the
//! files the sink writes and count the same requests. Skipped, with a printed notice,
//! when `goaccess` is not installed (`apt-get install -y goaccess`).

use cachalot_telemetry::generate::{GenConfig, Generator};
use cachalot_telemetry::parse::LogReader;
use cachalot_telemetry::{DistributionCtx, LogDestination, ResultType, Telemetry, TelemetryConfig};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;

mod common;
use common::{TempDir, available, files_under};

const REQUESTS: usize = 5000;

#[test]
fn goaccess_counts_the_same_requests() {
    if !available("goaccess") {
        println!("SKIPPED: goaccess not installed");
        return;
    }
    let dir = TempDir::new("goaccess");
    let logs = dir.0.join("bucket");
    let telemetry = Telemetry::new(TelemetryConfig::default()).unwrap();
    // About three hours of traffic over two distributions: several files.
    let generator = Generator::new(GenConfig { requests_per_second: 0.5, ..GenConfig::default() });
    let ctxs: HashMap<Arc<str>, DistributionCtx> = generator
        .distribution_ids()
        .into_iter()
        .map(|id| {
            let ctx = DistributionCtx::new(&id).with_logs(LogDestination::new(&logs, "cf/", &id), true);
            (id, ctx)
        })
        .collect();
    for req in generator.take(REQUESTS) {
        telemetry.record(&ctxs[&req.distribution_id], req.behavior, req.record);
    }
    telemetry.shutdown();

    let files = files_under(&logs);
    assert!(files.len() >= 4, "{files:?}");
    // GoAccess 1.7 as packaged does not read gzip: feed it the decompressed files, headers
    // and all, the way `zcat *.gz | goaccess -` does.
    let mut plain = Vec::new();
    let mut ours = 0usize;
    let mut our_hits = 0usize;
    for f in &files {
        flate2::read::GzDecoder::new(std::fs::File::open(f).unwrap()).read_to_end(&mut plain).unwrap();
        for r in LogReader::open(f).unwrap() {
            let r = r.unwrap();
            ours += 1;
            our_hits += usize::from(r.result_type == ResultType::Hit);
        }
    }
    assert_eq!(ours, REQUESTS);

    let report = dir.0.join("report.json");
    let mut child = Command::new("goaccess")
        .args(["-", "--log-format=CLOUDFRONT", "--no-global-config", "-o"])
        .arg(&report)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&plain).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "goaccess failed: {}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let general = &json["general"];
    assert_eq!(general["valid_requests"].as_u64(), Some(REQUESTS as u64), "{general}");
    assert_eq!(general["failed_requests"].as_u64(), Some(0), "{general}");
    // GoAccess maps x-edge-result-type to its cache-status panel (it only knows Hit and Miss).
    let hits = json["cache_status"]["data"]
        .as_array()
        .and_then(|rows| rows.iter().find(|row| row["data"] == "Hit"))
        .and_then(|row| row["hits"]["count"].as_u64());
    assert_eq!(hits, Some(our_hits as u64));
}
