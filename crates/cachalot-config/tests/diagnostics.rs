//! Config validation as data: `tests/diagnostics/<code>.json` is a config file that draws
//! diagnostic `<code>`; its diagnostics (every one of the file, in order: severity, code, JSON
//! path, message, hint) are kept as an insta snapshot in `tests/snapshots/`. Every code
//! `cachalot-config` can emit has its fixture: a test reads the codes from the sources and fails
//! on one without a fixture, or on a fixture for a code no longer emitted.
//!
//! The harness runs what `serve --config` and `lint` run: [`file::parse`], then
//! [`validate::build_snapshot`] with the config file's paths (functions give their `Code` inline).

use cachalot_config::diag::Diagnostic;
use cachalot_config::file;
use cachalot_config::model::{FunctionCode, KeyValueStore};
use cachalot_config::validate::{self, Paths, Resources};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/diagnostics")
}

/// Every diagnostic of a config file, as `serve --config` reports them.
fn diagnose(text: &str) -> Vec<Diagnostic> {
    let (file, diags) = file::parse(text);
    let mut out = diags.into_vec();
    let resources = Resources {
        distributions: file.distributions.clone(),
        cache_policies: file.cache_policies.clone(),
        origin_request_policies: file.origin_request_policies.clone(),
        response_headers_policies: file.response_headers_policies.clone(),
        functions: file
            .functions
            .iter()
            .filter_map(|f| {
                Some(FunctionCode {
                    name: f.name.clone(),
                    runtime: f.runtime.clone(),
                    code: f.code.clone()?,
                    key_value_stores: f.key_value_stores.clone(),
                })
            })
            .collect(),
        key_value_stores: file
            .key_value_stores
            .iter()
            .map(|k| KeyValueStore {
                name: k.name.clone(),
                id: file::uuid_from(&k.name),
                items: k.items.clone().into_iter().collect(),
            })
            .collect(),
        log_deliveries: file.log_deliveries.clone(),
        public_keys: file.public_keys.clone(),
        key_groups: file.key_groups.clone(),
        origin_access_controls: file.origin_access_controls.clone(),
    };
    let (_, diags) = validate::build_snapshot(&resources, &Paths::config_file());
    out.extend(diags.into_vec());
    out
}

fn fixture_codes() -> BTreeSet<String> {
    std::fs::read_dir(fixtures())
        .unwrap()
        .filter_map(|e| {
            let path = e.unwrap().path();
            (path.extension()? == "json").then(|| path.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect()
}

#[test]
fn every_fixture_draws_its_code_and_matches_its_snapshot() {
    let codes = fixture_codes();
    assert!(!codes.is_empty());
    for code in &codes {
        let text = std::fs::read_to_string(fixtures().join(format!("{code}.json"))).unwrap();
        let diagnostics = diagnose(&text);
        assert!(diagnostics.iter().any(|d| &d.code == code), "{code}.json does not draw {code}: {diagnostics:#?}");
        insta::with_settings!({ snapshot_path => "snapshots", prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_json_snapshot!(code.as_str(), diagnostics);
        });
    }
}

/// The codes the sources can emit: CloudFront's error codes written as literals (also those passed
/// on as arguments, such as `TooManyHeadersInCachePolicy`) and Cachalot's kebab-case codes given
/// to `error`, `warning` or `note`.
fn emitted_codes() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for source in ["src/validate.rs", "src/file.rs"] {
        let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(source)).unwrap();
        let text = text.split("#[cfg(test)]").next().unwrap_or_default();
        for literal in text.split('"').skip(1).step_by(2) {
            let cloudfront =
                ["Invalid", "TooMany", "NoSuch", "Inconsistent", "CNAME"].iter().any(|p| literal.starts_with(p))
                    && literal.bytes().all(|b| b.is_ascii_alphanumeric());
            if cloudfront {
                out.insert(literal.to_owned());
            }
        }
        for call in [".error(", ".warning(", ".note("] {
            for rest in text.split(call).skip(1) {
                let rest = rest.trim_start();
                let Some(rest) = rest.strip_prefix('"') else { continue };
                let code = rest.split('"').next().unwrap_or_default();
                if code.contains('-') {
                    out.insert(code.to_owned());
                }
            }
        }
    }
    out
}

#[test]
fn every_code_the_sources_emit_has_a_fixture() {
    let emitted = emitted_codes();
    let fixtures = fixture_codes();
    let missing: Vec<_> = emitted.difference(&fixtures).collect();
    let stale: Vec<_> = fixtures.difference(&emitted).collect();
    assert!(missing.is_empty(), "codes without a fixture in tests/diagnostics: {missing:?}");
    assert!(stale.is_empty(), "fixtures for codes the sources no longer emit: {stale:?}");
    assert!(emitted.len() >= 30, "the code scan found too little: {emitted:?}");
}
