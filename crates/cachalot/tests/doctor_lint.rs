//! `cachalot lint` run as a binary: scenario configs, AWS CLI outputs, formats, exit codes.

use cachalot_doctor::{Cause, scenario};
use std::path::{Path, PathBuf};
use std::process::Command;

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("doctor-lint-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn lint(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cachalot")).arg("lint").args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn each_scenario_config_names_its_cause_and_nothing_else() {
    let d = dir("scenarios");
    for cause in
        [Cause::QueryStringsInKey, Cause::CookiesInKey, Cause::AcceptOverKeyed, Cause::TtlTooShort, Cause::ColdPop]
    {
        let path = write(&d, &format!("{}.json", cause.id()), &scenario::config_for(cause));
        let (code, stdout, stderr) = lint(&[&path, "--format", "json"]);
        let v: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} {stderr}"));
        let causes: Vec<&str> = v["findings"].as_array().unwrap().iter().filter_map(|f| f["cause"].as_str()).collect();
        if cause == Cause::ColdPop {
            assert_eq!(code, 0, "{stdout}");
            assert!(causes.is_empty());
        } else {
            assert_eq!(code, 1);
            assert_eq!(causes, vec![cause.id()], "{stdout}");
        }
    }
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn text_output_snapshot() {
    let d = dir("text");
    let path = write(&d, "config.json", &scenario::config_for(Cause::QueryStringsInKey));
    let (code, stdout, _) = lint(&[&path]);
    assert_eq!(code, 1);
    insta::assert_snapshot!("lint_query_strings_text", stdout.replace(&path, "config.json"));
    std::fs::remove_dir_all(&d).ok();
}

const DIST: &str = r#"{"ETag": "E2QWRUHEXAMPLE", "DistributionConfig": {
  "CallerReference": "site", "Comment": "", "Enabled": true,
  "Origins": {"Quantity": 2, "Items": [{"Id": "s3", "DomainName": "assets.s3.amazonaws.com",
     "S3OriginConfig": {"OriginAccessIdentity": ""}},
     {"Id": "img", "DomainName": "img.example.com",
      "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"}}]},
  "DefaultCacheBehavior": {"TargetOriginId": "s3", "ViewerProtocolPolicy": "allow-all", "Compress": true,
     "CachePolicyId": "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"},
  "CacheBehaviors": {"Quantity": 2, "Items": [
     {"PathPattern": "/img/*", "TargetOriginId": "img", "ViewerProtocolPolicy": "allow-all", "Compress": true,
      "ForwardedValues": {"QueryString": false, "Cookies": {"Forward": "none"}, "Headers": {"Quantity": 1, "Items": ["*"]}},
      "MinTTL": 0, "DefaultTTL": 86400, "MaxTTL": 31536000},
     {"PathPattern": "/img/thumbs/*", "TargetOriginId": "s3", "ViewerProtocolPolicy": "allow-all", "Compress": true,
      "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}]}}}"#;

const INVALIDATION: &str = r#"{"Invalidation": {"Id": "I1", "Status": "Completed", "CreateTime": "2024-03-01T10:00:00Z",
  "InvalidationBatch": {"CallerReference": "x", "Paths": {"Quantity": 1, "Items": ["/*"]}}}}"#;

#[test]
fn aws_cli_folder_with_legacy_shadowing_caching_disabled_and_invalidations() {
    let d = dir("aws");
    write(&d, "get-distribution-config.json", DIST);
    write(&d, "get-invalidation.json", INVALIDATION);
    let (code, stdout, stderr) = lint(&[&d.display().to_string(), "--format", "json"]);
    assert_eq!(code, 1, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let rules: Vec<&str> = v["findings"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap()).collect();
    for r in
        ["caching-disabled-static", "legacy-forward-all", "shadowed-behavior", "invalidation-instead-of-versioning"]
    {
        assert!(rules.contains(&r), "{r} missing from {rules:?}");
    }
    let shadow = v["findings"].as_array().unwrap().iter().find(|f| f["code"] == "shadowed-behavior").unwrap();
    assert_eq!(shadow["path"], "$.DistributionConfig.CacheBehaviors.Items[1].PathPattern");
    assert!(shadow["file"].as_str().unwrap().ends_with("get-distribution-config.json"));
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn sarif_has_the_fields_the_2_1_0_schema_requires() {
    let d = dir("sarif");
    let path = write(&d, "config.json", &scenario::config_for(Cause::CookiesInKey));
    let (code, stdout, _) = lint(&[&path, "--format", "sarif"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    // sarifLog: version + runs; run: tool; tool: driver; toolComponent: name; result: message (text or id).
    assert_eq!(v["version"], "2.1.0");
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    let driver = &runs[0]["tool"]["driver"];
    assert_eq!(driver["name"], "cachalot");
    let rules = driver["rules"].as_array().unwrap();
    for r in rules {
        assert!(r["id"].is_string(), "reportingDescriptor.id is required");
    }
    let results = runs[0]["results"].as_array().unwrap();
    assert!(!results.is_empty());
    for r in results {
        assert!(r["message"]["text"].is_string());
        let index = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], r["ruleId"]);
        assert!(["none", "note", "warning", "error"].contains(&r["level"].as_str().unwrap()));
        let loc = &r["locations"][0];
        assert!(loc["physicalLocation"]["artifactLocation"]["uri"].is_string());
        assert!(loc["logicalLocations"][0]["fullyQualifiedName"].as_str().unwrap().starts_with("$."));
    }
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn unreadable_and_invalid_inputs_exit_2_naming_file_and_path() {
    let d = dir("bad");
    let (code, _, stderr) = lint(&[&d.join("missing.json").display().to_string()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("missing.json"), "{stderr}");

    let broken = write(&d, "broken.json", "{\n  \"Distributions\": [\n");
    let (code, _, stderr) = lint(&[&broken]);
    assert_eq!(code, 2);
    assert!(stderr.contains("broken.json: line 3"), "{stderr}");

    // A behavior pointing at a cache policy that is not given: CloudFront resolves it in the
    // account, so the rest is linted and a note names the output to pass.
    let dangling = write(&d, "dangling.json", &DIST.replace("658327ea-f89d-4fab-a63d-7e88639e58f6", "no-such-policy"));
    let (code, stdout, stderr) = lint(&[&dangling]);
    assert_ne!(code, 2, "{stderr}");
    assert!(stdout.contains("dangling.json: $.DistributionConfig.CacheBehaviors.Items[1].CachePolicyId"), "{stdout}");
    assert!(stdout.contains("aws cloudfront get-cache-policy --id no-such-policy"), "{stdout}");

    // A behavior whose origin does not exist: CloudFront refuses it too.
    let orphan =
        write(&d, "orphan.json", &DIST.replacen("\"TargetOriginId\": \"img\"", "\"TargetOriginId\": \"gone\"", 1));
    let (code, _, stderr) = lint(&[&orphan]);
    assert_eq!(code, 2);
    assert!(stderr.contains("orphan.json: $.DistributionConfig.CacheBehaviors.Items[0].TargetOriginId"), "{stderr}");
    assert!(stderr.contains("hint:"), "{stderr}");
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn logs_reveal_a_whitelisted_parameter_that_never_varies() {
    let d = dir("usage");
    let config = scenario::config_for(Cause::ColdPop).replace(
        "\"QueryStringBehavior\": \"none\"",
        "\"QueryStringBehavior\": \"whitelist\", \"QueryStrings\": {\"Quantity\": 2, \"Items\": [\"w\", \"v\"]}",
    );
    let path = write(&d, "config.json", &config);
    let mut s = scenario::generate(Cause::ColdPop, 3).unwrap();
    for (i, r) in s.records.iter_mut().enumerate() {
        r.query = format!("w={}&v=1", [320, 640, 1280][i % 3]);
    }
    let (_, log) = scenario::write(&d, &config, &s.records, "E1.2024-03-01-10.x.gz").unwrap();
    let (code, stdout, stderr) = lint(&[&path, "--format", "json", "--logs", &log.display().to_string()]);
    assert_eq!(code, 1, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let f: Vec<&serde_json::Value> =
        v["findings"].as_array().unwrap().iter().filter(|f| f["code"] == "unvaried-key-parameter").collect();
    assert_eq!(f.len(), 1, "{stdout}");
    assert!(f[0]["message"].as_str().unwrap().contains("query string v,"), "{}", f[0]["message"]);
    assert_eq!(f[0]["cause"], "query-strings-in-key");
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn functions_that_cannot_run_are_errors() {
    let d = dir("functions");
    write(&d, "strip.js", "function handler(event) {\n  class Strip {}\n  return event.request;\n}\n");
    // A config with no other finding, plus two functions.
    let mut config: serde_json::Value = serde_json::from_str(&scenario::config_for(Cause::ColdPop)).unwrap();
    config["Functions"] = serde_json::json!([
        {"Name": "strip", "FunctionConfig": {"Comment": "", "Runtime": "cloudfront-js-1.0"}, "CodeFile": "strip.js"},
        {"Name": "jwt", "FunctionConfig": {"Comment": "", "Runtime": "cloudfront-js-2.0"},
         "Code": "import crypto from 'crypto';\nimport cf from 'cloudfront';\nasync function handler(e) { return e.request; }"}
    ]);
    let path = write(&d, "config.json", &config.to_string());
    let (code, stdout, stderr) = lint(&[&path, "--format", "json"]);
    assert_eq!(code, 1, "{stdout} {stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let findings = v["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{stdout}");
    let f = &findings[0];
    assert_eq!(f["code"], "function-cannot-run");
    assert_eq!(f["severity"], "error");
    assert_eq!(f["path"], "$.Functions[0].CodeFile");
    assert!(
        f["message"].as_str().unwrap().contains("`class` is not supported by cloudfront-js-1.0 (line 2, column 3)"),
        "{f}"
    );
    std::fs::remove_dir_all(&d).ok();
}

/// A CloudFormation template and a Terraform state, as users keep them: findings name the file
/// and the resource's line in text and SARIF; what the file cannot resolve is a note.
#[test]
fn templates_and_terraform_point_at_the_resource_line() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cachalot-doctor/tests/lint_corpus");
    let template = corpus.join("cloudformation-yaml-static-site/template.yaml").display().to_string();
    let (code, stdout, stderr) = lint(&[&template]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stdout.contains("template.yaml:58 Resources.Distribution.Properties.DistributionConfig.DefaultCacheBehavior"),
        "{stdout}"
    );
    assert!(stdout.contains("note: ") && stdout.contains("parameter CertificateArn has no Default"), "{stdout}");
    let (code, stdout, _) = lint(&[&template, "--format", "sarif"]);
    assert_eq!(code, 1);
    let sarif: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let loc = &sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"];
    assert_eq!(loc["region"]["startLine"], 58, "{loc}");

    let state = corpus.join("terraform-state-json/state.json").display().to_string();
    let (code, stdout, _) = lint(&[&state, "--format", "json"]);
    assert_eq!(code, 1);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let f = &report["findings"][0];
    assert_eq!(f["code"], "cookies-in-static-key");
    assert_eq!(f["line"], 11);
    assert!(f["path"].as_str().unwrap().starts_with("module.cdn.aws_cloudfront_distribution.this[0]"), "{f}");
}

/// A cache policy the config does not hold: lint goes on with a note; replay and analyze, which
/// must key requests with it, stop and say which output to pass.
#[test]
fn an_unknown_cache_policy_is_a_note_for_lint_and_an_error_for_replay() {
    let d = dir("unknown-policy");
    let config = write(
        &d,
        "dist.json",
        &DIST.replace("658327ea-f89d-4fab-a63d-7e88639e58f6", "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"),
    );
    let (code, stdout, stderr) = lint(&[&config]);
    assert_ne!(code, 2, "{stderr}");
    assert!(stdout.contains("aws cloudfront get-cache-policy --id 0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"), "{stdout}");
    let log = write(&d, "E1.2024-03-01-10.a", "#Version: 1.0\n#Fields: date time\n");
    for command in ["replay", "analyze"] {
        let out =
            Command::new(env!("CARGO_BIN_EXE_cachalot")).args([command, &log, "--config", &config]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {stderr}");
        assert!(stderr.contains("get-cache-policy --id 0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"), "{command}: {stderr}");
    }
    std::fs::remove_dir_all(&d).ok();
}
