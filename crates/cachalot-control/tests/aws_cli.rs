//! The real AWS CLI and boto3 against the control plane (`tests/aws_cli/run.py`).
//!
//! Creates a virtualenv with `pip install awscli boto3` under `target/aws-venv`
//! (or uses `$CACHALOT_AWS_VENV`), starts the `control_only` example on a free
//! port and runs the script, which runs the seed documents' commands verbatim.
//! Skips, saying so, only when python3 is missing.

mod common;

/// Runs `tests/aws_cli/<script>` with the venv's Python against a fresh control plane,
/// passing the server URL and the state folder, with credentials isolated from this
/// machine's; asserts it exits 0 and reports no failure.
fn run_script(script: &str) {
    let Some(py) = common::venv_python_or_skip(script) else { return };
    let state = common::TempDir::new("aws-cli");
    let server = common::Server::start(&state.0, &[]);
    let out = common::aws_script(&py, script, &state.0).arg(&server.url).arg(&state.0).output().unwrap();
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
