//! A throwaway PostgreSQL cluster for tests: `initdb` in a temporary folder, a
//! server on a free loopback port, one database per test, stopped and removed on drop.
//!
//! PostgreSQL refuses to run as root; when the tests do, the cluster runs as `nobody`
//! (through `runuser`). The binaries are found on `PATH` or under
//! `/usr/lib/postgresql/<version>/bin` (Debian's layout).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A running cluster.
pub struct PgCluster {
    bin: PathBuf,
    dir: PathBuf,
    /// Loopback port it listens on.
    pub port: u16,
    as_nobody: bool,
    databases: AtomicU32,
}

fn bin_dir() -> Option<PathBuf> {
    // A PATH entry may hold only links to some of the programs: follow initdb to its real folder.
    let on_path = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .filter_map(|d| std::fs::canonicalize(d.join("initdb")).ok())
            .filter_map(|initdb| initdb.parent().map(Path::to_path_buf))
            .find(|d| d.join("pg_ctl").is_file() && d.join("createdb").is_file())
    });
    if on_path.is_some() {
        return on_path;
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("initdb").is_file())
        .collect();
    versions.sort();
    versions.pop()
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false)
}

impl PgCluster {
    /// Starts a cluster; `None` when PostgreSQL is not installed (CI installs it: there
    /// the absence is a failure, see [`PgCluster::require`]).
    pub fn start() -> Option<PgCluster> {
        let bin = bin_dir()?;
        let as_nobody = is_root();
        let dir = std::env::temp_dir().join(format!("cachalot-pg-{}-{}", std::process::id(), unique()));
        std::fs::create_dir_all(&dir).ok()?;
        if as_nobody {
            let _ = Command::new("chown").args(["-R", "nobody:nogroup"]).arg(&dir).status();
        }
        let port = TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
        let cluster = PgCluster { bin, dir, port, as_nobody, databases: AtomicU32::new(0) };
        let data = cluster.data();
        let ok = cluster
            .run("initdb", &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
            .is_some_and(|s| s);
        if !ok {
            return None;
        }
        let conf = format!(
            "listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{}'\nfsync = off\nmax_connections = 200\n",
            cluster.dir.display()
        );
        std::fs::OpenOptions::new()
            .append(true)
            .open(Path::new(&data).join("postgresql.conf"))
            .and_then(|mut f| std::io::Write::write_all(&mut f, conf.as_bytes()))
            .ok()?;
        cluster.resume().then_some(cluster)
    }

    /// Like [`PgCluster::start`], but a missing PostgreSQL fails the test when `CI` is set.
    pub fn require() -> Option<PgCluster> {
        let cluster = PgCluster::start();
        if cluster.is_none() {
            assert!(std::env::var_os("CI").is_none(), "PostgreSQL is required in CI (.ci/run installs it)");
            eprintln!("skipped: PostgreSQL is not installed");
        }
        cluster
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    fn run(&self, program: &str, args: &[&str]) -> Option<bool> {
        let exe = self.bin.join(program);
        let mut cmd = if self.as_nobody {
            let mut c = Command::new("runuser");
            c.args(["-u", "nobody", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        let out = cmd.args(args).stdout(Stdio::null()).stderr(Stdio::piped()).output().ok()?;
        if !out.status.success() {
            eprintln!("{program} failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Some(out.status.success())
    }

    /// Starts the server again after [`PgCluster::stop_immediately`]; waits until it accepts connections.
    pub fn resume(&self) -> bool {
        let log = self.dir.join("server.log").display().to_string();
        let started = self.run("pg_ctl", &["-D", &self.data(), "-l", &log, "-w", "-t", "30", "start"]).unwrap_or(false);
        let deadline = Instant::now() + Duration::from_secs(30);
        while started && Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// Stops the server as a crash would (`pg_ctl stop -m immediate`).
    pub fn stop_immediately(&self) {
        let _ = self.run("pg_ctl", &["-D", &self.data(), "-m", "immediate", "-w", "stop"]);
    }

    /// Turns TLS on with this certificate and key (PEM), restarting the server.
    pub fn enable_tls(&self, cert_pem: &str, key_pem: &str) -> bool {
        let data = PathBuf::from(self.data());
        let written = std::fs::write(data.join("server.crt"), cert_pem).is_ok()
            && std::fs::write(data.join("server.key"), key_pem).is_ok()
            && std::fs::OpenOptions::new()
                .append(true)
                .open(data.join("postgresql.conf"))
                .and_then(|mut f| std::io::Write::write_all(&mut f, b"ssl = on\n"))
                .is_ok();
        if !written {
            return false;
        }
        if self.as_nobody {
            let _ = Command::new("chown")
                .arg("nobody:nogroup")
                .arg(data.join("server.crt"))
                .arg(data.join("server.key"))
                .status();
        }
        let _ = Command::new("chmod").arg("600").arg(data.join("server.key")).status();
        self.stop_immediately();
        self.resume()
    }

    /// Runs `sql` with `psql` on `database`; returns its output (unaligned, tuples only).
    pub fn query(&self, database: &str, sql: &str) -> Option<String> {
        let exe = self.bin.join("psql");
        let mut cmd = if self.as_nobody {
            let mut c = Command::new("runuser");
            c.args(["-u", "nobody", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        let port = self.port.to_string();
        let out = cmd
            .args(["-h", "127.0.0.1", "-p", &port, "-U", "postgres", "-d", database, "-At", "-c", sql])
            .output()
            .ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// A new empty database; returns its `postgres://` URL.
    pub fn database(&self) -> String {
        let name = format!("test_{}", self.databases.fetch_add(1, Ordering::SeqCst));
        let port = self.port.to_string();
        let created = self.run("createdb", &["-h", "127.0.0.1", "-p", &port, "-U", "postgres", &name]).unwrap_or(false);
        assert!(created, "createdb {name} failed");
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self.run("pg_ctl", &["-D", &self.data(), "-m", "immediate", "-w", "stop"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn unique() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}
