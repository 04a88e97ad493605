//! A disk tier under the POP's memory tier: objects larger than memory streamed to disk
//! while viewers read them, hits and ranges from disk, followers of a collapsed miss
//! reading the file as it grows, and what is never stored (truncated streams; large
//! objects without a disk tier). CloudFront's range and large-object behaviour:
//! <https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/RangeGETs.html>.

use crate::harness::*;
use bytes::Bytes;
use cachalot_proxy::DiskConfig;
use cachalot_test::{Failure, Reply, TestOrigin, get};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A body that differs per byte, so a misplaced byte shows.
fn content(len: usize) -> Bytes {
    Bytes::from((0..len).map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3]).collect::<Vec<_>>())
}

fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cachalot-it-disk-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Starts one POP on `origin` with 1 MiB of memory (256 KiB per object at most) in front of
/// 64 MiB of disk in `dir`.
async fn start_on_disk(origin: &TestOrigin, dir: &Path) -> Harness {
    start_with_disk(&unkeyed(origin, 0), 1 << 20, DiskConfig { path: dir.to_path_buf(), capacity_bytes: 64 << 20 })
        .await
}

/// An origin answering every request with `body`, as `reply` shapes it.
async fn serving(body: &Bytes, reply: fn(Reply) -> Reply) -> TestOrigin {
    let body = body.clone();
    TestOrigin::start_with(move |_| reply(Reply::ok(body.clone()))).await
}

/// Files (finished or not) under the cache folder.
fn files(dir: &Path) -> Vec<PathBuf> {
    cachalot_test::files_with_extension(dir, &["obj", "tmp"])
}

/// With 1 MiB of memory (256 KiB per object at most), a 3 MiB object is streamed to disk
/// on its miss and then served from disk: whole, ranges (reading only their blocks), HEAD.
#[tokio::test]
async fn objects_larger_than_memory_stream_to_disk_and_are_hit_from_it() {
    let body = content(3 << 20);
    let origin = serving(&body, |r| r.header("etag", "\"big\"")).await;
    let dir = folder("large");
    let h = start_on_disk(&origin, &dir).await;
    let first = get(h.pop(0), "/video.mp4", &[]).await;
    assert_eq!((first.status.as_u16(), first.header("x-cache")), (200, "Miss from cloudfront"));
    assert_eq!(first.body, body);
    h.advance(5);
    let second = get(h.pop(0), "/video.mp4", &[]).await;
    assert_eq!((second.header("x-cache"), second.header("age")), ("Hit from cloudfront", "5"));
    assert_eq!(second.header("content-length"), (3 << 20).to_string());
    assert_eq!(second.body, body);
    let part = get(h.pop(0), "/video.mp4", &[("range", "bytes=1000000-1000009")]).await;
    assert_eq!((part.status.as_u16(), part.header("content-range")), (206, "bytes 1000000-1000009/3145728"));
    assert_eq!(part.body, body.slice(1_000_000..1_000_010));
    let multi = get(h.pop(0), "/video.mp4", &[("range", "bytes=0-1,3145726-")]).await;
    assert_eq!(multi.status.as_u16(), 206);
    assert!(multi.body.windows(2).any(|w| w == &body[..2]) && multi.body.windows(2).any(|w| w == &body[3145726..]));
    assert_eq!(origin.hits("/video.mp4"), 1, "one origin fetch");
    assert!(origin.requests().iter().all(|r| r.header("range").is_empty()), "the whole object is fetched");
    let report = &h.edge.tier_reports()[0];
    assert_eq!((report.memory_objects, report.disk_objects), (0, 1), "{report:?}");
    assert!(report.disk_hits >= 3, "{report:?}");
    assert_eq!(files(&dir).len(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A range request for an object not yet cached fetches the whole object (CloudFront "may
/// request a larger range than the client requested") and answers the range from it as
/// soon as its bytes have arrived.
#[tokio::test]
async fn a_range_miss_fetches_the_whole_object_and_answers_the_range() {
    let body = content(2 << 20);
    let origin = serving(&body, |r| r).await;
    let dir = folder("range-miss");
    let h = start_on_disk(&origin, &dir).await;
    let part = get(h.pop(0), "/v", &[("range", "bytes=2000000-2000099")]).await;
    assert_eq!((part.status.as_u16(), part.header("x-cache")), (206, "Miss from cloudfront"));
    assert_eq!(part.body, body.slice(2_000_000..2_000_100));
    let again = get(h.pop(0), "/v", &[("range", "bytes=-10")]).await;
    assert_eq!((again.status.as_u16(), again.header("x-cache")), (206, "Hit from cloudfront"));
    assert_eq!(again.body, body.slice(body.len() - 10..));
    assert_eq!(origin.hits("/v"), 1);
    assert_eq!(origin.requests()[0].header("range"), "");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Requests collapsed onto a large miss, and requests arriving while it is written, read the
/// file as it grows: one origin fetch, every viewer the whole body.
#[tokio::test]
async fn followers_read_the_file_as_it_grows() {
    let body = content(4 << 20);
    let origin = serving(&body, |r| r.fail(Failure::StallMidBody(Duration::from_millis(400)))).await;
    let dir = folder("followers");
    let h = start_on_disk(&origin, &dir).await;
    let pop = h.pop(0);
    let leader = tokio::spawn(async move { get(pop, "/live", &[]).await });
    tokio::time::sleep(Duration::from_millis(150)).await;
    let (a, b) = tokio::join!(get(pop, "/live", &[]), get(pop, "/live", &[("range", "bytes=4000000-4000009")]));
    let leader = leader.await.unwrap();
    assert_eq!(leader.body, body);
    assert_eq!(a.body, body);
    assert_eq!((a.header("x-cache"), a.header("content-length")), ("Hit from cloudfront", "4194304"));
    assert_eq!((b.status.as_u16(), &b.body[..]), (206, &body[4_000_000..4_000_010]));
    assert_eq!(origin.hits("/live"), 1, "one fetch for every viewer");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A stream that breaks off (the origin announced more than it sent) is cut short for the
/// viewer and never stored: the next request is a miss, and no file is left.
#[tokio::test]
async fn a_broken_stream_is_never_stored() {
    let body = content(3 << 20);
    let origin = serving(&body, |r| r.fail(Failure::Truncate)).await;
    let dir = folder("broken");
    let h = start_on_disk(&origin, &dir).await;
    let pop = h.pop(0);
    let first = get(pop, "/cut", &[]).await;
    assert!(first.body.len() < body.len(), "never passed off as complete");
    for _ in 0..100 {
        if files(&dir).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(files(&dir).is_empty(), "{:?}", files(&dir));
    get(pop, "/cut", &[]).await;
    assert_eq!(origin.hits("/cut"), 2, "fetched again");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Without a disk tier an object larger than memory takes is relayed as it arrives (with
/// its length) and not stored.
#[tokio::test]
async fn without_a_disk_tier_large_objects_are_relayed() {
    let body = content(3 << 20);
    let origin = serving(&body, |r| r).await;
    let h = start(&unkeyed(&origin, 0), &[]).await;
    let first = get(h.pop(0), "/big", &[]).await;
    assert_eq!((first.header("x-cache"), first.header("content-length")), ("Miss from cloudfront", "3145728"));
    assert_eq!(first.body, body);
    assert_eq!(get(h.pop(0), "/big", &[]).await.header("x-cache"), "Miss from cloudfront");
    assert_eq!(origin.hits("/big"), 2);
}

/// An invalidation reaches the disk tier: the next request is a miss.
#[tokio::test]
async fn invalidations_reach_the_disk_tier() {
    let origin = TestOrigin::start_with(|_| Reply::ok(content(2 << 20))).await;
    let dir = folder("purge");
    let h = start_on_disk(&origin, &dir).await;
    get(h.pop(0), "/p/a", &[]).await;
    assert_eq!(get(h.pop(0), "/p/a", &[]).await.header("x-cache"), "Hit from cloudfront");
    let distribution = h.edge.snapshot().distributions[0].id.clone();
    let path = cachalot_policy::invalidation::InvalidationPath::parse("/p/*").unwrap();
    assert_eq!(h.edge.invalidate(&distribution, &[path]), 1);
    assert_eq!(get(h.pop(0), "/p/a", &[]).await.header("x-cache"), "Miss from cloudfront");
    assert_eq!(origin.hits("/p/a"), 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Without a disk tier, a range of an object too large to buffer is asked of the origin
/// (CloudFront forwards `Range`), not cut out of a relayed whole object.
#[tokio::test]
async fn without_a_disk_tier_a_range_of_a_large_object_is_forwarded() {
    let dir = folder("range-forward");
    std::fs::create_dir_all(&dir).unwrap();
    let body = content(5 << 20);
    std::fs::write(dir.join("big.bin"), &body).unwrap();
    let config = r#"{"Distributions": [{"Id": "E3S3", "DomainName": "d333333abcdef8.cloudfront.net", "DistributionConfig": {
        "CallerReference": "s3", "Comment": "", "Enabled": true,
        "Origins": {"Quantity": 1, "Items": [{"Id": "site", "DomainName": "site.s3.amazonaws.com", "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "site", "ViewerProtocolPolicy": "allow-all", "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}}}]}"#;
    let h = start_with(config, &[], std::collections::HashMap::from([("site".to_owned(), dir.clone())])).await;
    let part = get(h.pop(0), "/big.bin", &[("range", "bytes=4000000-4000009")]).await;
    assert_eq!((part.status.as_u16(), part.header("content-range")), (206, "bytes 4000000-4000009/5242880"));
    assert_eq!((part.header("x-cache"), &part.body[..]), ("Miss from cloudfront", &body[4_000_000..4_000_010]));
    let logged = h.summaries(1).await;
    assert_eq!(logged[0].range, Some((4_000_000, 4_000_009)), "sc-range-start/end in the log");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An expired object on disk revalidated with a 304 (RefreshHit) is fresh again at once, for
/// the next request and on disk, and its body is still the one on disk.
#[tokio::test]
async fn a_refreshed_object_on_disk_is_fresh_again() {
    let body = content(2 << 20);
    let origin = revalidating_origin(body.clone()).await;
    let dir = folder("refresh");
    let h = start_on_disk(&origin, &dir).await;
    assert_eq!(get(h.pop(0), "/r", &[]).await.header("x-cache"), "Miss from cloudfront");
    h.advance(61);
    let refreshed = get(h.pop(0), "/r", &[]).await;
    assert_eq!(refreshed.header("x-cache"), "RefreshHit from cloudfront");
    assert_eq!(refreshed.body, body);
    h.advance(1);
    let after = get(h.pop(0), "/r", &[]).await;
    assert_eq!((after.header("x-cache"), after.header("age")), ("Hit from cloudfront", "1"));
    assert_eq!(after.body, body);
    assert_eq!(origin.requests().len(), 2);
    std::fs::remove_dir_all(&dir).unwrap();
}
