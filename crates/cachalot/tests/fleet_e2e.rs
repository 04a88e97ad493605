//! A fleet on PostgreSQL (interface §7): several `cachalot serve` processes on one
//! throwaway PostgreSQL cluster, driven by the AWS CLI and real HTTP requests.

#[path = "serve/support.rs"]
mod support;

use cachalot_test::pg::PgCluster;
use cachalot_test::{Reply, TestOrigin};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use support::{Serve, TempDir, aws_cli, free_port, header, http_get};

const HOST: &str = "d111111abcdef8.cloudfront.net";
/// The one distribution every node serves.
const DISTRIBUTION_ID: &str = "E1FLEETDIST01";

/// An origin in this process, counting requests per path.
struct Origin {
    origin: TestOrigin,
    _runtime: tokio::runtime::Runtime,
}

impl Origin {
    fn start() -> Origin {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let origin = runtime.block_on(TestOrigin::start_with(|r| {
            Reply::ok(format!("body of {}", r.path())).header("cache-control", "max-age=3600")
        }));
        Origin { origin, _runtime: runtime }
    }

    fn address(&self) -> String {
        self.origin.authority()
    }

    fn hits(&self, path: &str) -> usize {
        self.origin.hits(path)
    }
}

fn distribution() -> &'static str {
    r#"{"Id": "E1FLEETDIST01", "DomainName": "d111111abcdef8.cloudfront.net", "DistributionConfig": {
        "CallerReference": "fleet", "Comment": "", "Enabled": true,
        "Origins": {"Quantity": 1, "Items": [{"Id": "o", "DomainName": "origin.test",
            "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "http-only"}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "o", "ViewerProtocolPolicy": "allow-all",
            "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}}}"#
}

/// One node of the fleet.
struct Node {
    serve: Option<Serve>,
    id: String,
    pop: SocketAddr,
    admin: SocketAddr,
    dir: PathBuf,
    args: Vec<String>,
}

impl Node {
    fn start(id: &str, dir: &Path, store: &str, origin: &Origin, region: &str, hosts: Option<(&str, u16)>) -> Node {
        let node_dir = dir.join(id);
        std::fs::create_dir_all(&node_dir).unwrap();
        let regional = match hosts {
            Some((r, port)) => format!(r#", "RegionalCaches": [{{"Region": "{r}", "Listen": "127.0.0.1:{port}"}}]"#),
            None => String::new(),
        };
        let config = format!(
            r#"{{"Node": {{"Id": "{id}"}},
                "Pops": [{{"Id": "POP-{id}", "Listen": "127.0.0.1:0", "Region": "{region}"}}]{regional},
                "OriginAddresses": {{"origin.test": "{}"}},
                "Distributions": [{}]}}"#,
            origin.address(),
            distribution()
        );
        std::fs::write(node_dir.join("node.json"), config).unwrap();
        let pop: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let admin: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let args: Vec<String> =
            ["--config", "node.json", "--store", store, "--state", "state"].iter().map(|s| (*s).to_owned()).collect();
        let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let serve = Serve::start_on(&arg_refs, &node_dir, pop, admin);
        Node { serve: Some(serve), id: id.to_owned(), pop, admin, dir: node_dir, args }
    }

    fn restart(&mut self) {
        let arg_refs: Vec<&str> = self.args.iter().map(String::as_str).collect();
        self.serve = Some(Serve::start_on(&arg_refs, &self.dir, self.pop, self.admin));
    }

    fn kill_9(&mut self) {
        if let Some(mut s) = self.serve.take() {
            s.child.kill().unwrap();
            s.child.wait().unwrap();
        }
    }

    fn log(&self) -> String {
        self.serve.as_ref().map(Serve::log).unwrap_or_default()
    }

    fn get(&self, path: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
        http_get(self.pop, path, &[("host", HOST), ("pragma", "server-timing")])
    }

    fn fleet(&self) -> Value {
        let (status, _, body) = http_get(self.admin, "/fleet", &[]);
        assert_eq!(status, 200);
        serde_json::from_slice(&body).unwrap()
    }
}

/// The AWS CLI against `node`'s admin listener; returns (exit code, stdout, stderr).
fn aws(node: &Node, args: &[&str]) -> (i32, String, String) {
    aws_with(node, args, &[])
}

fn aws_with(node: &Node, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let cli = aws_cli().expect("python3 is needed for the AWS CLI");
    let out = Command::new(cli)
        .envs(env.iter().copied())
        .args(args)
        .args(["--endpoint-url", &format!("http://{}", node.admin), "--region", "us-east-1", "--output", "json"])
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn aws_json(node: &Node, args: &[&str]) -> Value {
    let (code, stdout, stderr) = aws(node, args);
    assert_eq!(code, 0, "aws {args:?} through {}: {stderr}\n{}", node.id, node.log());
    serde_json::from_str(&stdout).unwrap_or(Value::Null)
}

fn eventually(what: &str, within: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !ok() {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// CreateInvalidation of `paths` through `node`; returns the invalidation's Id.
fn invalidate(node: &Node, paths: &str) -> String {
    let created =
        aws_json(node, &["cloudfront", "create-invalidation", "--distribution-id", DISTRIBUTION_ID, "--paths", paths]);
    created["Invalidation"]["Id"].as_str().unwrap().to_owned()
}

/// Waits until `node` reads the invalidation `id` as Completed.
fn completes(what: &str, within: Duration, node: &Node, id: &str) {
    eventually(what, within, || {
        let got = aws_json(node, &["cloudfront", "get-invalidation", "--distribution-id", DISTRIBUTION_ID, "--id", id]);
        got["Invalidation"]["Status"] == "Completed"
    });
}

/// What every fleet test starts from: a database on the throwaway PostgreSQL cluster, a
/// folder and an origin. Fields drop in order: the origin before the folder, the cluster last.
struct Setup {
    origin: Origin,
    dir: TempDir,
    store: String,
    cluster: PgCluster,
}

impl Setup {
    /// `None` when PostgreSQL is not installed: the test is skipped.
    fn start(name: &str) -> Option<Setup> {
        let cluster = PgCluster::require()?;
        let store = cluster.database();
        let dir = TempDir::new(name);
        Some(Setup { origin: Origin::start(), dir, store, cluster })
    }

    fn node(&self, id: &str, region: &str, hosts: Option<(&str, u16)>) -> Node {
        Node::start(id, &self.dir.0, &self.store, &self.origin, region, hosts)
    }

    /// One node per id, all in us-east-1.
    fn nodes(&self, ids: &[&str]) -> Vec<Node> {
        ids.iter().map(|id| self.node(id, "us-east-1", None)).collect()
    }
}

/// A write through one node is read back through every other at once and served by
/// every edge within a second; two nodes racing the same update: exactly one wins.
#[test]
fn writes_propagate_and_a_race_has_one_winner() {
    let Some(setup) = Setup::start("fleet-writes") else { return };
    let nodes = setup.nodes(&["a", "b", "c"]);

    let policy = aws_json(
        &nodes[0],
        &[
            "cloudfront",
            "create-cache-policy",
            "--cache-policy-config",
            r#"{"Name": "fleet-policy", "MinTTL": 1, "DefaultTTL": 60, "MaxTTL": 600,
               "ParametersInCacheKeyAndForwardedToOrigin": {"EnableAcceptEncodingGzip": false,
                 "HeadersConfig": {"HeaderBehavior": "none"}, "CookiesConfig": {"CookieBehavior": "none"},
                 "QueryStringsConfig": {"QueryStringBehavior": "all"}}}"#,
        ],
    );
    let id = policy["CachePolicy"]["Id"].as_str().unwrap().to_owned();
    for n in &nodes[1..] {
        let read = aws_json(n, &["cloudfront", "get-cache-policy", "--id", &id]);
        assert_eq!(read["CachePolicy"]["CachePolicyConfig"]["Name"], "fleet-policy", "read back through {}", n.id);
    }

    // Serve the change: switch the distribution to the new policy through node b, see it at node c's edge.
    let current = aws_json(&nodes[1], &["cloudfront", "get-distribution-config", "--id", DISTRIBUTION_ID]);
    let etag = current["ETag"].as_str().unwrap().to_owned();
    let mut config = current["DistributionConfig"].clone();
    config["DefaultCacheBehavior"]["CachePolicyId"] = Value::String(id.clone());
    let config_file = setup.dir.0.join("dist.json");
    std::fs::write(&config_file, config.to_string()).unwrap();
    let file_arg = format!("file://{}", config_file.display());

    // Race: the same update with the same If-Match through two nodes at once.
    let update = [
        "cloudfront",
        "update-distribution",
        "--id",
        DISTRIBUTION_ID,
        "--if-match",
        &etag,
        "--distribution-config",
        &file_arg,
    ];
    let (first, second) = std::thread::scope(|s| {
        let a = s.spawn(|| aws(&nodes[1], &update));
        let b = s.spawn(|| aws(&nodes[2], &update));
        (a.join().unwrap(), b.join().unwrap())
    });
    let outcomes = [&first, &second];
    assert_eq!(outcomes.iter().filter(|o| o.0 == 0).count(), 1, "exactly one wins: {outcomes:?}");
    let loser = outcomes.iter().find(|o| o.0 != 0).unwrap();
    assert!(loser.2.contains("PreconditionFailed"), "the other is refused: {}", loser.2);

    // Every edge serves the new policy (query strings now keyed) within a second.
    let started = Instant::now();
    for n in &nodes {
        eventually("the edge serves the change", Duration::from_secs(1), || {
            let (s1, h1, _) = n.get("/q?v=1");
            let (_, h2, _) = n.get("/q?v=2");
            s1 == 200
                && header(&h1, "x-cache").starts_with("Miss")
                && header(&h2, "x-cache").starts_with("Miss")
                && header(&n.get("/q?v=1").1, "x-cache").starts_with("Hit")
        });
    }
    assert!(started.elapsed() < Duration::from_secs(3));
    let fleet = nodes[0].fleet();
    assert_eq!(fleet["Nodes"].as_array().unwrap().len(), 3, "{fleet}");
    assert!(fleet["Nodes"].as_array().unwrap().iter().all(|n| n["Alive"] == true), "{fleet}");
    // The dashboard shows the same nodes.
    let (status, _, body) = http_get(nodes[2].admin, "/dashboard/data", &[]);
    assert_eq!(status, 200);
    let data: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(data["fleet"]["Nodes"].as_array().map(Vec::len), Some(3), "{data}");
    assert_eq!(data["fleet"]["Self"], "c");
}

/// CreateInvalidation through any node purges every node's caches; it reads InProgress
/// until every live node has purged, then Completed.
#[test]
fn invalidations_reach_every_node() {
    let Some(setup) = Setup::start("fleet-invalidations") else { return };
    let nodes = setup.nodes(&["a", "b", "c"]);
    for n in &nodes {
        assert_eq!(n.get("/img/cat.jpg").0, 200, "{}", n.log());
        assert!(header(&n.get("/img/cat.jpg").1, "x-cache").starts_with("Hit"), "{}", n.log());
    }
    let inv = invalidate(&nodes[2], "/img/*");
    completes("the invalidation completes", Duration::from_secs(5), &nodes[0], &inv);
    for n in &nodes {
        assert!(header(&n.get("/img/cat.jpg").1, "x-cache").starts_with("Miss"), "{} still had the object", n.id);
    }
    assert_eq!(setup.origin.hits("/img/cat.jpg"), 6);

    // CloudWatch on any node answers with the fleet's sums (each node writes its numbers every 10 s).
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let (start, end) = ((now - 3600).to_string(), (now + 120).to_string());
    eventually("CloudWatch sums the fleet", Duration::from_secs(25), || {
        let got = aws_json(
            &nodes[1],
            &[
                "cloudwatch",
                "get-metric-statistics",
                "--namespace",
                "AWS/CloudFront",
                "--metric-name",
                "Requests",
                "--dimensions",
                &format!("Name=DistributionId,Value={DISTRIBUTION_ID}"),
                "Name=Region,Value=Global",
                "--start-time",
                &start,
                "--end-time",
                &end,
                "--period",
                "86400",
                "--statistics",
                "Sum",
            ],
        );
        let sum: f64 = got["Datapoints"].as_array().map_or(0.0, |d| d.iter().filter_map(|p| p["Sum"].as_f64()).sum());
        sum == 9.0
    });
}

/// POPs of two nodes send their misses to the regional cache a third node hosts.
#[test]
fn a_regional_cache_on_its_own_node() {
    let Some(setup) = Setup::start("fleet-regional") else { return };
    let rec_port = free_port();
    let mut rec = setup.node("rec", "us-west-2", Some(("eu-west-2", rec_port)));
    let a = setup.node("a", "eu-west-2", None);
    let b = setup.node("b", "eu-west-2", None);
    eventually("the fleet knows the regional cache", Duration::from_secs(5), || {
        a.fleet()["Nodes"].as_array().is_some_and(|n| n.len() == 3)
            && b.fleet()["Nodes"].as_array().is_some_and(|n| n.len() == 3)
    });
    std::thread::sleep(Duration::from_millis(1500));
    let (status, first, _) = a.get("/shared.bin");
    assert_eq!(status, 200);
    assert!(header(&first, "server-timing").contains("cdn-upstream-layer;desc=\"REC\""), "{first:?}\n{}", a.log());
    let (_, second, body) = b.get("/shared.bin");
    assert_eq!(header(&second, "x-cache"), "Hit from cloudfront", "{}", b.log());
    assert!(header(&second, "server-timing").contains("cdn-hit-layer;desc=\"REC\""));
    assert_eq!(body, b"body of /shared.bin");
    assert_eq!(setup.origin.hits("/shared.bin"), 1);
    // A viewer cannot use the regional cache's listener.
    let (refused, _, _) = http_get(format!("127.0.0.1:{rec_port}").parse().unwrap(), "/shared.bin", &[("host", HOST)]);
    assert_eq!(refused, 403);
    // The regional cache's node is killed: POPs go to the origin, before and after the fleet notices.
    rec.kill_9();
    let (status, _, body) = a.get("/after-the-kill.bin");
    assert_eq!((status, body.as_slice()), (200, &b"body of /after-the-kill.bin"[..]), "{}", a.log());
    assert!(a.log().contains("regional cache skipped"), "{}", a.log());
}

/// The store goes down: nodes keep serving, writes answer 503 at once; when it is back
/// they reconnect and writes work again, without a restart.
#[test]
fn a_store_outage_keeps_the_edge_serving() {
    let Some(setup) = Setup::start("fleet-outage") else { return };
    let nodes = setup.nodes(&["a", "b"]);
    assert_eq!(nodes[0].get("/warm").0, 200);
    setup.cluster.stop_immediately();
    assert!(header(&nodes[0].get("/warm").1, "x-cache").starts_with("Hit"), "hits go on");
    assert_eq!(nodes[1].get("/cold").0, 200, "misses go on");
    // One attempt: the CLI's own retries of a 503 are not what is measured.
    let started = Instant::now();
    let invalidation = ["cloudfront", "create-invalidation", "--distribution-id", DISTRIBUTION_ID, "--paths", "/warm"];
    let (code, _, stderr) = aws_with(&nodes[0], &invalidation, &[("AWS_MAX_ATTEMPTS", "1")]);
    assert_ne!(code, 0);
    assert!(stderr.contains("ServiceUnavailable"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(6), "the write did not hang: {:?}", started.elapsed());
    assert!(setup.cluster.resume());
    eventually("writes work again", Duration::from_secs(20), || aws(&nodes[1], &invalidation).0 == 0);
    eventually("the purge reached the other node", Duration::from_secs(5), || {
        header(&nodes[0].get("/warm").1, "x-cache").starts_with("Miss")
    });
}

/// `kill -9` of a node: invalidations stop waiting for it once it is silent; when it
/// comes back it catches up with everything written meanwhile before it serves.
#[test]
fn a_killed_node_is_not_waited_for_and_catches_up() {
    let Some(setup) = Setup::start("fleet-kill") else { return };
    let mut nodes = setup.nodes(&["a", "b"]);
    nodes[1].kill_9();
    let inv = invalidate(&nodes[0], "/*");
    completes("completed without the dead node", Duration::from_secs(20), &nodes[0], &inv);
    let comment = aws_json(&nodes[0], &["cloudfront", "get-distribution-config", "--id", DISTRIBUTION_ID]);
    assert_eq!(comment["DistributionConfig"]["Enabled"], true);
    nodes[1].restart();
    let fleet = nodes[1].fleet();
    let versions: Vec<&Value> = fleet["Nodes"].as_array().unwrap().iter().map(|n| &n["ConfigVersion"]).collect();
    assert_eq!(fleet["ConfigVersion"], *versions[0], "the restarted node applied what was written meanwhile: {fleet}");
}

/// Property: under concurrent conflicting updates through several nodes (boto3, each
/// client retrying on PreconditionFailed), the acknowledged writes form one chain —
/// each one's If-Match is the ETag the previous one produced — and the final state is
/// the last of them: some serial order of exactly the acknowledged writes.
#[test]
fn concurrent_updates_are_serialisable() {
    let Some(setup) = Setup::start("fleet-serial") else { return };
    let nodes = setup.nodes(&["a", "b", "c"]);
    let python = aws_cli().expect("python3").with_file_name("python");
    let script = r#"
import boto3, json, sys, threading
from botocore.config import Config
endpoints = sys.argv[1:]
acked, lock = [], threading.Lock()
def client(url):
    return boto3.client("cloudfront", endpoint_url=url, region_name="us-east-1", aws_access_key_id="AKID",
                        aws_secret_access_key="s", config=Config(retries={"max_attempts": 1}))
def worker(w, url):
    cf = client(url)
    for i in range(8):
        while True:
            cur = cf.get_distribution_config(Id="E1FLEETDIST01")
            cfg = cur["DistributionConfig"]
            cfg["Comment"] = f"w{w}-{i}"
            try:
                out = cf.update_distribution(Id="E1FLEETDIST01", IfMatch=cur["ETag"], DistributionConfig=cfg)
            except cf.exceptions.PreconditionFailed:
                continue
            with lock:
                acked.append({"if_match": cur["ETag"], "etag": out["ETag"], "comment": cfg["Comment"]})
            break
threads = [threading.Thread(target=worker, args=(w, endpoints[w % len(endpoints)])) for w in range(6)]
first = client(endpoints[0]).get_distribution_config(Id="E1FLEETDIST01")["ETag"]
[t.start() for t in threads]
[t.join() for t in threads]
final = client(endpoints[-1]).get_distribution_config(Id="E1FLEETDIST01")
print(json.dumps({"first": first, "acked": acked, "final_etag": final["ETag"],
                  "final_comment": final["DistributionConfig"]["Comment"]}))
"#;
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .args(nodes.iter().map(|n| format!("http://{}", n.admin)))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    let acked = result["acked"].as_array().unwrap();
    assert_eq!(acked.len(), 48, "every worker's writes were acknowledged once");
    // Follow the chain from the first ETag: every acknowledged write, exactly once, in one order.
    let mut by_if_match = std::collections::HashMap::new();
    for w in acked {
        assert!(by_if_match.insert(w["if_match"].as_str().unwrap(), w).is_none(), "two writes won on one ETag");
    }
    let mut etag = result["first"].as_str().unwrap();
    let mut last = None;
    for _ in 0..acked.len() {
        let w = by_if_match.get(etag).unwrap_or_else(|| panic!("the chain breaks at {etag}"));
        etag = w["etag"].as_str().unwrap();
        last = Some(w);
    }
    let last = last.unwrap();
    assert_eq!(result["final_etag"], last["etag"]);
    assert_eq!(result["final_comment"], last["comment"]);
}

/// `--store …?sslmode=require` encrypts the store's connections (rustls); `verify-full`
/// checks the server's certificate against `sslrootcert`.
#[test]
fn the_store_connection_uses_tls_when_the_url_asks() {
    let Some(cluster) = PgCluster::require() else { return };
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params.subject_alt_names.push(rcgen::SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let cert = params.self_signed(&key).unwrap();
    assert!(cluster.enable_tls(&cert.pem(), &key.serialize_pem()), "PostgreSQL did not restart with TLS");
    let url = cluster.database();
    let db = url.rsplit('/').next().unwrap().to_owned();
    let dir = TempDir::new("fleet-tls");
    std::fs::write(dir.0.join("ca.pem"), cert.pem()).unwrap();
    let origin = Origin::start();
    let require = format!("{url}?sslmode=require");
    let verify = format!("{url}?sslmode=verify-full&sslrootcert={}", dir.0.join("ca.pem").display());
    let a = Node::start("a", &dir.0, &require, &origin, "us-east-1", None);
    let b = Node::start("b", &dir.0, &verify, &origin, "us-east-1", None);
    let deadline = Instant::now() + Duration::from_secs(5);
    while a.fleet()["Nodes"].as_array().is_none_or(|n| n.len() != 2) {
        assert!(Instant::now() < deadline, "both nodes joined:\n{}\n{}", a.log(), b.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    // The other sessions on the fleet's database, encrypted (`s.ssl`) or not (`NOT s.ssl`).
    let sessions = |ssl: &str| {
        cluster
            .query(&db, &format!("SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE {ssl} AND a.datname = current_database() AND a.pid <> pg_backend_pid()"))
            .unwrap()
    };
    let (encrypted, plain) = (sessions("s.ssl"), sessions("NOT s.ssl"));
    assert_eq!((encrypted.as_str(), plain.as_str()), ("6", "0"), "three sessions per node, all encrypted");
    assert_eq!(b.get("/tls").0, 200);
    // A certificate that does not chain to sslrootcert is refused: that node does not join.
    let other_key = rcgen::KeyPair::generate().unwrap();
    let other = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap().self_signed(&other_key).unwrap();
    std::fs::write(dir.0.join("other.pem"), other.pem()).unwrap();
    let wrong = format!("{url}?sslmode=verify-full&sslrootcert={}", dir.0.join("other.pem").display());
    let c = Node::start("c", &dir.0, &wrong, &origin, "us-east-1", None);
    assert!(c.log().contains("the fleet store is unreachable"), "{}", c.log());
    assert_eq!(a.fleet()["Nodes"].as_array().map(Vec::len), Some(2), "c never joined");
}
