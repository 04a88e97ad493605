//! Helpers shared by the end-to-end tests: a temporary folder, the `control_only` example as a child process,
//! and the Python virtualenv that runs the AWS CLI and boto3 scripts under `tests/aws_cli`.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A folder removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("cachalot-{tag}-{}-{}", std::process::id(), fastrand::u64(..)));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `target/debug/examples/control_only` (built by `cargo test` with the tests).
pub fn example_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap();
    dir.join("examples").join(format!("control_only{}", std::env::consts::EXE_SUFFIX))
}

/// The example serving on a free port; killed on drop.
pub struct Server {
    pub child: Child,
    pub url: String,
}

impl Server {
    pub fn start(state: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(example_binary())
            .arg("127.0.0.1:0")
            .arg(state)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the control_only example is built by cargo test");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected output {line:?}"))
            .to_owned();
        Server { child, url }
    }

    /// SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The Python virtualenv with the AWS CLI and boto3: `$CACHALOT_AWS_VENV`, else `target/aws-venv`.
pub fn venv() -> PathBuf {
    if let Some(v) = std::env::var_os("CACHALOT_AWS_VENV") {
        return v.into();
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/aws-venv")
}

/// The venv's python, creating the venv (`pip install -r requirements-test.txt`) when it is missing.
pub fn ensure_venv(python3: &str) -> PathBuf {
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

/// The venv's python (the venv created when missing), or `None` after saying that `what`
/// did not run because python3 is not installed.
pub fn venv_python_or_skip(what: &str) -> Option<PathBuf> {
    let python3 = "python3";
    if Command::new(python3).arg("--version").output().is_err() {
        println!("SKIPPED: python3 is not installed; {what} did not run");
        return None;
    }
    Some(ensure_venv(python3))
}

/// `py tests/aws_cli/<script>` with a test account's AWS credentials, isolated from this
/// machine's: the config and credentials files are looked for in `state`, which has neither.
pub fn aws_script(py: &Path, script: &str, state: &Path) -> Command {
    let mut cmd = Command::new(py);
    cmd.arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/aws_cli").join(script))
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", state.join("no-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", state.join("no-credentials"));
    cmd
}
