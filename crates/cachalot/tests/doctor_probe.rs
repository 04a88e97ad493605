//! `cachalot probe` against a small in-process HTTP server that behaves like a misconfigured
//! CloudFront POP (it stands in for a remote CDN): each cause is named, and nothing else.

use cachalot_doctor::Cause;
use cachalot_doctor::probe::FakeCdn;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::process::Command;
use std::sync::{Arc, Mutex};

/// What the fake server does with every connection.
#[derive(Clone)]
enum Behaviour {
    Cdn(Arc<Mutex<(FakeCdn, u64)>>),
    Redirect,
    Silent,
}

fn serve(behaviour: Behaviour) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let behaviour = behaviour.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    return;
                }
                let mut headers = Vec::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                        break;
                    }
                    if let Some((n, v)) = line.trim_end().split_once(':') {
                        headers.push((n.trim().to_owned(), v.trim().to_owned()));
                    }
                }
                let target = request_line.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let (path, query) = match target.split_once('?') {
                    Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
                    None => (target, None),
                };
                let (status, response_headers) = match &behaviour {
                    Behaviour::Silent => {
                        std::thread::sleep(std::time::Duration::from_secs(30));
                        return;
                    }
                    Behaviour::Redirect => (
                        "301 Moved Permanently",
                        vec![
                            ("location".to_owned(), "https://www.example.com/".to_owned()),
                            ("x-cache".to_owned(), "Redirect from cloudfront".to_owned()),
                        ],
                    ),
                    Behaviour::Cdn(state) => {
                        let mut state = state.lock().unwrap();
                        // Each request happens one virtual second after the previous one.
                        state.1 += 1;
                        let now = state.1;
                        let observed = state.0.respond(&path, query.as_deref(), &headers, now);
                        ("200 OK", observed.headers)
                    }
                };
                let mut out = format!("HTTP/1.1 {status}\r\n");
                for (n, v) in response_headers {
                    out.push_str(&format!("{n}: {v}\r\n"));
                }
                out.push_str("content-length: 1234\r\nconnection: close\r\n\r\n");
                let _ = stream.write_all(out.as_bytes());
            });
        }
    });
    port
}

fn cdn(cause: Option<Cause>) -> u16 {
    serve(Behaviour::Cdn(Arc::new(Mutex::new((FakeCdn::for_cause(cause), 1_000)))))
}

fn probe(port: u16, extra: &[&str]) -> (i32, String, String) {
    let url = format!("http://127.0.0.1:{port}/images/hero.jpg");
    let out = Command::new(env!("CARGO_BIN_EXE_cachalot")).arg("probe").arg(&url).args(extra).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).replace(&port.to_string(), "PORT");
    let stderr = String::from_utf8_lossy(&out.stderr).replace(&port.to_string(), "PORT");
    (out.status.code().unwrap_or(-1), stdout, stderr)
}

fn causes_in_json(stdout: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(stdout).unwrap();
    v["findings"].as_array().unwrap().iter().map(|f| f["cause"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn each_misconfiguration_is_named_with_exit_1_and_nothing_spurious() {
    for cause in [
        Cause::QueryStringsInKey,
        Cause::CookiesInKey,
        Cause::AcceptOverKeyed,
        Cause::TtlTooShort,
        Cause::AcceptEncodingKeyed,
    ] {
        let (code, stdout, stderr) = probe(cdn(Some(cause)), &["--json"]);
        assert_eq!(code, 1, "{cause}: {stderr}");
        assert_eq!(causes_in_json(&stdout), vec!["cold-pop".to_owned(), cause.id().to_owned()], "{cause}");
    }
}

#[test]
fn a_cold_pop_alone_is_healthy() {
    let (code, stdout, _) = probe(cdn(Some(Cause::ColdPop)), &["--json"]);
    assert_eq!(code, 0);
    assert_eq!(causes_in_json(&stdout), vec!["cold-pop".to_owned()]);
}

#[test]
fn text_report_snapshot_for_query_strings_in_key() {
    let (code, stdout, _) = probe(cdn(Some(Cause::QueryStringsInKey)), &[]);
    assert_eq!(code, 1);
    insta::assert_snapshot!("probe_query_strings_in_key", stdout);
}

#[test]
fn redirect_is_reported_as_such_with_exit_2() {
    let (code, stdout, stderr) = probe(serve(Behaviour::Redirect), &[]);
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert!(stderr.contains("redirects (301 to https://www.example.com/)"), "{stderr}");
    assert!(stderr.contains("hint: probe the final URL"), "{stderr}");
}

#[test]
fn timeout_refused_connection_and_failed_tls_exit_2() {
    let (code, _, stderr) = probe(serve(Behaviour::Silent), &["--timeout", "1"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no response within 1 s"), "{stderr}");

    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (code, _, stderr) = probe(closed, &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot connect"), "{stderr}");

    let port = cdn(None);
    let out = Command::new(env!("CARGO_BIN_EXE_cachalot"))
        .args(["probe", &format!("https://127.0.0.1:{port}/x"), "--timeout", "5"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("TLS") || stderr.contains("server name"), "{stderr}");
}
