//! Durability: the server is killed with SIGKILL at random moments while a
//! client writes; after every restart the store opens and every write that
//! was acknowledged (201) is there.

mod common;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// One raw HTTP request; the status code, or `None` when the server is gone.
fn request(url: &str, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
    let addr = url.strip_prefix("http://")?;
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let status = out.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, out))
}

fn policy(name: &str) -> String {
    format!(
        "<CachePolicyConfig xmlns=\"http://cloudfront.amazonaws.com/doc/2020-05-31/\"><Name>{name}</Name><MinTTL>1</MinTTL>\
         <ParametersInCacheKeyAndForwardedToOrigin><EnableAcceptEncodingGzip>true</EnableAcceptEncodingGzip>\
         <HeadersConfig><HeaderBehavior>none</HeaderBehavior></HeadersConfig><CookiesConfig><CookieBehavior>none</CookieBehavior>\
         </CookiesConfig><QueryStringsConfig><QueryStringBehavior>none</QueryStringBehavior></QueryStringsConfig>\
         </ParametersInCacheKeyAndForwardedToOrigin></CachePolicyConfig>"
    )
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    let state = common::TempDir::new("crash");
    let mut acknowledged: Vec<String> = Vec::new();
    let mut n = 0;
    for round in 0..6 {
        let mut server = common::Server::start(&state.0, &[]);
        let pid = server.child.id();
        let delay = Duration::from_millis(fastrand::u64(20..400));
        let killer = std::thread::spawn(move || {
            std::thread::sleep(delay);
            let _ = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status();
        });
        let started = Instant::now();
        // Write until the server dies (bounded in count and time; the final list holds at most 1000).
        for _ in 0..150 {
            if started.elapsed() > Duration::from_secs(30) {
                break;
            }
            n += 1;
            let name = format!("crash-{round}-{n}");
            match request(&server.url, "POST", "/2020-05-31/cache-policy", &policy(&name)) {
                Some((201, _)) => acknowledged.push(name),
                Some((status, body)) => panic!("unexpected answer {status}: {body}"),
                None => break,
            }
        }
        killer.join().unwrap();
        server.kill();
    }
    assert!(!acknowledged.is_empty(), "no write was acknowledged before the kills");
    let server = common::Server::start(&state.0, &[]);
    let (status, body) = request(&server.url, "GET", "/2020-05-31/cache-policy?Type=custom&MaxItems=1000", "")
        .expect("the store reopens");
    assert_eq!(status, 200, "{body}");
    let missing: Vec<&String> = acknowledged.iter().filter(|n| !body.contains(&format!("<Name>{n}</Name>"))).collect();
    assert!(missing.is_empty(), "acknowledged but lost after SIGKILL: {missing:?}");
}
