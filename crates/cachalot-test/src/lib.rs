//! Test support: a programmable origin that records what it receives, an HTTP
//! client for talking to POPs, and config builders.
//!
//! Only ever a dev-dependency. The origin stands in for a customer's server,
//! never for Cachalot itself.

mod client;
pub mod mmdb;
mod origin;
pub mod pg;

pub use client::{Reply as ClientReply, get, raw_exchange, request, request_h2};
pub use origin::{Failure, Recorded, Reply, TestOrigin};

use cachalot_config::validate::{Paths, Resources, build_snapshot};
use cachalot_config::{Diagnostics, Snapshot};
use std::sync::Arc;

/// Parses a config-file JSON text into resources, panicking on any error diagnostic.
pub fn resources_from_json(text: &str) -> Resources {
    let (file, diags) = cachalot_config::file::parse(text);
    assert_no_errors(&diags);
    Resources {
        distributions: file.distributions,
        cache_policies: file.cache_policies,
        origin_request_policies: file.origin_request_policies,
        response_headers_policies: file.response_headers_policies,
        functions: Vec::new(),
        key_value_stores: Vec::new(),
        log_deliveries: file.log_deliveries,
        public_keys: file.public_keys,
        key_groups: file.key_groups,
        origin_access_controls: file.origin_access_controls,
    }
}

/// Builds a snapshot from config-file JSON, panicking on any error diagnostic.
pub fn snapshot_from_json(text: &str) -> Arc<Snapshot> {
    snapshot_with_functions(text, &[])
}

/// Like [`snapshot_from_json`], with CloudFront Functions `(name, runtime, code)` published.
pub fn snapshot_with_functions(text: &str, functions: &[(&str, &str, &str)]) -> Arc<Snapshot> {
    let mut resources = resources_from_json(text);
    resources.functions = functions
        .iter()
        .map(|(name, runtime, code)| cachalot_config::model::FunctionCode {
            name: (*name).to_owned(),
            runtime: (*runtime).to_owned(),
            code: (*code).to_owned(),
            key_value_stores: Vec::new(),
        })
        .collect();
    let (snapshot, diags) = build_snapshot(&resources, &Paths::config_file());
    assert_no_errors(&diags);
    Arc::new(snapshot)
}

fn assert_no_errors(diags: &Diagnostics) {
    let errors: Vec<String> = diags
        .items()
        .iter()
        .filter(|d| d.severity == cachalot_config::Severity::Error)
        .map(|d| d.to_string())
        .collect();
    assert!(errors.is_empty(), "config has errors:\n{}", errors.join("\n"));
}

/// A one-distribution config with a custom HTTP origin at `origin` (`host:port`) and the
/// given default-behavior fields (JSON object members, e.g. `"CachePolicyId": "…"`).
pub fn single_origin_config(origin: &str, default_behavior_extra: &str, extra_top_level: &str) -> String {
    let (host, port) = origin.rsplit_once(':').unwrap_or((origin, "80"));
    format!(
        r#"{{
  "Distributions": [{{
    "Id": "E2TESTDIST0001",
    "DomainName": "d111111abcdef8.cloudfront.net",
    "DistributionConfig": {{
      "CallerReference": "test",
      "Comment": "",
      "Enabled": true,
      "Origins": {{"Quantity": 1, "Items": [{{
        "Id": "origin", "DomainName": "{host}",
        "CustomOriginConfig": {{"HTTPPort": {port}, "HTTPSPort": 443, "OriginProtocolPolicy": "http-only", "OriginReadTimeout": 5}}
      }}]}},
      "DefaultCacheBehavior": {{
        "TargetOriginId": "origin",
        "ViewerProtocolPolicy": "allow-all"{sep}{default_behavior_extra}
      }}
    }}
  }}]{top_sep}{extra_top_level}
}}"#,
        sep = if default_behavior_extra.trim().is_empty() { "" } else { ",\n        " },
        top_sep = if extra_top_level.trim().is_empty() { "" } else { ",\n  " },
    )
}

/// Files under `dir`, at any depth, whose extension is one of `extensions`: what a disk
/// cache folder holds (`obj` finished, `tmp` being written), for tests that look at it.
pub fn files_with_extension(dir: &std::path::Path, extensions: &[&str]) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().and_then(|x| x.to_str()).is_some_and(|x| extensions.contains(&x)) {
                out.push(p);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_throwaway_postgres_cluster_starts_and_stops() {
        let Some(cluster) = crate::pg::PgCluster::require() else { return };
        let url = cluster.database();
        assert!(url.starts_with("postgres://postgres@127.0.0.1:"), "{url}");
        cluster.stop_immediately();
        assert!(std::net::TcpStream::connect(("127.0.0.1", cluster.port)).is_err(), "stopped");
        assert!(cluster.resume(), "started again");
    }
}
