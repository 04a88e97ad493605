//! A deterministic generator of realistic CloudFront traffic, as [`LogRecord`]s.
//!
//! The same [`GenConfig`] (seed included) always yields the same records, on every
//! platform and version of the crate's dependencies (the random generator is written
//! here). Used by the parser benchmark and as the source of log fixtures for the doctor.
//!
//! Traffic shape: paths with Zipf-like popularity (a few hot assets, a long tail), mostly
//! `GET`, some `HEAD`/`POST`/`OPTIONS`; an optional share of tracking junk in query strings
//! (`utm_*`, `fbclid`, `gclid`) and of cookies; a configurable result mix; IPv4 and IPv6
//! viewers; TLS and plain HTTP; range requests on video; timestamps advancing at a given
//! request rate with small out-of-order jitter, as in real files.

use crate::format::{LogRecord, ResultType};
use crate::rng::SeededRng;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Relative weights of the result types generated.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultMix {
    /// `Hit`.
    pub hit: f64,
    /// `RefreshHit`.
    pub refresh_hit: f64,
    /// `Miss`.
    pub miss: f64,
    /// `Error` (4xx/5xx, with detailed types).
    pub error: f64,
    /// `Redirect` (HTTP → HTTPS).
    pub redirect: f64,
    /// `FunctionGeneratedResponse`.
    pub function: f64,
}

impl Default for ResultMix {
    fn default() -> Self {
        ResultMix { hit: 70.0, refresh_hit: 4.0, miss: 20.0, error: 4.0, redirect: 1.0, function: 1.0 }
    }
}

impl ResultMix {
    /// Parses `hit=70,refresh=4,miss=20,error=4,redirect=1,function=1` (missing keys are 0).
    pub fn parse(spec: &str) -> Result<ResultMix, String> {
        let mut mix = ResultMix { hit: 0.0, refresh_hit: 0.0, miss: 0.0, error: 0.0, redirect: 0.0, function: 0.0 };
        for part in spec.split(',').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').ok_or_else(|| format!("expected key=weight, got `{part}`"))?;
            let v: f64 = v.parse().map_err(|_| format!("invalid weight `{v}`"))?;
            if !(v >= 0.0 && v.is_finite()) {
                return Err(format!("invalid weight `{v}`"));
            }
            match k {
                "hit" => mix.hit = v,
                "refresh" | "refreshhit" => mix.refresh_hit = v,
                "miss" => mix.miss = v,
                "error" => mix.error = v,
                "redirect" => mix.redirect = v,
                "function" => mix.function = v,
                _ => return Err(format!("unknown result `{k}` (hit, refresh, miss, error, redirect, function)")),
            }
        }
        if mix.total() <= 0.0 {
            return Err("the weights add up to zero".into());
        }
        Ok(mix)
    }

    fn total(&self) -> f64 {
        self.hit + self.refresh_hit + self.miss + self.error + self.redirect + self.function
    }
}

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct GenConfig {
    /// Random seed.
    pub seed: u64,
    /// Number of distributions (ids `E…`, domains `d….cloudfront.net`).
    pub distributions: usize,
    /// Number of POPs.
    pub pops: usize,
    /// Number of distinct paths per distribution.
    pub paths: usize,
    /// Share of requests (0–1) whose query string carries tracking junk.
    pub query_junk: f64,
    /// Share of requests (0–1) that carry cookies.
    pub cookies: f64,
    /// Result mix.
    pub mix: ResultMix,
    /// Time of the first request.
    pub start: SystemTime,
    /// Requests per second (spacing of timestamps).
    pub requests_per_second: f64,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            seed: 1,
            distributions: 2,
            pops: 6,
            paths: 5000,
            query_junk: 0.2,
            cookies: 0.3,
            mix: ResultMix::default(),
            // 2024-03-01T10:00:00Z
            start: SystemTime::UNIX_EPOCH + Duration::from_secs(1_709_287_200),
            requests_per_second: 200.0,
        }
    }
}

/// One generated request.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedRequest {
    /// The distribution it belongs to.
    pub distribution_id: Arc<str>,
    /// The path pattern of the behavior that would serve it.
    pub behavior: &'static str,
    /// The log record.
    pub record: LogRecord,
}

const POPS: [&str; 16] = [
    "IAD89-C1", "LHR50-C1", "FRA56-P5", "NRT57-P2", "SFO53-C1", "GRU3-C1", "SYD1-C1", "DFW56-P1", "CDG50-C1",
    "SIN2-P1", "AMS1-C1", "ORD58-P4", "BOM78-P4", "HEL50-C2", "JFK52-C1", "SEA19-C1",
];

const USER_AGENTS: [&str; 6] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "curl/8.5.0",
    "Amazon CloudFront",
];

const REFERERS: [&str; 4] =
    ["https://www.example.com/", "https://www.google.com/", "https://www.example.com/products?page=2", ""];

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const HEXDIGITS: &[u8] = b"0123456789abcdef";
const ID_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

struct PathInfo {
    path: String,
    content_type: &'static str,
    size: u64,
    behavior: &'static str,
}

struct Dist {
    id: Arc<str>,
    domain: String,
    alias: String,
    paths: Vec<PathInfo>,
}

/// The generator: an endless iterator of requests (take as many as needed).
pub struct Generator {
    cfg: GenConfig,
    rng: SeededRng,
    dists: Vec<Dist>,
    pops: Vec<&'static str>,
    n: u64,
    mix_total: f64,
}

impl Generator {
    /// A generator for `cfg`.
    pub fn new(cfg: GenConfig) -> Generator {
        let mut rng = SeededRng::new(cfg.seed);
        let dists = (0..cfg.distributions.max(1))
            .map(|i| {
                let id = format!("E{}", rng.token(13, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"));
                let domain = format!("d{}.cloudfront.net", rng.token(13, b"abcdefghijklmnopqrstuvwxyz0123456789"));
                let alias = format!("www{}.example.com", if i == 0 { String::new() } else { i.to_string() });
                let paths = (0..cfg.paths.max(1)).map(|r| path_info(&mut rng, r)).collect();
                Dist { id: id.into(), domain, alias, paths }
            })
            .collect();
        let pops = (0..cfg.pops.clamp(1, 1000)).map(|i| POPS[i % POPS.len()]).collect();
        let mix_total = cfg.mix.total().max(f64::MIN_POSITIVE);
        Generator { rng, dists, pops, n: 0, mix_total, cfg }
    }

    /// The distribution ids, in the order used.
    pub fn distribution_ids(&self) -> Vec<Arc<str>> {
        self.dists.iter().map(|d| d.id.clone()).collect()
    }

    fn next_request(&mut self) -> GeneratedRequest {
        let rng = &mut self.rng;
        let n = self.n;
        self.n += 1;
        let rps = if self.cfg.requests_per_second > 0.0 { self.cfg.requests_per_second } else { 1.0 };
        // Records finish slightly out of order, as in CloudFront's files.
        let offset = (n as f64 / rps + rng.f64() * 0.5).max(0.0);
        let timestamp = self.cfg.start + Duration::from_secs_f64(offset);
        let dist = &self.dists[rng.zipf(self.dists.len())];
        let info = &dist.paths[rng.zipf(dist.paths.len())];

        let m = rng.f64();
        let method = if m < 0.94 {
            "GET"
        } else if m < 0.97 {
            "HEAD"
        } else if m < 0.99 {
            "POST"
        } else {
            "OPTIONS"
        };
        let https = !rng.chance(0.03);
        let mut query = String::new();
        if info.behavior == "/api/*" {
            query = format!("page={}&limit=20", rng.below(20));
        } else if info.path.ends_with(".js") && rng.chance(0.5) {
            query = format!("v={}", rng.below(50));
        }
        if rng.chance(self.cfg.query_junk) {
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(&format!(
                "utm_source={}&utm_medium=email&utm_campaign=spring%20sale&fbclid={}",
                rng.pick(&["newsletter", "twitter", "facebook"]),
                rng.token(24, ALNUM)
            ));
            if rng.chance(0.3) {
                query.push_str(&format!("&gclid={}", rng.token(20, ALNUM)));
            }
        }
        let cookie = if rng.chance(self.cfg.cookies) {
            format!(
                "session-id={}; _ga=GA1.2.{}.{}; theme={}",
                rng.token(32, HEXDIGITS),
                rng.below(1 << 31),
                1_700_000_000 + rng.below(9_000_000),
                rng.pick(&["dark", "light"])
            )
        } else {
            String::new()
        };

        // Result type, status and detail.
        let w = rng.f64() * self.mix_total;
        let mix = &self.cfg.mix;
        let (result, mut status, detailed) = if !https && w < mix.redirect {
            (ResultType::Redirect, 301, ResultType::Redirect)
        } else if w < mix.hit {
            (ResultType::Hit, 200, ResultType::Hit)
        } else if w < mix.hit + mix.refresh_hit {
            (ResultType::RefreshHit, if rng.chance(0.3) { 304 } else { 200 }, ResultType::RefreshHit)
        } else if w < mix.hit + mix.refresh_hit + mix.miss {
            if rng.chance(0.1) {
                (ResultType::Miss, 200, ResultType::OriginShieldHit)
            } else {
                (ResultType::Miss, 200, ResultType::Miss)
            }
        } else if w < mix.hit + mix.refresh_hit + mix.miss + mix.error {
            let (s, d) = rng
                .pick(&[
                    (404, ResultType::Error),
                    (404, ResultType::Error),
                    (403, ResultType::Error),
                    (502, ResultType::OriginConnectError),
                    (503, ResultType::Error),
                    (504, ResultType::OriginCommError),
                    (400, ResultType::InvalidRequest),
                    (401, ResultType::Error),
                ])
                .clone();
            (ResultType::Error, s, d)
        } else if w < mix.hit + mix.refresh_hit + mix.miss + mix.error + mix.redirect {
            (ResultType::Redirect, 301, ResultType::Redirect)
        } else {
            (ResultType::FunctionGeneratedResponse, 302, ResultType::FunctionGeneratedResponse)
        };
        // POST is never served from cache.
        let (result, detailed) = if method == "POST"
            && (matches!(result, ResultType::Hit | ResultType::RefreshHit) || detailed == ResultType::OriginShieldHit)
        {
            status = 200;
            (ResultType::Miss, ResultType::Miss)
        } else {
            (result, detailed)
        };

        let (mut range_start, mut range_end) = (None, None);
        let mut body = match status {
            200 | 206 => info.size,
            301 | 302 => 0,
            304 => 0,
            _ => 150 + rng.below(600),
        };
        if status == 200 && info.content_type == "video/mp4" && rng.chance(0.7) {
            let start = rng.below(info.size / 2);
            let end = (start + 1_048_575).min(info.size - 1);
            status = 206;
            range_start = Some(start);
            range_end = Some(end);
            body = end - start + 1;
        }
        if method == "HEAD" {
            body = 0;
        }
        let headers = 280 + rng.below(320);
        let from_origin =
            matches!(result, ResultType::Miss | ResultType::Error) && detailed != ResultType::OriginShieldHit;
        let ttfb_ms = if from_origin { 20.0 + rng.f64() * rng.f64() * 800.0 } else { 0.5 + rng.f64() * 6.0 };
        let ttfb = Duration::from_millis(ttfb_ms.round() as u64);
        let transfer = Duration::from_millis(body / 200_000 + rng.below(5));
        let client_ip = if rng.chance(0.15) {
            IpAddr::V6(Ipv6Addr::new(
                0x2001,
                0xdb8,
                rng.below(65536) as u16,
                rng.below(65536) as u16,
                0,
                0,
                0,
                rng.below(65536) as u16 | 1,
            ))
        } else {
            IpAddr::V4(Ipv4Addr::new(
                *rng.pick(&[81, 92, 185, 203, 198, 100]),
                rng.below(256) as u8,
                rng.below(256) as u8,
                1 + rng.below(254) as u8,
            ))
        };
        let forwarded_for =
            if rng.chance(0.05) { format!("10.0.{}.{}", rng.below(256), rng.below(256)) } else { String::new() };
        let (ssl_protocol, ssl_cipher) = if https {
            *rng.pick(&[("TLSv1.3", "TLS_AES_128_GCM_SHA256"), ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256")])
        } else {
            ("", "")
        };
        let protocol_version =
            if https { *rng.pick(&["HTTP/2.0", "HTTP/2.0", "HTTP/1.1", "HTTP/3.0"]) } else { "HTTP/1.1" };
        let host_header = if rng.chance(0.8) { dist.alias.clone() } else { dist.domain.clone() };
        let content_type = if matches!(status, 200 | 206) { info.content_type } else { "text/html" };
        let record = LogRecord {
            timestamp,
            edge_location: self.pops[rng.zipf(self.pops.len())].to_owned(),
            sc_bytes: headers + body,
            client_ip: Some(client_ip),
            method: method.to_owned(),
            host: dist.domain.clone(),
            uri_stem: info.path.clone(),
            status: Some(status),
            referer: rng.pick(&REFERERS).to_string(),
            user_agent: rng.pick(&USER_AGENTS).to_string(),
            query,
            cookie,
            result_type: result.clone(),
            request_id: format!("{}==", rng.token(54, ID_CHARS)),
            host_header,
            protocol: if https { "https" } else { "http" }.to_owned(),
            cs_bytes: 200 + rng.below(900) + if method == "POST" { 1000 + rng.below(20_000) } else { 0 },
            time_taken: ttfb + transfer,
            forwarded_for,
            ssl_protocol: ssl_protocol.to_owned(),
            ssl_cipher: ssl_cipher.to_owned(),
            response_result_type: result,
            protocol_version: protocol_version.to_owned(),
            fle_status: String::new(),
            fle_encrypted_fields: None,
            client_port: Some(1024 + rng.below(64_511) as u16),
            time_to_first_byte: Some(ttfb),
            detailed_result_type: detailed,
            content_type: content_type.to_owned(),
            content_length: if matches!(status, 304 | 301 | 302) { None } else { Some(body) },
            range_start,
            range_end,
        };
        GeneratedRequest { distribution_id: dist.id.clone(), behavior: info.behavior, record }
    }
}

fn path_info(rng: &mut SeededRng, rank: usize) -> PathInfo {
    match rank % 10 {
        0 => PathInfo {
            path: format!("/static/js/app-{}.js", rng.token(8, HEXDIGITS)),
            content_type: "application/javascript",
            size: 20_000 + rng.below(400_000),
            behavior: "/static/*",
        },
        1 => PathInfo {
            path: format!("/static/css/site-{}.css", rng.token(8, HEXDIGITS)),
            content_type: "text/css",
            size: 5_000 + rng.below(80_000),
            behavior: "/static/*",
        },
        2..=4 => PathInfo {
            path: format!("/images/products/{}/{}.jpg", rng.below(500), rng.token(10, HEXDIGITS)),
            content_type: "image/jpeg",
            size: 10_000 + rng.below(900_000),
            behavior: "/images/*",
        },
        5 => PathInfo {
            path: format!("/api/v1/items/{}", rng.below(100_000)),
            content_type: "application/json",
            size: 300 + rng.below(8_000),
            behavior: "/api/*",
        },
        6 => PathInfo {
            path: format!("/video/{}/segment-{}.mp4", rng.below(100), rng.below(400)),
            content_type: "video/mp4",
            size: 2_000_000 + rng.below(40_000_000),
            behavior: "/video/*",
        },
        7 => PathInfo {
            path: format!("/blog/{}-{}.html", rng.token(6, b"abcdefghijklmnopqrstuvwxyz"), rng.below(2000)),
            content_type: "text/html; charset=utf-8",
            size: 8_000 + rng.below(90_000),
            behavior: "*",
        },
        8 => PathInfo {
            path: format!("/fonts/{}.woff2", rng.pick(&["inter", "roboto mono", "noto-sans-jp"])),
            content_type: "font/woff2",
            size: 30_000 + rng.below(100_000),
            behavior: "/static/*",
        },
        _ => PathInfo {
            path: (*rng.pick(&["/", "/index.html", "/favicon.ico", "/robots.txt", "/café/menu.html"])).to_owned(),
            content_type: "text/html",
            size: 1_000 + rng.below(60_000),
            behavior: "*",
        },
    }
}

impl Iterator for Generator {
    type Item = GeneratedRequest;

    fn next(&mut self) -> Option<GeneratedRequest> {
        Some(self.next_request())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_records() {
        let a: Vec<_> = Generator::new(GenConfig::default()).take(200).collect();
        let b: Vec<_> = Generator::new(GenConfig::default()).take(200).collect();
        assert_eq!(a, b);
        let c: Vec<_> = Generator::new(GenConfig { seed: 2, ..GenConfig::default() }).take(200).collect();
        assert_ne!(a, c);
    }

    #[test]
    fn mix_is_respected() {
        let cfg = GenConfig { mix: ResultMix::parse("hit=1").unwrap(), ..GenConfig::default() };
        let hits = Generator::new(cfg)
            .take(1000)
            .filter(|r| r.record.method != "POST" && r.record.protocol == "https")
            .all(|r| r.record.result_type == ResultType::Hit);
        assert!(hits);
        assert!(ResultMix::parse("hit=x").is_err());
        assert!(ResultMix::parse("bogus=1").is_err());
        assert!(ResultMix::parse("hit=0").is_err());
    }
}
