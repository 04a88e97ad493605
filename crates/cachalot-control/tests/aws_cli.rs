//! The real AWS CLI and boto3 against the control plane (`tests/aws_cli/run.py`).
//!
//! Creates a virtualenv with `pip install awscli boto3` under `target/aws-venv`
//! (or uses `$CACHALOT_AWS_VENV`), starts the `control_only` example on a free
//! port and runs the script, which runs the seed documents' commands verbatim.
//! Skips, saying so, only when python3 is missing.

mod common;

use std::path::PathBuf;
use std::process::Command;

fn venv() -> PathBuf {
    if let Some(v) = std::env::var_os("CACHALOT_AWS_VENV") {
        return v.into();
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/aws-venv")
}

fn ensure_venv(python3: &str) -> PathBuf {
    let venv = venv();
    let py = venv.join("bin/python");
    let ready = py.is_file()
        && venv.join("bin/aws").is_file()
        && Command::new(&py).args(["-c", "import boto3, awscli"]).status().is_ok_and(|s| s.success());
    if !ready {
        let status = Command::new(python3).arg("-m").arg("venv").arg(&venv).status().unwrap();
        assert!(status.success(), "python3 -m venv {} failed", venv.display());
        let status = Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../requirements-test.txt"))
            .status()
            .unwrap();
        assert!(status.success(), "pip install awscli boto3 failed");
    }
    py
}

#[test]
fn aws_cli_and_boto3_run_the_seed_commands() {
    let python3 = "python3";
    if Command::new(python3).arg("--version").output().is_err() {
        println!("SKIPPED: python3 is not installed; the AWS CLI / boto3 test did not run");
        return;
    }
    let py = ensure_venv(python3);
    let state = common::TempDir::new("aws-cli");
    let server = common::Server::start(&state.0, &[]);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/aws_cli/run.py");
    let out = Command::new(&py)
        .arg(&script)
        .arg(&server.url)
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
    assert!(out.status.success(), "run.py failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
}

#[test]
fn aws_cli_manages_public_keys_key_groups_and_origin_access() {
    let python3 = "python3";
    if Command::new(python3).arg("--version").output().is_err() {
        println!("SKIPPED: python3 is not installed; the private-content AWS CLI test did not run");
        return;
    }
    let py = ensure_venv(python3);
    let state = common::TempDir::new("aws-cli-private");
    let server = common::Server::start(&state.0, &[]);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/aws_cli/private.py");
    let out = Command::new(&py)
        .arg(&script)
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
    assert!(out.status.success(), "private.py failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
}
