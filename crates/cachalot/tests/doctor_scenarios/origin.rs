//! The test origin (it stands in for the customer's server): answers every scenario's paths
//! with the scenario's `Cache-Control`, `Vary`, `Set-Cookie` and content type, a stable
//! `ETag` and `Last-Modified` (so expired copies revalidate with a `304`), and a body whose
//! size depends on the object, and on `w` where the scenario serves widths.

use super::spec::Scenario;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Starts the origin on a free loopback port; it runs until the test process ends.
pub(crate) fn start(scenarios: Vec<Scenario>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let scenarios = Arc::new(scenarios);
    let counter = Arc::new(AtomicU64::new(0));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let scenarios = scenarios.clone();
            let counter = counter.clone();
            std::thread::spawn(move || {
                let _ = answer(stream, &scenarios, &counter);
            });
        }
    });
    port
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

fn answer(stream: std::net::TcpStream, scenarios: &[Scenario], counter: &AtomicU64) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut stream = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let mut if_none_match = None;
        let mut close = false;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
                break;
            }
            if let Some((n, v)) = line.trim_end().split_once(':') {
                match n.trim().to_ascii_lowercase().as_str() {
                    "if-none-match" => if_none_match = Some(v.trim().to_owned()),
                    "connection" => close = v.trim().eq_ignore_ascii_case("close"),
                    _ => {}
                }
            }
        }
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or("GET").to_owned();
        let target = parts.next().unwrap_or("/").to_owned();
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let prefix = path.trim_start_matches('/').split('/').next().unwrap_or("");
        let Some(s) = scenarios.iter().find(|s| s.prefix == prefix) else {
            stream.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")?;
            continue;
        };
        let width = query.split('&').find_map(|p| p.strip_prefix("w=")).and_then(|w| w.parse::<u64>().ok());
        let size = match (s.origin["size_by_width"].as_bool(), width) {
            (Some(true), Some(w)) => (w * 31) as usize,
            _ => 3_000 + (fnv(path) % 17_000) as usize,
        };
        let etag = format!("\"{:x}-{size}\"", fnv(path));
        let validators = s.origin["validators"].as_bool() != Some(false);
        let mut head = String::new();
        head.push_str(&format!("content-type: {}\r\n", s.content_type()));
        if let Some(cc) = s.origin["cache_control"].as_str() {
            head.push_str(&format!("cache-control: {cc}\r\n"));
        }
        if validators {
            head.push_str(&format!("etag: {etag}\r\nlast-modified: Mon, 01 Apr 2024 10:00:00 GMT\r\n"));
        }
        if let Some(vary) = s.origin["vary"].as_str() {
            head.push_str(&format!("vary: {vary}\r\n"));
        }
        if s.origin["set_cookie"].as_bool() == Some(true) {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            head.push_str(&format!("set-cookie: visitor={n:08x}; Path=/; Max-Age=3600\r\n"));
        }
        let not_modified = validators && if_none_match.as_deref() == Some(etag.as_str());
        let status = if not_modified { "304 Not Modified" } else { "200 OK" };
        let body_len = if not_modified || method == "HEAD" { 0 } else { size };
        let length = if not_modified { String::new() } else { format!("content-length: {size}\r\n") };
        let response = format!("HTTP/1.1 {status}\r\n{head}{length}\r\n");
        stream.write_all(response.as_bytes())?;
        if body_len > 0 {
            let body: Vec<u8> = (0..body_len).map(|i| b"cachalot origin body "[i % 21]).collect();
            stream.write_all(&body)?;
        }
        stream.flush()?;
        if close {
            return Ok(());
        }
    }
}
