//! Starts the real `cachalot serve` binary on free loopback ports, and what the tests that
//! drive it share: a plain HTTP client, the AWS CLI from the test venv, node configs.
// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A temporary folder removed on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("cachalot-{name}-{}-{}", std::process::id(), fastrand_suffix()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn fastrand_suffix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() as u64
}

/// A running `cachalot serve`.
pub(crate) struct Serve {
    pub(crate) child: Child,
    pub(crate) pop: SocketAddr,
    pub(crate) admin: SocketAddr,
    pub(crate) stderr_path: PathBuf,
}

impl Serve {
    /// Starts `cachalot serve <args> --listen <free> --admin <free>` and waits for `/healthz`.
    pub(crate) fn start(args: &[&str], workdir: &Path) -> Serve {
        let pop: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let admin: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        Self::start_on(args, workdir, pop, admin)
    }

    /// [`Serve::start`] with extra environment variables.
    pub(crate) fn start_env(args: &[&str], workdir: &Path, env: &[(&str, &str)]) -> Serve {
        let pop: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let admin: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_cachalot"));
        command.envs(env.iter().copied());
        Self::start_under(command, args, workdir, pop, admin)
    }

    pub(crate) fn start_on(args: &[&str], workdir: &Path, pop: SocketAddr, admin: SocketAddr) -> Serve {
        Self::start_under(Command::new(env!("CARGO_BIN_EXE_cachalot")), args, workdir, pop, admin)
    }

    /// Starts it with at most `limit` open file descriptors (`ulimit -n`).
    pub(crate) fn start_with_fd_limit(args: &[&str], workdir: &Path, limit: u32) -> Serve {
        let pop: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let admin: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let mut sh = Command::new("sh");
        sh.args(["-c", &format!("ulimit -n {limit} && exec \"$0\" \"$@\""), env!("CARGO_BIN_EXE_cachalot")]);
        Self::start_under(sh, args, workdir, pop, admin)
    }

    fn start_under(mut command: Command, args: &[&str], workdir: &Path, pop: SocketAddr, admin: SocketAddr) -> Serve {
        let stderr_path = workdir.join(format!("serve-{}.log", admin.port()));
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let child = command
            .arg("serve")
            .args(args)
            .args(["--listen", &pop.to_string(), "--admin", &admin.to_string(), "--log", "info"])
            .current_dir(workdir)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start cachalot serve");
        let serve = Serve { child, pop, admin, stderr_path };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if TcpStream::connect(admin).is_ok() && TcpStream::connect(pop).is_ok() {
                return serve;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("cachalot serve did not start:\n{}", serve.log());
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// SIGTERM and wait: a clean shutdown.
    pub(crate) fn stop(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("cachalot serve did not stop on SIGTERM:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A blocking HTTP/1.1 GET with `curl`-like simplicity: returns (status, headers lower-cased, body).
pub(crate) fn http_get(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    use std::io::{Read, Write};
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nConnection: close\r\n");
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: {addr}\r\n"));
    }
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let hs = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect::<Vec<_>>();
    let mut body = raw[split + 4..].to_vec();
    if hs.iter().any(|(n, v)| n == "transfer-encoding" && v.contains("chunked")) {
        body = dechunk(&body);
    }
    (status, hs, body)
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") else { return out };
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..line_end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[line_end + 2..line_end + 2 + size]);
        data = &data[line_end + 2 + size + 2..];
    }
}

pub(crate) fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).unwrap_or("")
}

/// Copies a folder recursively.
pub(crate) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The test venv: `$CACHALOT_AWS_VENV`, or `target/aws-venv`.
pub(crate) fn test_venv() -> PathBuf {
    std::env::var_os("CACHALOT_AWS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/aws-venv"))
}

/// Installs `requirements-test.txt` into the test venv; `what` names the failure.
pub(crate) fn install_test_requirements(what: &str) {
    let ok = Command::new(test_venv().join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../requirements-test.txt"))
        .status()
        .unwrap()
        .success();
    assert!(ok, "{what} failed");
}

/// The AWS CLI from the test venv ([`test_venv`]), created when missing.
/// `None` (the caller prints SKIPPED) only when python3 is not installed.
pub(crate) fn aws_cli() -> Option<PathBuf> {
    if Command::new("python3").arg("--version").output().is_err() {
        return None;
    }
    let venv = test_venv();
    let aws = venv.join("bin/aws");
    if !aws.is_file() {
        assert!(Command::new("python3").arg("-m").arg("venv").arg(&venv).status().unwrap().success());
        install_test_requirements("pip install awscli");
    }
    Some(aws)
}

/// Gives an AWS CLI or SDK process test credentials and no user config: a node without
/// `AccessKeys` takes any key, and nothing of the machine's own AWS setup leaks in.
pub(crate) fn aws_env(command: &mut Command) -> &mut Command {
    command
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
}

/// Runs the AWS CLI `cli` against the admin listener `admin`, in `cwd` (for `file://` and
/// `fileb://` arguments), printing `--output output`; it must succeed. Returns its stdout.
pub(crate) fn aws_run(cli: &Path, admin: SocketAddr, cwd: &Path, output: &str, args: &[&str]) -> String {
    let out = aws_env(&mut Command::new(cli))
        .args(["--endpoint-url", &format!("http://{admin}"), "--output", output])
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap();
    assert!(out.status.success(), "aws {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `cachalot serve ARGS` in `workdir` on a config it must refuse: exit 2, with every
/// `expected` problem in its stderr. Returns the stderr.
pub(crate) fn serve_refused(args: &[&str], workdir: &Path, expected: &[&str]) -> String {
    let out =
        Command::new(env!("CARGO_BIN_EXE_cachalot")).arg("serve").args(args).current_dir(workdir).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for expected in expected {
        assert!(stderr.contains(expected), "missing {expected:?} in:\n{stderr}");
    }
    stderr
}

/// Writes `files` (name, content) into `dir/site`, the folder of the bucket `site`.
pub(crate) fn write_site(dir: &Path, files: impl IntoIterator<Item = (String, String)>) {
    let site = dir.join("site");
    std::fs::create_dir_all(&site).unwrap();
    for (name, content) in files {
        std::fs::write(site.join(name), content).unwrap();
    }
}

/// Writes `dir/node.json`: two POPs (LOCAL50-C1 in us-east-1 on the port [`Serve`] gives it,
/// LOCAL51-C1 in us-west-2 on the address returned), the buckets `site` and `logs`, and
/// `more` (further top-level members, such as `"Distributions": [...]`).
pub(crate) fn write_two_pop_node(dir: &Path, more: &str) -> SocketAddr {
    let second: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let config = format!(
        r#"{{"Pops": [{{"Id": "LOCAL50-C1", "Listen": "127.0.0.1:0", "Region": "us-east-1"}}, {{"Id": "LOCAL51-C1", "Listen": "{second}", "Region": "us-west-2"}}],
            "Buckets": {{"site": "site", "logs": "logs"}},
            {more}}}"#
    );
    std::fs::write(dir.join("node.json"), config).unwrap();
    second
}

/// A distribution `id` at `domain` in front of the bucket `site` with the cache policy
/// `policy`, writing its standard logs to the bucket `logs` under `prefix`.
pub(crate) fn logged_site_distribution(id: &str, domain: &str, prefix: &str, policy: &str) -> String {
    format!(
        r#"{{"Id": "{id}", "DomainName": "{domain}", "DistributionConfig": {{
            "CallerReference": "{id}", "Comment": "", "Enabled": true,
            "Logging": {{"Enabled": true, "IncludeCookies": false, "Bucket": "logs.s3.amazonaws.com", "Prefix": "{prefix}"}},
            "Origins": {{"Quantity": 1, "Items": [{{"Id": "s", "DomainName": "site.s3.amazonaws.com", "S3OriginConfig": {{"OriginAccessIdentity": ""}}}}]}},
            "DefaultCacheBehavior": {{"TargetOriginId": "s", "ViewerProtocolPolicy": "allow-all", "CachePolicyId": "{policy}"}}}}}}"#
    )
}

/// Sums the samples of one Prometheus counter in a `/metrics` text.
pub(crate) fn prometheus_sum(text: &str, name: &str) -> u64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum()
}
