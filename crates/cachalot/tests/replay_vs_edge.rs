//! `cachalot replay` against the real edge: the edge serves traffic under a known config and
//! writes its access logs; replaying those logs under the same config must predict the hit
//! ratio the edge measured (its `/metrics`) within one percentage point.

#[path = "serve/support.rs"]
mod support;

use std::process::Command;
use support::{Serve, TempDir, header, http_get, prometheus_sum};

const DOMAIN: &str = "d3replay0test.cloudfront.net";

#[test]
fn replay_predicts_the_hit_ratio_the_edge_measured() {
    let dir = TempDir::new("replay-edge");
    support::write_site(&dir.0, (0..20).map(|i| (format!("f{i}.css"), format!("/* {i} */ body {{}}\n").repeat(30))));
    // Query strings in the key: the fragmentation the doctor exists for.
    let policy = "11111111-2222-3333-4444-555555555555";
    let distribution = support::logged_site_distribution("E3REPLAY1TEST1", DOMAIN, "", policy);
    let second = support::write_two_pop_node(
        &dir.0,
        &format!(
            r#""CachePolicies": [{{"Id": "{policy}", "CachePolicyConfig": {{
                "Name": "all-query-strings", "DefaultTTL": 86400, "MaxTTL": 31536000, "MinTTL": 0,
                "ParametersInCacheKeyAndForwardedToOrigin": {{"EnableAcceptEncodingGzip": false, "EnableAcceptEncodingBrotli": false,
                    "HeadersConfig": {{"HeaderBehavior": "none"}}, "QueryStringsConfig": {{"QueryStringBehavior": "all"}},
                    "CookiesConfig": {{"CookieBehavior": "none"}}}}}}}}],
            "Distributions": [{distribution}]"#
        ),
    );
    let serve = Serve::start(&["--config", "node.json", "--state", "state"], &dir.0);
    let pops = [serve.pop, second];
    let mut results = std::collections::HashMap::new();
    for n in 0..600usize {
        // 20 objects × 7 query variants, spread unevenly over two POPs.
        let path = format!("/f{}.css?v={}", (n * 7) % 20, (n * 3) % 7);
        let (status, h, _) = http_get(pops[usize::from(n % 3 == 0)], &path, &[("host", DOMAIN)]);
        assert_eq!(status, 200, "{path}");
        *results.entry(header(&h, "x-cache").to_owned()).or_insert(0) += 1;
    }
    let (_, _, metrics) = http_get(serve.admin, "/metrics", &[]);
    let metrics = String::from_utf8(metrics).unwrap();
    let measured = 100.0 * prometheus_sum(&metrics, "cachalot_edge_cache_hits_total") as f64
        / prometheus_sum(&metrics, "cachalot_edge_cacheable_requests_total") as f64;
    assert!(measured > 20.0 && measured < 90.0, "an uninformative mix: {measured}% ({results:?})");
    assert!(serve.stop().success());

    let out = Command::new(env!("CARGO_BIN_EXE_cachalot"))
        .args(["replay", "logs", "--config", "node.json", "--format", "json"])
        .current_dir(&dir.0)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let candidate = &v["total"]["candidate"];
    let requests = candidate["requests"].as_f64().unwrap();
    assert_eq!(requests, 600.0, "{v}");
    let predicted = 100.0 * (requests - candidate["misses"].as_f64().unwrap()) / requests;
    assert!((predicted - measured).abs() < 1.0, "replay predicted {predicted:.2}%, the edge measured {measured:.2}%");
}
