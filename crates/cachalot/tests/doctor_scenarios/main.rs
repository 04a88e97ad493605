//! The doctor on scenarios with known answers, against the real edge.
//!
//! Every scenario of `scenarios.json` (a fault, or a healthy control) is a distribution of one
//! `cachalot serve` with two POPs, behind one test origin. Forty viewers on real browsers
//! (`viewers.rs`) request its objects for a while (`CACHALOT_SCENARIO_SECONDS`, 40 by default),
//! the same schedule under the scenarios as specified and under their fixes; the edge writes
//! its access logs. Then every verdict is checked:
//!
//! - `probe` on each scenario's URL (on a second edge with the same config, so its junk
//!   requests stay out of the logs) names the expected cause, or finds no fault;
//! - `analyze` on each scenario's logs, alone and with `--config`, names the expected cause
//!   (with the varying parameter or header), or finds no fault; with the config never worse;
//! - `replay` of the logs under the fix predicts the hit ratio the edge measured running the
//!   fix, in total and per POP, within two points.
//!
//! Each test prints the whole verdict table (`--nocapture` shows it). With
//! `CACHALOT_SCENARIO_KEEP=DIR`, the configs, logs and probe outputs are copied to `DIR`.

#[path = "../serve/support.rs"]
mod support;

mod origin;
mod spec;
mod viewers;

use serde_json::Value;
use spec::{POPS, Scenario, Variant};
use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::{Serve, TempDir, free_port};

/// The seed of the viewers and their schedule (`CACHALOT_SCENARIO_SEED` to try others).
fn seed() -> u64 {
    std::env::var("CACHALOT_SCENARIO_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(17)
}
/// How far a prediction may be from the edge's measurement, in percentage points.
const REPLAY_TOLERANCE: f64 = 2.0;

/// What one command concluded about one scenario.
#[derive(Debug, Clone, Default)]
struct Verdict {
    /// The fault named first (`None`: no fault).
    cause: Option<String>,
    /// What the finding says (to check the varying name).
    message: String,
    /// Every fault named, in order.
    all: Vec<String>,
}

/// POP or `ALL`, predicted with `--baseline`, predicted from the log alone, measured.
type ReplayRow = (String, Option<f64>, Option<f64>, Option<f64>);

#[derive(Debug, Clone)]
struct ReplayCheck {
    rows: Vec<ReplayRow>,
    uncertainty: Option<f64>,
}

#[derive(Debug, Clone)]
struct Row {
    probe: Verdict,
    analyze: Verdict,
    analyze_config: Verdict,
    replay: Option<ReplayCheck>,
    /// The edge logged this scenario's successful GETs as errors (a defect of the edge's
    /// logging, not of the doctor): analyze and replay verdicts cannot be judged on it.
    edge_log_defect: bool,
    requests: u64,
    /// Invalidations found by `analyze` (alone, with `--config`).
    invalidations: (usize, usize),
}

struct Matrix {
    scenarios: Vec<Scenario>,
    rows: Vec<Row>,
    /// The AWS CLI was there to invalidate half-way.
    invalidated: bool,
    table: String,
    _dir: TempDir,
}

static MATRIX: OnceLock<Matrix> = OnceLock::new();

fn matrix() -> &'static Matrix {
    MATRIX.get_or_init(run)
}

fn seconds() -> u64 {
    std::env::var("CACHALOT_SCENARIO_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(60)
}

/// One blocking HTTP/1.1 request; `None` when the exchange fails.
fn get(addr: SocketAddr, method: &str, target: &str, headers: &[(&str, &str)]) -> Option<(u16, Vec<(String, String)>)> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
    let mut req = format!("{method} {target} HTTP/1.1\r\nConnection: close\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Some((status, headers))
}

fn write_json(path: &Path, v: &Value) {
    std::fs::write(path, serde_json::to_string_pretty(v).unwrap()).unwrap();
}

/// Sends the schedule to the edge listening on `pops`; `invalidate` runs once, half-way.
fn drive(
    scenarios: &[Scenario],
    plan: &[viewers::Planned],
    people: &[viewers::Viewer],
    pops: [SocketAddr; 2],
    duration_ms: u64,
    invalidate: Option<&(dyn Fn() + Sync)>,
) -> usize {
    let next = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    let start = Instant::now();
    std::thread::scope(|scope| {
        if let Some(f) = invalidate {
            scope.spawn(move || {
                std::thread::sleep(Duration::from_millis(duration_ms / 2));
                f();
            });
        }
        for _ in 0..8 {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(p) = plan.get(i) else { break };
                    let due = Duration::from_millis(p.at_ms);
                    if let Some(wait) = due.checked_sub(start.elapsed()) {
                        std::thread::sleep(wait);
                    }
                    let s = &scenarios[p.scenario];
                    let v = &people[p.viewer];
                    let domain = s.domain(p.scenario);
                    let accept = if s.content_type().starts_with("image/") {
                        v.browser.accept_image
                    } else {
                        v.browser.accept_page
                    };
                    let headers = [
                        ("Host", domain.as_str()),
                        ("User-Agent", v.browser.user_agent),
                        ("Accept", accept),
                        ("Accept-Encoding", v.browser.accept_encoding),
                        ("Accept-Language", v.language),
                        ("Cookie", v.cookie.as_str()),
                        ("Referer", "https://www.example.com/"),
                    ];
                    match get(pops[v.pop], "GET", &p.target, &headers) {
                        Some((200, _)) => {}
                        _ => {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
    });
    failed.into_inner()
}

fn cachalot(args: &[&str], cwd: &Path) -> (i32, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cachalot")).args(args).current_dir(cwd).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), v, stderr)
}

/// The verdict of a list of findings: `analyze`'s `diagnosis`, `probe`'s `findings`.
fn verdict(findings: &Value) -> Verdict {
    let faults: Vec<&Value> =
        findings.as_array().map(|d| d.iter().filter(|x| x["fault"] == true).collect()).unwrap_or_default();
    Verdict {
        cause: faults.first().and_then(|f| f["cause"].as_str()).map(str::to_owned),
        message: faults.first().and_then(|f| f["message"].as_str()).unwrap_or("").to_owned(),
        all: faults.iter().filter_map(|f| f["cause"].as_str().map(str::to_owned)).collect(),
    }
}

/// Starts an edge serving `scenarios` as `variant` from `root/NAME.json` (state in
/// `state-NAME`, access logs in the bucket folder `logs`) on two free POP ports and a free
/// admin port; returns it with its POPs' and admin listener's addresses.
fn start_edge(
    root: &Path,
    name: &str,
    logs: &str,
    scenarios: &[Scenario],
    variant: Variant,
    origin_port: u16,
) -> (Serve, [SocketAddr; 2], SocketAddr) {
    let (pops, admin) = ([free_port(), free_port()], free_port());
    let config = format!("{name}.json");
    write_json(&root.join(&config), &spec::node_config(scenarios, variant, pops, admin, origin_port, logs));
    let addrs: [SocketAddr; 2] = pops.map(|p| format!("127.0.0.1:{p}").parse().unwrap());
    let admin: SocketAddr = format!("127.0.0.1:{admin}").parse().unwrap();
    let edge = Serve::start_on(&["--config", &config, "--state", &format!("state-{name}")], root, addrs[0], admin);
    (edge, addrs, admin)
}

/// Whether the edge logged most of a scenario's requests as `Error` with status 200.
fn edge_log_defect(logs: &Path) -> bool {
    let (mut lines, mut wrong) = (0u64, 0u64);
    for entry in std::fs::read_dir(logs).into_iter().flatten().flatten() {
        let Ok(reader) = cachalot_telemetry::parse::LogReader::open(entry.path()) else { continue };
        for r in reader.flatten() {
            lines += 1;
            if r.status == Some(200) && r.result_type == cachalot_telemetry::ResultType::Error {
                wrong += 1;
            }
        }
    }
    lines > 0 && wrong * 2 > lines
}

fn run() -> Matrix {
    let scenarios = spec::load();
    let dir = TempDir::new("doctor-scenarios");
    let root = dir.0.clone();
    std::fs::create_dir_all(root.join("functions")).unwrap();
    for (name, code) in spec::FUNCTIONS {
        std::fs::write(root.join(format!("functions/{name}.js")), code).unwrap();
    }
    let origin_port = origin::start(scenarios.clone());
    let duration_ms = seconds() * 1000;
    let people = viewers::viewers(seed());
    let plan = viewers::schedule(&scenarios, &people, duration_ms, seed());

    // The probes, on an edge of their own so their junk requests stay out of the logs.
    let (probe_edge, probe_pops, _) =
        start_edge(&root, "probe", "probe-logs", &scenarios, Variant::AsSpecified, origin_port);
    let probes: Vec<Verdict> = scenarios
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let url = format!("http://{}/{}/probe-{}0.{}", probe_pops[0], s.prefix, s.object_stem(), s.extension());
            let host = format!("Host: {}", s.domain(i));
            let (code, v, stderr) = cachalot(&["probe", &url, "-H", &host, "--json"], &root);
            assert!(code == 0 || code == 1, "probe {}: exit {code}: {stderr}", s.name);
            verdict(&v["findings"])
        })
        .collect();
    drop(probe_edge);

    // The scenarios as specified, then with their fixes, under the same schedule.
    let aws = support::aws_cli();
    if aws.is_none() {
        eprintln!("SKIPPED: the invalidation half-way (no python3 for the AWS CLI)");
    }
    let mut measured_runs = Vec::new();
    for (variant, folder) in [(Variant::AsSpecified, "logs"), (Variant::Fixed, "fixed-logs")] {
        let (edge, addrs, admin) = start_edge(&root, folder, folder, &scenarios, variant, origin_port);
        let invalidations: Vec<(String, String)> = scenarios
            .iter()
            .enumerate()
            .filter(|(_, s)| s.traffic.invalidate_at_half)
            .map(|(i, s)| (Scenario::distribution_id(i), format!("/{}/*", s.prefix)))
            .collect();
        let invalidate = |aws: &PathBuf| {
            for (id, paths) in &invalidations {
                let invalidation = ["cloudfront", "create-invalidation", "--distribution-id", id, "--paths", paths];
                support::aws_run(aws, admin, &root, "text", &invalidation);
            }
        };
        let bound = aws.as_ref().map(|a| move || invalidate(a));
        let failed =
            drive(&scenarios, &plan, &people, addrs, duration_ms, bound.as_ref().map(|f| f as &(dyn Fn() + Sync)));
        assert!(failed * 100 <= plan.len(), "{failed} of {} viewer requests failed:\n{}", plan.len(), edge.log());
        assert!(edge.stop().success());
        measured_runs.push(root.join(folder));
    }

    let mut rows = Vec::new();
    for (i, s) in scenarios.iter().enumerate() {
        let logs = root.join("logs").join(&s.name);
        let logs_arg = logs.display().to_string();
        let (_, plain, e1) = cachalot(&["analyze", &logs_arg, "--format", "json"], &root);
        let (_, with_config, e2) =
            cachalot(&["analyze", &logs_arg, "--config", "logs.json", "--format", "json"], &root);
        assert!(plain.is_object() && with_config.is_object(), "analyze {}: {e1} {e2}", s.name);
        let replay = s.fix.as_ref().map(|_| {
            let (_, r, e) = cachalot(
                &["replay", &logs_arg, "--config", "fixed-logs.json", "--baseline", "logs.json", "--format", "json"],
                &root,
            );
            assert!(r.is_object(), "replay {}: {e}", s.name);
            let (_, alone, e) =
                cachalot(&["replay", &logs_arg, "--config", "fixed-logs.json", "--format", "json"], &root);
            assert!(alone.is_object(), "replay {} without --baseline: {e}", s.name);
            let fixed = root.join("fixed-logs").join(&s.name).display().to_string();
            let (_, m, e) = cachalot(&["analyze", &fixed, "--format", "json"], &root);
            assert!(m.is_object(), "analyze fixed {}: {e}", s.name);
            let mut rows = vec![(
                "ALL".to_owned(),
                r["total"]["candidate"]["hit_ratio"].as_f64(),
                alone["total"]["candidate"]["hit_ratio"].as_f64(),
                m["hit_ratio"].as_f64(),
            )];
            for pop in POPS {
                let measured = m["by_pop"]
                    .as_array()
                    .and_then(|a| a.iter().find(|p| p["key"] == pop))
                    .and_then(|p| p["hit_ratio"].as_f64());
                rows.push((
                    pop.to_owned(),
                    r["pops"][pop]["candidate"]["hit_ratio"].as_f64(),
                    alone["pops"][pop]["candidate"]["hit_ratio"].as_f64(),
                    measured,
                ));
            }
            ReplayCheck { rows, uncertainty: r["total"]["candidate_uncertainty"].as_f64() }
        });
        rows.push(Row {
            probe: probes[i].clone(),
            analyze: verdict(&plain["diagnosis"]),
            analyze_config: verdict(&with_config["diagnosis"]),
            replay,
            edge_log_defect: edge_log_defect(&logs),
            requests: plain["requests"].as_u64().unwrap_or(0),
            invalidations: (
                plain["invalidations"].as_array().map_or(0, Vec::len),
                with_config["invalidations"].as_array().map_or(0, Vec::len),
            ),
        });
    }
    let table = render(&scenarios, &rows);
    if let Some(keep) = std::env::var_os("CACHALOT_SCENARIO_KEEP") {
        let keep = PathBuf::from(keep);
        for name in ["logs", "fixed-logs", "functions"] {
            support::copy_dir(&root.join(name), &keep.join(name));
        }
        for name in ["logs.json", "fixed-logs.json", "probe.json"] {
            std::fs::copy(root.join(name), keep.join(name)).unwrap();
        }
        std::fs::write(keep.join("table.txt"), &table).unwrap();
    }
    Matrix { scenarios, rows, invalidated: aws.is_some(), table, _dir: dir }
}

fn show(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("-")
}

fn render(scenarios: &[Scenario], rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<26} {:>5}  {:<48} {:<48} {:<48}  REPLAY (with --baseline / from the log / measured: ALL, {}, {}) ±",
        "SCENARIO", "REQS", "PROBE (got / expected)", "ANALYZE", "ANALYZE --config", POPS[0], POPS[1]
    );
    for (s, r) in scenarios.iter().zip(rows) {
        let cell = |got: &Verdict, want: &Option<String>, limit: bool| {
            let mark = match (got.cause == *want, limit) {
                (true, false) => "ok",
                (true, true) => "limit",
                (false, _) => "WRONG",
            };
            let others = if got.all.len() > 1 { format!(" (+{})", got.all[1..].join(",")) } else { String::new() };
            format!("{mark} {}{others} / {}", show(&got.cause), show(want))
        };
        let replay = match &r.replay {
            Some(c) => {
                c.rows
                    .iter()
                    .map(|(_, p, a, m)| {
                        let f = |v: &Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1}"));
                        format!("{}/{}/{}", f(p), f(a), f(m))
                    })
                    .collect::<Vec<_>>()
                    .join("  ")
                    + &c.uncertainty.map_or(String::new(), |u| format!("  ±{u:.1}"))
            }
            None => "-".to_owned(),
        };
        let _ = writeln!(
            out,
            "{:<26} {:>5}  {:<48} {:<48} {:<48}  {}{}",
            s.name,
            r.requests,
            cell(&r.probe, &s.expect.probe, false),
            cell(&r.analyze, &s.expect.analyze, s.expect.analyze_limit.is_some()),
            cell(&r.analyze_config, &s.expect.analyze_config, false),
            replay,
            if r.edge_log_defect { "  (edge logged its 200s as Error: not judged)" } else { "" }
        );
    }
    let faults: Vec<(&Scenario, &Row)> = scenarios.iter().zip(rows).filter(|(s, _)| s.fault).collect();
    let healthy: Vec<(&Scenario, &Row)> = scenarios.iter().zip(rows).filter(|(s, _)| !s.fault).collect();
    let judged: Vec<&(&Scenario, &Row)> = faults.iter().filter(|(_, r)| !r.edge_log_defect).collect();
    let right = |f: &dyn Fn(&Scenario, &Row) -> bool| judged.iter().filter(|(s, r)| f(s, r)).count();
    let _ = writeln!(
        out,
        "faults: {} ({} judged for analyze, the others blocked by the edge's logging); right cause: probe {}/{}, \
         analyze {}/{} ({} of them a documented limit of logs), analyze --config {}/{}; false alarms on {} healthy: \
         probe {}, analyze {}, analyze --config {}",
        faults.len(),
        judged.len(),
        faults.iter().filter(|(s, r)| s.expect.probe.is_some() && r.probe.cause == s.expect.probe).count(),
        faults.iter().filter(|(s, _)| s.expect.probe.is_some()).count(),
        right(&|s, r| r.analyze.cause == s.expect.analyze && s.expect.analyze_limit.is_none()),
        judged.len(),
        judged.iter().filter(|(s, _)| s.expect.analyze_limit.is_some()).count(),
        right(&|s, r| r.analyze_config.cause == s.expect.analyze_config),
        judged.len(),
        healthy.len(),
        healthy.iter().filter(|(_, r)| r.probe.cause.is_some()).count(),
        healthy.iter().filter(|(_, r)| r.analyze.cause.is_some()).count(),
        healthy.iter().filter(|(_, r)| r.analyze_config.cause.is_some()).count(),
    );
    out
}

fn names_one_of(v: &Verdict, names: &[String]) -> bool {
    names.is_empty() || names.iter().any(|n| v.message.contains(n.as_str()))
}

/// Every scenario with its row.
fn scenario_rows(m: &Matrix) -> impl Iterator<Item = (&Scenario, &Row)> {
    m.scenarios.iter().zip(&m.rows)
}

/// The scenarios whose logs can be judged (the edge logged them right), with their rows.
fn judged(m: &Matrix) -> impl Iterator<Item = (&Scenario, &Row)> {
    scenario_rows(m).filter(|(_, r)| !r.edge_log_defect)
}

/// Prints the verdict table, then fails listing what `wrong` finds wrong in the matrix.
fn assert_nothing_wrong(wrong: impl FnOnce(&Matrix) -> Vec<String>) {
    let m = matrix();
    println!("{}", m.table);
    let wrong = wrong(m);
    assert!(wrong.is_empty(), "{}\n{}", wrong.join("\n"), m.table);
}

#[test]
fn probe_names_the_right_cause_on_every_scenario() {
    assert_nothing_wrong(|m| {
        scenario_rows(m)
            .filter(|(s, r)| r.probe.cause != s.expect.probe)
            .map(|(s, r)| {
                format!(
                    "{}: probe named {:?} ({}), expected {:?}",
                    s.name, r.probe.cause, r.probe.message, s.expect.probe
                )
            })
            .collect()
    });
}

#[test]
fn analyze_names_the_right_cause_from_logs_alone() {
    assert_nothing_wrong(|m| {
        judged(m)
            .filter(|(s, r)| r.analyze.cause != s.expect.analyze || !names_one_of(&r.analyze, &s.expect.names))
            .map(|(s, r)| {
                format!(
                    "{}: analyze named {:?} ({}), expected {:?} naming one of {:?}",
                    s.name, r.analyze.cause, r.analyze.message, s.expect.analyze, s.expect.names
                )
            })
            .collect()
    });
}

#[test]
fn analyze_with_the_config_names_the_right_cause_and_is_never_worse() {
    assert_nothing_wrong(|m| {
        let mut wrong = Vec::new();
        for (s, r) in judged(m) {
            if r.analyze_config.cause != s.expect.analyze_config || !names_one_of(&r.analyze_config, &s.expect.names) {
                wrong.push(format!(
                    "{}: analyze --config named {:?} ({}), expected {:?} naming one of {:?}",
                    s.name, r.analyze_config.cause, r.analyze_config.message, s.expect.analyze_config, s.expect.names
                ));
            }
            if r.analyze.cause == s.expect.analyze && r.analyze_config.cause != s.expect.analyze_config {
                wrong.push(format!("{}: right without the config, wrong with it", s.name));
            }
        }
        wrong
    });
}

#[test]
fn replay_predicts_every_fix_within_two_points() {
    assert_nothing_wrong(|m| {
        let mut wrong = Vec::new();
        for (s, r) in judged(m) {
            let Some(check) = &r.replay else { continue };
            for (pop, with_baseline, alone, measured) in &check.rows {
                for (how, predicted) in [("with --baseline", with_baseline), ("from the log alone", alone)] {
                    match (predicted, measured) {
                        (Some(p), Some(m)) if (p - m).abs() <= REPLAY_TOLERANCE => {}
                        _ => wrong.push(format!(
                            "{} {pop}: replay {how} predicted {predicted:?}, the edge measured {measured:?}",
                            s.name
                        )),
                    }
                }
            }
        }
        wrong
    });
}

/// An invalidation half-way is found as one, with the config and without (not as a short TTL).
#[test]
fn analyze_finds_the_invalidation() {
    let m = matrix();
    for (s, r) in scenario_rows(m).filter(|(s, _)| s.traffic.invalidate_at_half) {
        if !m.invalidated {
            continue;
        }
        assert_eq!(r.invalidations, (1, 1), "{}: invalidations found (alone, with --config)\n{}", s.name, m.table);
    }
}

/// Every scenario got real traffic, every fault has a fix to replay, the healthy ones none.
#[test]
fn the_matrix_is_complete() {
    let m = matrix();
    for (s, r) in scenario_rows(m) {
        assert!(r.requests >= 50, "{}: {} requests", s.name, r.requests);
        assert_eq!(s.fault, s.fix.is_some(), "{}", s.name);
        assert_eq!(s.fault, s.expect.analyze_config.is_some(), "{}", s.name);
    }
    assert!(m.scenarios.iter().filter(|s| s.fault).count() >= 10);
    assert!(m.scenarios.iter().filter(|s| !s.fault).count() >= 8);
}
