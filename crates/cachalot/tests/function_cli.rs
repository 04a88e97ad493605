//! `cachalot function test` run as a user runs it: the built binary, the example functions, exit codes.

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../cachalot-functions/tests/functions")
}

/// The seed's Accept-normalising function, kept once with the examples users copy
/// (relative to the test functions' folder, where the CLI runs).
const NORMALIZE_ACCEPT: &str = "../../../../examples/functions/normalize-accept.js";

fn cachalot(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cachalot"))
        .args(args)
        .current_dir(examples())
        .output()
        .expect("the cachalot binary runs")
}

/// Runs `function test` and returns the exit code and the printed TestResult.
fn test_result(args: &[&str]) -> (i32, Value) {
    let mut all = vec!["function", "test"];
    all.extend_from_slice(args);
    let out = cachalot(&all);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!("stdout is not JSON ({e}): {stdout}\nstderr: {}", String::from_utf8_lossy(&out.stderr))
    });
    (out.status.code().unwrap_or(-1), json)
}

fn output_of(result: &Value) -> Value {
    serde_json::from_str(result["FunctionOutput"].as_str().expect("FunctionOutput is a string")).expect("JSON output")
}

#[test]
fn accept_normalisation_prints_a_test_result_on_both_runtimes() {
    for runtime in ["cloudfront-js-1.0", "cloudfront-js-2.0"] {
        let (code, result) =
            test_result(&[NORMALIZE_ACCEPT, "--event", "events/image-request.json", "--runtime", runtime]);
        assert_eq!(code, 0, "{result}");
        assert_eq!(result["FunctionErrorMessage"], "");
        assert_eq!(result["FunctionSummary"]["FunctionConfig"]["Runtime"], runtime);
        let utilization: u32 = result["ComputeUtilization"].as_str().unwrap().parse().unwrap();
        assert!(utilization <= 100);
        assert_eq!(output_of(&result)["request"]["headers"]["accept"]["value"], "image/avif");
        assert!(result["FunctionExecutionLogs"].as_array().unwrap().is_empty());
    }
}

#[test]
fn viewer_response_functions_return_the_response() {
    let (code, result) = test_result(&["security-headers.js", "--event", "events/page-response.json"]);
    assert_eq!(code, 0, "{result}");
    let response = &output_of(&result)["response"];
    assert_eq!(response["statusCode"], 200);
    assert_eq!(response["headers"]["x-content-type-options"]["value"], "nosniff");
    assert_eq!(response["cookies"]["session"]["attributes"], "Secure; HttpOnly");
}

#[test]
fn kvs_files_feed_cf_kvs() {
    let (code, result) = test_result(&[
        "kvs-redirect.js",
        "--event",
        "events/redirect-request.json",
        "--runtime",
        "cloudfront-js-2.0",
        "--kvs",
        "redirects.kvs.json",
    ]);
    assert_eq!(code, 0, "{result}");
    let response = &output_of(&result)["response"];
    assert_eq!(response["statusCode"], 301);
    assert_eq!(response["headers"]["location"]["value"], "https://www.example.com/new-page");
    assert_eq!(result["FunctionExecutionLogs"][0], "redirecting /old-page to https://www.example.com/new-page");
}

#[test]
fn failing_functions_exit_1_with_the_error_message() {
    let cases = [
        ("hostile/endless-loop.js", "cloudfront-js-2.0", "FunctionThrottledError"),
        ("hostile/memory-bomb.js", "cloudfront-js-2.0", "memory limit"),
        ("hostile/eval.js", "cloudfront-js-1.0", "eval is not defined"),
        ("hostile/huge-output.js", "cloudfront-js-2.0", "FunctionValidationError"),
        ("hostile/syntax-error.js", "cloudfront-js-2.0", "could not run. SyntaxError: "),
        ("hostile/const-under-js1.js", "cloudfront-js-1.0", "`const` is not supported by cloudfront-js-1.0"),
    ];
    for (file, runtime, expected) in cases {
        let (code, result) = test_result(&[file, "--event", "events/image-request.json", "--runtime", runtime]);
        assert_eq!(code, 1, "{file}: {result}");
        let message = result["FunctionErrorMessage"].as_str().unwrap();
        assert!(message.contains(expected), "{file}: {message}");
        assert!(
            message.starts_with(
                "The CloudFront function associated with the CloudFront distribution is invalid or could not run. "
            ),
            "{file}: {message}"
        );
        assert_eq!(result["FunctionOutput"], "");
    }
}

#[test]
fn unusable_inputs_exit_2_with_a_hint() {
    let missing = cachalot(&["function", "test", "no-such-file.js", "--event", "events/image-request.json"]);
    let bad_event = cachalot(&["function", "test", "spa-rewrite.js", "--event", "spa-rewrite.js"]);
    let bad_kvs = cachalot(&[
        "function",
        "test",
        "spa-rewrite.js",
        "--event",
        "events/image-request.json",
        "--kvs",
        "spa-rewrite.js",
    ]);
    let bad_runtime =
        cachalot(&["function", "test", "spa-rewrite.js", "--event", "events/image-request.json", "--runtime", "node"]);
    for out in [missing, bad_event, bad_kvs, bad_runtime] {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("error:"), "{stderr}");
        assert!(out.stdout.is_empty());
    }
    let out = cachalot(&["function", "test", "spa-rewrite.js", "--event", "spa-rewrite.js"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("hint:"));
}

#[test]
fn every_example_function_runs_through_the_cli() {
    let viewer_request = [
        NORMALIZE_ACCEPT,
        "sort-query-strings.js",
        "redirect-by-country.js",
        "spa-rewrite.js",
        "true-client-ip.js",
        "signed-url.js",
    ];
    for runtime in ["cloudfront-js-1.0", "cloudfront-js-2.0"] {
        for file in viewer_request {
            let (code, result) = test_result(&[file, "--event", "events/image-request.json", "--runtime", runtime]);
            assert_eq!(code, 0, "{file} ({runtime}): {result}");
            assert!(output_of(&result)["request"]["uri"].is_string(), "{file}: {result}");
        }
        let (code, result) =
            test_result(&["security-headers.js", "--event", "events/page-response.json", "--runtime", runtime]);
        assert_eq!(code, 0, "{result}");
    }
    // cloudfront-js-2.0 only: the `cloudfront` module.
    let (code, result) = test_result(&["origin-by-path.js", "--event", "events/image-request.json"]);
    assert_eq!(code, 0, "{result}");
    let (code, result) = test_result(&["true-client-ip.js", "--event", "events/image-request.json"]);
    assert_eq!(code, 0);
    assert_eq!(output_of(&result)["request"]["headers"]["true-client-ip"]["value"], "198.51.100.7");
}

#[test]
fn the_clock_is_set_with_now() {
    let dir = std::env::temp_dir().join(format!("function-cli-now-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let code = dir.join("clock.js");
    std::fs::write(
        &code,
        "function handler(e) { e.request.headers['x-now'] = { value: new Date().toISOString() }; return e.request; }",
    )
    .unwrap();
    let code = code.display().to_string();
    for (now, expected) in
        [("2030-01-01T00:00:00Z", "2030-01-01T00:00:00.000Z"), ("1706702400123", "2024-01-31T12:00:00.123Z")]
    {
        let (status, result) = test_result(&[&code, "--event", "events/image-request.json", "--now", now]);
        assert_eq!(status, 0, "{result}");
        assert_eq!(output_of(&result)["request"]["headers"]["x-now"]["value"], expected, "--now {now}");
    }
    let out = cachalot(&["function", "test", &code, "--event", "events/image-request.json", "--now", "yesterday"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("RFC 3339"), "{stderr}");
    std::fs::remove_dir_all(&dir).ok();
}
