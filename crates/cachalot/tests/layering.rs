//! The crate graph only points down: every dependency between Cachalot's crates
//! must be listed here (ARCHITECTURE.md, "Layers").

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// Allowed normal dependencies on other workspace crates.
fn allowed() -> BTreeMap<&'static str, &'static [&'static str]> {
    BTreeMap::from([
        ("cachalot-config", &[][..]),
        ("cachalot-sigv4", &[][..]),
        ("cachalot-policy", &["cachalot-config"][..]),
        ("cachalot-cache", &["cachalot-policy", "cachalot-config"][..]),
        ("cachalot-functions", &["cachalot-config"][..]),
        ("cachalot-telemetry", &["cachalot-policy", "cachalot-config"][..]),
        (
            "cachalot-proxy",
            &[
                "cachalot-cache",
                "cachalot-functions",
                "cachalot-telemetry",
                "cachalot-policy",
                "cachalot-config",
                "cachalot-sigv4",
            ][..],
        ),
        (
            "cachalot-control",
            &["cachalot-functions", "cachalot-telemetry", "cachalot-policy", "cachalot-config", "cachalot-sigv4"][..],
        ),
        (
            "cachalot-doctor",
            &["cachalot-cache", "cachalot-functions", "cachalot-telemetry", "cachalot-policy", "cachalot-config"][..],
        ),
        (
            "cachalot",
            &[
                "cachalot-config",
                "cachalot-sigv4",
                "cachalot-policy",
                "cachalot-cache",
                "cachalot-functions",
                "cachalot-telemetry",
                "cachalot-proxy",
                "cachalot-control",
                "cachalot-doctor",
            ][..],
        ),
        ("cachalot-test", &["cachalot-config"][..]),
    ])
}

#[test]
fn crate_dependencies_only_point_down() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo metadata");
    assert!(out.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    let allowed = allowed();
    let ours: BTreeSet<String> =
        meta["packages"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_owned()).collect();
    let mut violations = Vec::new();
    for pkg in meta["packages"].as_array().unwrap() {
        let name = pkg["name"].as_str().unwrap();
        let Some(permitted) = allowed.get(name) else {
            violations.push(format!("{name} is not in the layer table"));
            continue;
        };
        for dep in pkg["dependencies"].as_array().unwrap() {
            let dep_name = dep["name"].as_str().unwrap();
            if !ours.contains(dep_name) {
                continue;
            }
            let kind = dep["kind"].as_str().unwrap_or("normal");
            if dep_name == "cachalot-test" {
                if kind != "dev" {
                    violations.push(format!("{name} depends on cachalot-test outside dev-dependencies"));
                }
                continue;
            }
            if kind == "dev" && name != dep_name && permitted.contains(&dep_name) {
                continue;
            }
            let binary_dev_dependency = kind == "dev" && name == "cachalot";
            if !permitted.contains(&dep_name) && !binary_dev_dependency {
                violations.push(format!("{name} -> {dep_name} ({kind}) points up or sideways"));
            }
        }
    }
    assert!(violations.is_empty(), "layering violations:\n{}", violations.join("\n"));
}
