//! Regional edge caches on other nodes (§6.5): POPs of several edges send their misses
//! to the REC a fleet node hosts, over the signed tier protocol.

use crate::harness::{Recording, START_MS};
use bytes::Bytes;
use cachalot_proxy::{Edge, EdgeSettings, FleetParent, FleetView, ManualClock, PopSettings};
use cachalot_test::{Reply, TestOrigin, get};
use http::Method;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

const SECRET: &str = "fleet-secret-for-tests";

struct Node {
    edge: Edge,
    pop: Option<SocketAddr>,
    regional: Option<SocketAddr>,
    stop: watch::Sender<bool>,
}

async fn node(config: &str, clock: &Arc<ManualClock>, pop_region: Option<&str>, hosts: Option<&str>) -> Node {
    node_with(
        config,
        clock,
        EdgeSettings {
            pops: pop_region
                .map(|r| PopSettings {
                    id: format!("POP-{r}"),
                    region: r.to_owned(),
                    cache_bytes: 64 << 20,
                    disk: None,
                })
                .into_iter()
                .collect(),
            regional_caches: hosts
                .map(|r| cachalot_proxy::RegionalCacheSettings {
                    region: r.to_owned(),
                    cache_bytes: 64 << 20,
                    disk: None,
                })
                .into_iter()
                .collect(),
            max_object_bytes: 1 << 20,
            ..EdgeSettings::default()
        },
    )
    .await
}

/// A node with these settings: a listener for its POP and for its regional cache, if any.
async fn node_with(config: &str, clock: &Arc<ManualClock>, settings: EdgeSettings) -> Node {
    let pop_region = settings.pops.first().map(|p| p.region.clone());
    let hosts = settings.regional_caches.first().map(|r| r.region.clone());
    let edge =
        Edge::with(settings, cachalot_test::snapshot_from_json(config), clock.clone(), Arc::new(Recording::default()));
    let (stop, stopped) = watch::channel(false);
    let mut pop = None;
    if pop_region.is_some() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        pop = Some(l.local_addr().unwrap());
        tokio::spawn(cachalot_proxy::serve_pop(edge.clone(), 0, l, None, stopped.clone(), Duration::from_millis(200)));
    }
    let mut regional = None;
    if let Some(region) = hosts {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        regional = Some(l.local_addr().unwrap());
        tokio::spawn(cachalot_proxy::serve_regional(
            edge.clone(),
            region.clone(),
            l,
            stopped,
            Duration::from_millis(200),
        ));
    }
    Node { edge, pop, regional, stop }
}

/// Tells every node who hosts `region`.
fn share_fleet(nodes: &[(&str, &Node)], region: &str) {
    let parents: Vec<FleetParent> = nodes
        .iter()
        .filter_map(|(id, n)| n.regional.map(|a| FleetParent { node_id: (*id).to_owned(), address: a.to_string() }))
        .collect();
    for (id, n) in nodes {
        n.edge.set_fleet(FleetView {
            node_id: (*id).to_owned(),
            secret: SECRET.to_owned(),
            regional_caches: BTreeMap::from([(region.to_owned(), parents.clone())]),
        });
    }
}

fn config(origin: &TestOrigin) -> String {
    cachalot_test::single_origin_config(
        &origin.authority(),
        r#""CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6""#,
        "",
    )
}

/// Two edges, each with a POP in eu-west-2, and a third node hosting eu-west-2's REC:
/// the second POP is served from the REC with the copy's age, and the origin is asked once.
#[tokio::test]
async fn pops_of_two_nodes_share_a_regional_cache_on_a_third() {
    let origin = TestOrigin::start_with(|_| Reply::ok("shared").header("cache-control", "max-age=300")).await;
    let clock = Arc::new(ManualClock::new(START_MS));
    let a = node(&config(&origin), &clock, Some("eu-west-2"), None).await;
    let b = node(&config(&origin), &clock, Some("eu-west-2"), None).await;
    let rec = node(&config(&origin), &clock, None, Some("eu-west-2")).await;
    share_fleet(&[("node-a", &a), ("node-b", &b), ("node-rec", &rec)], "eu-west-2");

    let first = get(a.pop.unwrap(), "/shared.txt", &[("pragma", "server-timing")]).await;
    assert_eq!((first.status.as_u16(), first.header("x-cache")), (200, "Miss from cloudfront"));
    assert!(
        first.header("server-timing").contains("cdn-upstream-layer;desc=\"REC\""),
        "{}",
        first.header("server-timing")
    );
    clock.advance_ms(4_000);
    let second = get(b.pop.unwrap(), "/shared.txt", &[("pragma", "server-timing")]).await;
    assert_eq!((second.header("x-cache"), second.header("age")), ("Hit from cloudfront", "4"));
    assert!(
        second.header("server-timing").contains("cdn-hit-layer;desc=\"REC\""),
        "{}",
        second.header("server-timing")
    );
    assert_eq!(second.body, "shared");
    assert_eq!(origin.hits("/shared.txt"), 1);
    // The child stored the copy with the parent's expiry: a hit at its own POP, age going on.
    clock.advance_ms(2_000);
    let third = get(b.pop.unwrap(), "/shared.txt", &[]).await;
    assert_eq!((third.header("x-cache"), third.header("age")), ("Hit from cloudfront", "6"));
    let _ = (a.stop, b.stop, rec.stop);
}

/// A regional cache listener answers only signed tier requests: a viewer gets 403.
#[tokio::test]
async fn viewers_cannot_use_a_regional_cache_listener() {
    let origin = TestOrigin::start().await;
    let clock = Arc::new(ManualClock::new(START_MS));
    let rec = node(&config(&origin), &clock, None, Some("eu-west-2")).await;
    share_fleet(&[("node-rec", &rec)], "eu-west-2");
    let r = get(rec.regional.unwrap(), "/anything", &[]).await;
    assert_eq!(r.status.as_u16(), 403);
    let forged = get(
        rec.regional.unwrap(),
        "/anything",
        &[("x-cachalot-tier", "e30="), ("x-cachalot-tier-auth", "t=1700000000,mac=00")],
    )
    .await;
    assert_eq!(forged.status.as_u16(), 403);
    assert!(origin.requests().is_empty(), "nothing reached the origin");
}

/// With two hosts for a region, keys are spread between them; when one goes, its keys
/// are served through the other (or the origin) and nothing is lost.
#[tokio::test]
async fn a_parent_that_goes_is_skipped() {
    let origin =
        TestOrigin::start_with(|r| Reply::ok(format!("body of {}", r.path())).header("cache-control", "max-age=300"))
            .await;
    let clock = Arc::new(ManualClock::new(START_MS));
    let a = node(&config(&origin), &clock, Some("eu-west-2"), None).await;
    let rec1 = node(&config(&origin), &clock, None, Some("eu-west-2")).await;
    let rec2 = node(&config(&origin), &clock, None, Some("eu-west-2")).await;
    share_fleet(&[("node-a", &a), ("rec-1", &rec1), ("rec-2", &rec2)], "eu-west-2");
    for i in 0..20 {
        assert_eq!(get(a.pop.unwrap(), &format!("/k{i}"), &[]).await.status.as_u16(), 200);
    }
    let held = |n: &Node| n.edge.tier_usage().iter().find(|t| t.0 == "REC:eu-west-2").map_or(0, |t| t.1);
    let (one, two) = (held(&rec1), held(&rec2));
    assert_eq!(one + two, 20, "each object in exactly one parent");
    assert!(one > 0 && two > 0, "keys spread: {one} / {two}");
    // rec-1 goes away (its listener stops; the fleet view still lists it).
    rec1.stop.send(true).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let other = node(&config(&origin), &clock, Some("eu-west-2"), None).await;
    share_fleet(&[("node-b", &other), ("rec-1", &rec1), ("rec-2", &rec2)], "eu-west-2");
    for i in 0..20 {
        let r = get(other.pop.unwrap(), &format!("/k{i}"), &[]).await;
        assert_eq!((r.status.as_u16(), r.body.clone()), (200, Bytes::from(format!("body of /k{i}"))));
    }
    assert_eq!(
        origin.requests().len(),
        20 + one as usize,
        "rec-1's keys went to the origin once more, rec-2's did not"
    );
    let _ = cachalot_test::request(other.pop.unwrap(), Method::GET, "/k0", &[], Bytes::new()).await;
}

/// A parent that dies mid-transfer: the child asks the origin instead and never stores
/// the truncated body.
#[tokio::test]
async fn a_parent_dying_mid_transfer_never_leaves_a_truncated_object() {
    use base64::Engine as _;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let full = "x".repeat(5000);
    let body = full.clone();
    let origin = TestOrigin::start_with(move |_| Reply::ok(body.clone()).header("cache-control", "max-age=300")).await;
    let clock = Arc::new(ManualClock::new(START_MS));
    let a = node(&config(&origin), &clock, Some("eu-west-2"), None).await;
    // A parent that announces 5,000 bytes, sends 100 and hangs up.
    let dying = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dying_addr = dying.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = dying.accept().await {
            let mut buf = [0u8; 8192];
            let _ = s.read(&mut buf).await;
            let answer = base64::engine::general_purpose::STANDARD
                .encode(r#"{"age_ms":0,"ttl_secs":300,"stale_while_revalidate_secs":0,"stale_if_error_secs":0,"how":"Fetched","layer":"Regional","origin_latency_ms":1,"tags":[],"edge_encoding":null,"relay":false,"origin_error":null}"#);
            let head = format!("HTTP/1.1 200 OK\r\ncontent-length: 5000\r\nx-cachalot-tier-answer: {answer}\r\n\r\n");
            let _ = s.write_all(head.as_bytes()).await;
            let _ = s.write_all(&[b'y'; 100]).await;
            drop(s);
        }
    });
    a.edge.set_fleet(FleetView {
        node_id: "node-a".into(),
        secret: SECRET.into(),
        regional_caches: BTreeMap::from([(
            "eu-west-2".to_owned(),
            vec![FleetParent { node_id: "dying".into(), address: dying_addr.to_string() }],
        )]),
    });
    let r = get(a.pop.unwrap(), "/big.bin", &[]).await;
    assert_eq!((r.status.as_u16(), r.body.len()), (200, 5000));
    assert_eq!(r.body, full.as_bytes(), "the origin's body, not the parent's broken one");
    let again = get(a.pop.unwrap(), "/big.bin", &[]).await;
    assert_eq!((again.header("x-cache"), again.body.len()), ("Hit from cloudfront", 5000));
    assert_eq!(again.body, full.as_bytes());
    assert_eq!(origin.hits("/big.bin"), 1);
    let _ = a.stop;
}

/// A large object through a regional cache on another node, both with disk tiers: the REC
/// streams it into its disk and sends it from the file; the child POP streams it into its
/// own disk. A POP without a disk tier is served from the REC's disk (relayed, not stored).
#[tokio::test]
async fn large_objects_stream_through_a_regional_cache_on_another_node() {
    let body = Bytes::from((0..3u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect::<Vec<_>>());
    let served = body.clone();
    let origin =
        TestOrigin::start_with(move |_| Reply::ok(served.clone()).header("cache-control", "max-age=300")).await;
    let clock = Arc::new(ManualClock::new(START_MS));
    let dir = std::env::temp_dir().join(format!("cachalot-it-fleet-disk-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let disk = |name: &str| Some(cachalot_proxy::DiskConfig { path: dir.join(name), capacity_bytes: 64 << 20 });
    let with_disk = |pop: Option<&str>, rec: Option<&str>, pop_disk, rec_disk| EdgeSettings {
        pops: pop
            .map(|r| PopSettings { id: format!("POP-{r}"), region: r.to_owned(), cache_bytes: 1 << 20, disk: pop_disk })
            .into_iter()
            .collect(),
        regional_caches: rec
            .map(|r| cachalot_proxy::RegionalCacheSettings {
                region: r.to_owned(),
                cache_bytes: 1 << 20,
                disk: rec_disk,
            })
            .into_iter()
            .collect(),
        ..EdgeSettings::default()
    };
    let a = node_with(&config(&origin), &clock, with_disk(Some("eu-west-2"), None, disk("a"), None)).await;
    let b = node_with(&config(&origin), &clock, with_disk(Some("eu-west-2"), None, None, None)).await;
    let rec = node_with(&config(&origin), &clock, with_disk(None, Some("eu-west-2"), None, disk("rec"))).await;
    share_fleet(&[("node-a", &a), ("node-b", &b), ("node-rec", &rec)], "eu-west-2");

    let first = get(a.pop.unwrap(), "/big.bin", &[]).await;
    assert_eq!((first.header("x-cache"), first.body.len()), ("Miss from cloudfront", body.len()));
    assert_eq!(first.body, body);
    let from_rec = get(b.pop.unwrap(), "/big.bin", &[]).await;
    assert_eq!((from_rec.header("x-cache"), from_rec.header("content-length")), ("Hit from cloudfront", "3145728"));
    assert_eq!(from_rec.body, body);
    let again = get(a.pop.unwrap(), "/big.bin", &[]).await;
    assert_eq!(again.header("x-cache"), "Hit from cloudfront");
    assert_eq!(again.body, body);
    assert_eq!(origin.hits("/big.bin"), 1);
    let disk_objects = |n: &Node| n.edge.tier_reports().iter().map(|t| t.disk_objects).sum::<u64>();
    assert_eq!((disk_objects(&a), disk_objects(&rec), disk_objects(&b)), (1, 1, 0));
    for n in [a, b, rec] {
        let _ = n.stop.send(true);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
