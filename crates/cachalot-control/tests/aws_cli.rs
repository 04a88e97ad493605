//! The real AWS CLI and boto3 against the control plane (`tests/aws_cli/run.py`).
//!
//! Creates a virtualenv with `pip install awscli boto3` under `target/aws-venv`
//! (or uses `$CACHALOT_AWS_VENV`), starts the `control_only` example on a free
//! port and runs the script, which runs the seed documents' commands verbatim.
//! Skips, saying so, only when python3 is missing.

mod common;

use std::path::PathBuf;
use std::process::Command;

/// Runs `tests/aws_cli/<script>` with the venv's Python against a fresh control plane,
/// passing the server URL and the state folder, with credentials isolated from this
/// machine's; asserts it exits 0 and reports no failure.
fn run_script(script: &str) {
    let python3 = "python3";
    if Command::new(python3).arg("--version").output().is_err() {
        println!("SKIPPED: python3 is not installed; {script} did not run");
        return;
    }
    let py = common::ensure_venv(python3);
    let state = common::TempDir::new("aws-cli");
    let server = common::Server::start(&state.0, &[]);
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/aws_cli").join(script);
    let out = Command::new(&py)
        .arg(&path)
        .arg(&server.url)
        .arg(&state.0)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", state.0.join("no-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", state.0.join("no-credentials"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(out.status.success(), "{script} failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
}

#[test]
fn aws_cli_and_boto3_run_the_seed_commands() {
    run_script("run.py");
}

#[test]
fn aws_cli_manages_public_keys_key_groups_and_origin_access() {
    run_script("private.py");
}
