//! `render_prometheus()` must pass a real Prometheus text parser: Python's
//! `prometheus_client.parser.text_string_to_metric_families`, installed into a venv under
//! `target/`. Skipped, with a printed notice, when Python or pip is unavailable.

use cachalot_telemetry::generate::{GenConfig, Generator};
use cachalot_telemetry::{DistributionCtx, LogRecord, MetricsConfig, ResultType, Telemetry, TelemetryConfig};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

mod common;
use common::TempDir;

const REQUESTS: u64 = 3000;

const CHECK: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1], encoding="utf-8").read()
out = {}
for fam in text_string_to_metric_families(text):
    out[fam.name] = {
        "type": fam.type,
        "help": fam.documentation,
        "samples": [[s.name, s.labels, s.value] for s in fam.samples],
    }
print(json.dumps(out))
"#;

/// A venv with prometheus_client, created once under the target directory.
fn python_with_prometheus_client() -> Result<PathBuf, String> {
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("prometheus-client-venv");
    let python = venv.join("bin").join("python");
    let has_client = |py: &Path| {
        Command::new(py).args(["-c", "import prometheus_client"]).output().is_ok_and(|o| o.status.success())
    };
    if has_client(&python) {
        return Ok(python);
    }
    let created = Command::new("python3").arg("-m").arg("venv").arg(&venv).output();
    match created {
        Ok(o) if o.status.success() => {}
        Ok(o) => return Err(format!("python3 -m venv failed: {}", String::from_utf8_lossy(&o.stderr))),
        Err(e) => return Err(format!("python3 not available: {e}")),
    }
    let pip = Command::new(&python).args(["-m", "pip", "install", "--quiet", "prometheus_client"]).output();
    match pip {
        Ok(o) if o.status.success() && has_client(&python) => Ok(python),
        Ok(o) => Err(format!("pip could not install prometheus_client: {}", String::from_utf8_lossy(&o.stderr))),
        Err(e) => Err(format!("pip not available: {e}")),
    }
}

#[test]
fn prometheus_client_parses_the_exposition() {
    let python = match python_with_prometheus_client() {
        Ok(p) => p,
        Err(why) => {
            println!("SKIPPED: {why}");
            return;
        }
    };
    let telemetry = Telemetry::new(TelemetryConfig {
        metrics: MetricsConfig { max_label_sets: 500, ..MetricsConfig::default() },
        ..TelemetryConfig::default()
    })
    .unwrap();
    let generator = Generator::new(GenConfig { pops: 16, ..GenConfig::default() });
    let ctxs: Vec<DistributionCtx> = generator.distribution_ids().iter().map(|id| DistributionCtx::new(id)).collect();
    for req in generator.take(REQUESTS as usize) {
        let ctx = ctxs.iter().find(|c| c.id() == &*req.distribution_id).unwrap();
        telemetry.record(ctx, req.behavior, req.record);
    }
    // Label values that need escaping.
    let odd = LogRecord {
        edge_location: "POP \"quoted\"".into(),
        method: "GET".into(),
        status: Some(200),
        result_type: ResultType::Other("Brand-new".into()),
        time_to_first_byte: Some(Duration::from_millis(5)),
        ..LogRecord::default()
    };
    telemetry.record(&DistributionCtx::new("E\\ODD"), "/a\\b/\n*", odd);

    let text = telemetry.render_prometheus();
    let dir = TempDir::new("prometheus");
    let file = dir.0.join("metrics.txt");
    std::fs::write(&file, &text).unwrap();
    let out = Command::new(&python).arg("-c").arg(CHECK).arg(&file).output().unwrap();
    assert!(out.status.success(), "parser rejected the text: {}\n{text}", String::from_utf8_lossy(&out.stderr));
    let families: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

    let family = |name: &str| families.get(name).unwrap_or_else(|| panic!("missing family {name}"));
    let sum = |name: &str, sample: &str| -> f64 {
        family(name)["samples"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s[0] == sample)
            .map(|s| s[2].as_f64().unwrap())
            .sum()
    };
    assert_eq!(family("cachalot_edge_requests")["type"], "counter");
    assert_eq!(sum("cachalot_edge_requests", "cachalot_edge_requests_total"), (REQUESTS + 1) as f64);
    assert_eq!(family("cachalot_edge_origin_latency_seconds")["type"], "histogram");
    assert_eq!(family("cachalot_metrics_label_sets")["type"], "gauge");
    assert_eq!(family("cachalot_logs_dropped_lines")["type"], "counter");
    let results = sum("cachalot_edge_results", "cachalot_edge_results_total");
    assert_eq!(results, (REQUESTS + 1) as f64);
    let hits = sum("cachalot_edge_cache_hits", "cachalot_edge_cache_hits_total");
    let cacheable = sum("cachalot_edge_cacheable_requests", "cachalot_edge_cacheable_requests_total");
    assert!(hits > 0.0 && hits < cacheable && cacheable < REQUESTS as f64, "{hits} {cacheable}");
    // Escaped label values come back intact.
    let odd_sample = family("cachalot_edge_requests")["samples"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s[1]["distribution"] == "E\\ODD")
        .cloned()
        .expect("the odd label set");
    assert_eq!(odd_sample[1]["behavior"], "/a\\b/\n*");
    assert_eq!(odd_sample[1]["pop"], "POP \"quoted\"");
}
