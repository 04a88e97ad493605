//! Deterministic traffic with a known answer, one scenario per cause: a Cachalot config
//! that has the cause and a standard log of requests served under it.
//!
//! Results (Hit, Miss, RefreshHit) come from the replay model ([`crate::replay`]) driven by
//! the scenario's config, so keys and TTLs are `cachalot-policy`'s; the log is written with
//! `cachalot-telemetry`'s writer. The same seed always gives the same bytes.

use crate::cause::Cause;
use crate::input::Inputs;
use crate::replay::{ConfigModel, Decision, KeyScratch, RequestView, Served, Simulator, hash64};
use cachalot_telemetry::ResultType;
use cachalot_telemetry::format::{self, LogRecord};
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The distribution every scenario serves.
pub const DISTRIBUTION_ID: &str = "E1DOCTOREXAMPL";
/// Its domain name.
pub const DOMAIN: &str = "d111111abcdef8.cloudfront.net";
/// Start of every scenario: 2024-03-01T10:00:00Z.
pub const START_SECS: u64 = 1_709_287_200;
const POPS: [(&str, &str); 3] = [("LHR50-C1", "eu-west-2"), ("FRA56-P5", "eu-central-1"), ("IAD89-C1", "us-east-1")];

/// Browser `Accept` values for images (raw strings differ, the chosen format does not).
pub const BROWSER_ACCEPTS: [&str; 8] = [
    "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8",
    "image/avif,image/webp,*/*",
    "image/webp,*/*",
    "image/avif,image/webp,image/apng,*/*;q=0.8",
    "image/webp,image/apng,image/*,*/*;q=0.8",
    "image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5",
    "image/avif,image/webp,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5",
    "*/*",
];

/// A generated scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The cause it has (`ColdPop` for the healthy, sparse one).
    pub cause: Cause,
    /// The Cachalot config file.
    pub config: String,
    /// The log records, in time order.
    pub records: Vec<LogRecord>,
}

/// splitmix64: small, fast, the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { ((u128::from(self.next()) * u128::from(n)) >> 64) as u64 }
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 > 1.0 - p
    }
    /// Zipf-like rank in `[0, n)`.
    fn zipf(&mut self, n: u64) -> u64 {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((((n + 1) as f64).powf(u) - 1.0) as u64).min(n.saturating_sub(1))
    }
}

fn media_policy(cause: Cause) -> serde_json::Value {
    let (query, cookies, headers, default_ttl, max_ttl) = match cause {
        Cause::QueryStringsInKey => ("all", "none", None, 86_400, 31_536_000),
        Cause::CookiesInKey => ("none", "all", None, 86_400, 31_536_000),
        Cause::AcceptOverKeyed => ("none", "none", Some("Accept"), 86_400, 31_536_000),
        Cause::TtlTooShort => ("none", "none", None, 60, 600),
        _ => ("none", "none", None, 86_400, 31_536_000),
    };
    let headers = match headers {
        Some(h) => serde_json::json!({"HeaderBehavior": "whitelist", "Headers": {"Quantity": 1, "Items": [h]}}),
        None => serde_json::json!({"HeaderBehavior": "none"}),
    };
    serde_json::json!({
        "Id": "a1b2c3d4-0000-4000-8000-00000000d0c7",
        "CachePolicyConfig": {
            "Name": format!("media-{}", cause.id()),
            "MinTTL": 1, "DefaultTTL": default_ttl, "MaxTTL": max_ttl,
            "ParametersInCacheKeyAndForwardedToOrigin": {
                "EnableAcceptEncodingGzip": true, "EnableAcceptEncodingBrotli": true,
                "HeadersConfig": headers,
                "CookiesConfig": {"CookieBehavior": cookies},
                "QueryStringsConfig": {"QueryStringBehavior": query}
            }
        }
    })
}

/// The config of a scenario: `/images/*` with the cause's media policy, everything else
/// on Managed-CachingOptimized.
pub fn config_for(cause: Cause) -> String {
    let pops: Vec<serde_json::Value> = POPS
        .iter()
        .enumerate()
        .map(|(i, (id, region))| serde_json::json!({"Id": id, "Listen": format!("127.0.0.1:{}", 18080 + i), "Region": region}))
        .collect();
    let config = serde_json::json!({
        "Pops": pops,
        "Buckets": {"doctor-logs": "./logs"},
        "Distributions": [{
            "Id": DISTRIBUTION_ID,
            "DomainName": DOMAIN,
            "DistributionConfig": {
                "CallerReference": format!("doctor-{}", cause.id()),
                "Comment": format!("scenario for {}", cause.id()),
                "Enabled": true,
                "Logging": {"Enabled": true, "IncludeCookies": true, "Bucket": "doctor-logs.s3.amazonaws.com", "Prefix": ""},
                "Origins": {"Quantity": 1, "Items": [{
                    "Id": "media", "DomainName": "media.example.com",
                    "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"}
                }]},
                "DefaultCacheBehavior": {
                    "TargetOriginId": "media", "ViewerProtocolPolicy": "redirect-to-https", "Compress": true,
                    "CachePolicyId": cachalot_config::managed::CACHING_OPTIMIZED
                },
                "CacheBehaviors": {"Quantity": 1, "Items": [{
                    "PathPattern": "/images/*", "TargetOriginId": "media", "ViewerProtocolPolicy": "redirect-to-https",
                    "Compress": true, "CachePolicyId": "a1b2c3d4-0000-4000-8000-00000000d0c7"
                }]}
            }
        }],
        "CachePolicies": [media_policy(cause)]
    });
    serde_json::to_string_pretty(&config).unwrap_or_default()
}

/// The model of a config text (which must be valid: scenario configs are).
pub fn model_of(label: &str, config: &str) -> Option<ConfigModel> {
    let mut inputs = Inputs::default();
    inputs.add_text(label, config, None).ok()?;
    let snapshot = inputs.snapshot().ok()?;
    Some(ConfigModel::new(label, &inputs, snapshot))
}

const USER_AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0";

fn record(
    rng: &mut Rng,
    secs: u64,
    pop: &str,
    path: &str,
    query: &str,
    cookie: &str,
    size: u64,
    served: Served,
) -> LogRecord {
    let (result, detailed) = match served {
        Served::Pop | Served::Regional => (ResultType::Hit, ResultType::Hit),
        Served::Shield => (ResultType::Hit, ResultType::OriginShieldHit),
        Served::Refreshed => (ResultType::RefreshHit, ResultType::RefreshHit),
        Served::Origin => (ResultType::Miss, ResultType::Miss),
    };
    let id: String = (0..54)
        .map(|_| {
            char::from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"[rng.below(64) as usize])
        })
        .collect();
    let millis = if served == Served::Origin { 40 + rng.below(200) } else { 1 + rng.below(5) };
    LogRecord {
        timestamp: SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
        edge_location: pop.to_owned(),
        sc_bytes: size + 420,
        client_ip: Some(IpAddr::V4(Ipv4Addr::new(198, 51, 100, rng.below(250) as u8 + 1))),
        method: "GET".into(),
        host: DOMAIN.into(),
        uri_stem: path.to_owned(),
        status: Some(200),
        referer: "https://www.example.com/".into(),
        user_agent: USER_AGENT.into(),
        query: query.to_owned(),
        cookie: cookie.to_owned(),
        result_type: result.clone(),
        request_id: format!("{id}=="),
        host_header: "www.example.com".into(),
        protocol: "https".into(),
        cs_bytes: 380,
        time_taken: Duration::from_millis(millis + 2),
        forwarded_for: String::new(),
        ssl_protocol: "TLSv1.3".into(),
        ssl_cipher: "TLS_AES_128_GCM_SHA256".into(),
        response_result_type: result,
        protocol_version: "HTTP/2.0".into(),
        fle_status: String::new(),
        fle_encrypted_fields: None,
        client_port: Some(40_000 + rng.below(20_000) as u16),
        time_to_first_byte: Some(Duration::from_millis(millis)),
        detailed_result_type: detailed,
        content_type: "image/jpeg".into(),
        content_length: Some(size),
        range_start: None,
        range_end: None,
    }
}

/// The scenario of a cause (`ColdPop`: healthy config, sparse traffic). `None` for causes
/// that only `lint` can see (they have no traffic signature).
pub fn generate(cause: Cause, seed: u64) -> Option<Scenario> {
    if !cause.is_seed() {
        return None;
    }
    let config = config_for(cause);
    let model = model_of("scenario", &config)?;
    let mut rng = Rng(seed ^ hash64(cause.id().as_bytes()));
    let (requests, paths, mean_gap) = match cause {
        Cause::ColdPop => (3_000u64, 2_000u64, 6u64),
        Cause::TtlTooShort => (6_000, 40, 2),
        _ => (6_000, 60, 2),
    };
    let mut sim = Simulator::new(None);
    let mut scratch = KeyScratch::default();
    let mut records = Vec::with_capacity(requests as usize);
    let mut secs = START_SECS;
    for _ in 0..requests {
        secs += rng.below(2 * mean_gap + 1);
        let (pop, _) = POPS[rng.below(POPS.len() as u64) as usize];
        let n = rng.zipf(paths);
        let path = format!("/images/img{n:04}.jpg");
        let size = 20_000 + hash64(path.as_bytes()) % 180_000;
        let query = match cause {
            Cause::QueryStringsInKey if rng.chance(0.7) => {
                if rng.chance(0.5) {
                    format!("utm_source=newsletter{}&utm_campaign=spring{}", rng.below(30), rng.below(20))
                } else {
                    format!("fbclid=IwAR{:08x}", rng.below(1 << 30))
                }
            }
            _ => String::new(),
        };
        let cookie = match cause {
            Cause::CookiesInKey if rng.chance(0.6) => format!("session={:06}; theme=dark", rng.below(400)),
            _ => String::new(),
        };
        let accept = BROWSER_ACCEPTS[rng.below(BROWSER_ACCEPTS.len() as u64) as usize];
        let view = RequestView {
            method: "GET",
            host: DOMAIN,
            host_header: "www.example.com",
            path: &path,
            query: &query,
            cookie: &cookie,
            user_agent: USER_AGENT,
            referer: "https://www.example.com/",
            accept,
            accept_encoding: "",
            status: 200,
        };
        let d: Decision = model.decide(&view, pop, secs, &mut scratch);
        let pop_tier = (hash64(pop.as_bytes()) as u32) | 1;
        // With a short TTL, even paths revalidate (RefreshHit), odd ones are refetched.
        let revalidates = cause == Cause::TtlTooShort && n.is_multiple_of(2);
        let served = sim.serve(secs * 1000, pop_tier, &d, size as u32, revalidates, false);
        records.push(record(&mut rng, secs, pop, &path, &query, &cookie, size, served));
    }
    Some(Scenario { cause, config, records })
}

/// A scripted scenario whose hit ratio is known without any model: `objects` objects, each
/// requested every `interval` seconds at every POP for `duration` seconds, under a config
/// whose DefaultTTL is `ttl`. Each object misses at each POP once per `ttl` (the first
/// request and every `ttl` seconds after), so the hit ratio is `1 - misses / requests`.
pub fn scripted(objects: u64, interval: u64, duration: u64, ttl: u64) -> (String, Vec<LogRecord>, f64) {
    let config = config_for(Cause::ColdPop).replace("\"DefaultTTL\": 86400", &format!("\"DefaultTTL\": {ttl}"));
    let mut rng = Rng(7);
    let mut records = Vec::new();
    let mut misses = 0u64;
    for step in 0..duration / interval {
        let t = step * interval;
        for (pop, _) in POPS {
            for o in 0..objects {
                let path = format!("/images/obj{o}.jpg");
                // Fetched at 0, ttl, 2·ttl, …: the request at those instants misses.
                let miss = t % ttl < interval;
                misses += u64::from(miss);
                let served = if miss { Served::Origin } else { Served::Pop };
                records.push(record(&mut rng, START_SECS + t, pop, &path, "", "", 50_000, served));
            }
        }
    }
    let total = records.len() as f64;
    (config, records, 100.0 * (1.0 - misses as f64 / total))
}

/// Writes the config (`config.json`) and the log (gzip, CloudFront's file naming) into `dir`.
pub fn write(dir: &Path, config: &str, records: &[LogRecord], log_name: &str) -> std::io::Result<(PathBuf, PathBuf)> {
    std::fs::create_dir_all(dir)?;
    let config_path = dir.join("config.json");
    std::fs::write(&config_path, config)?;
    let mut text = Vec::with_capacity(records.len() * 400);
    format::write_header(&mut text);
    for r in records {
        format::write_record(&mut text, r);
    }
    let log_path = dir.join(log_name);
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&text)?;
    std::fs::write(&log_path, enc.finish()?)?;
    Ok((config_path, log_path))
}

/// The file name CloudFront would give the log: `<DistributionId>.YYYY-MM-DD-HH.<unique>.gz`.
pub fn log_file_name(unique: &str) -> String {
    format!("{DISTRIBUTION_ID}.2024-03-01-10.{unique}.gz")
}

/// The measured hit ratio of records, by CacheHitRate's definition.
pub fn measured_hit_ratio(records: &[LogRecord]) -> f64 {
    let mut cacheable = 0u64;
    let mut hits = 0u64;
    for r in records {
        let o = cachalot_telemetry::outcome::Outcome::of(r);
        cacheable += u64::from(o.cacheable);
        hits += u64::from(o.hit);
    }
    if cacheable == 0 { 0.0 } else { 100.0 * hits as f64 / cacheable as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cachalot_telemetry::Field;

    #[test]
    fn scenarios_are_deterministic_and_valid() {
        for cause in Cause::ALL.into_iter().filter(|c| c.is_seed()) {
            let a = generate(cause, 1).unwrap();
            let b = generate(cause, 1).unwrap();
            assert_eq!(a.records, b.records, "{cause}");
            assert!(model_of("x", &a.config).is_some(), "{cause} config is valid");
            let line = format::record_line(&a.records[0]);
            assert_eq!(line.trim_end().split('\t').count(), Field::ALL.len());
        }
        assert!(generate(Cause::CompressionOff, 1).is_none());
    }

    #[test]
    fn scripted_answer_is_exact() {
        let (_, records, expected) = scripted(5, 60, 7200, 3600);
        assert!((measured_hit_ratio(&records) - expected).abs() < 1e-9);
        assert!((expected - 100.0 * (1.0 - 2.0 / 120.0)).abs() < 1e-9);
    }
}
