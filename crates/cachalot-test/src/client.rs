//! A minimal HTTP/1.1 client for tests (one connection per request, so POP and
//! connection state never leak between requests).

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;

/// A response, fully read.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
}

impl Reply {
    /// A header as text (empty when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

/// `GET` with headers.
pub async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Reply {
    request(addr, Method::GET, path, headers, Bytes::new()).await
}

/// Any request. `Host` defaults to `d111111abcdef8.cloudfront.net`.
pub async fn request(addr: SocketAddr, method: Method, path: &str, headers: &[(&str, &str)], body: Bytes) -> Reply {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect to the POP");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.expect("handshake");
    tokio::spawn(conn);
    let mut builder = Request::builder().method(method).uri(path);
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        builder = builder.header("host", "d111111abcdef8.cloudfront.net");
    }
    for (n, v) in headers {
        builder = builder.header(*n, *v);
    }
    let resp = sender.send_request(builder.body(Full::new(body)).expect("request")).await.expect("response");
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    Reply { status: parts.status, headers: parts.headers, body }
}

/// Any request over HTTP/2 (prior knowledge, plain TCP). `Host` becomes the `:authority`.
pub async fn request_h2(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Result<Reply, hyper::Error> {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect to the POP");
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let host =
        headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("host")).map_or("d111111abcdef8.cloudfront.net", |h| h.1);
    let mut builder = Request::builder().method(method).uri(format!("http://{host}{path}"));
    for (n, v) in headers.iter().filter(|(n, _)| !n.eq_ignore_ascii_case("host")) {
        builder = builder.header(*n, *v);
    }
    let resp = sender.send_request(builder.body(Full::new(body)).expect("request")).await?;
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    Ok(Reply { status: parts.status, headers: parts.headers, body })
}

/// Writes `raw` bytes on a new connection and returns everything the server sends
/// until it closes the connection (or 10 seconds pass).
pub async fn raw_exchange(addr: SocketAddr, raw: &[u8]) -> Vec<u8> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect to the POP");
    stream.write_all(raw).await.expect("write the request");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read_to_end(&mut out)).await;
    out
}
