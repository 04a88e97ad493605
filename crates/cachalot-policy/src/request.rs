//! The view of a viewer request that policy decisions read.

use http::{HeaderMap, Method};
use std::net::{IpAddr, Ipv4Addr};

/// A viewer request as CloudFront's rules see it: borrowed, never copied on the hot path.
#[derive(Debug, Clone, Copy)]
pub struct ViewerRequest<'a> {
    /// Method.
    pub method: &'a Method,
    /// Path, without the query string (as received, not decoded).
    pub path: &'a str,
    /// Raw query string without `?`.
    pub query: Option<&'a str>,
    /// Request headers (after a viewer-request function, when one ran).
    pub headers: &'a HeaderMap,
    /// Viewer address.
    pub client_ip: IpAddr,
    /// Viewer port.
    pub client_port: u16,
    /// Arrived over TLS.
    pub https: bool,
    /// HTTP/1.0 viewer (no compression, `Accept-Encoding` dropped).
    pub http10: bool,
    /// `HTTP/1.1`, `HTTP/2.0`, … as logged.
    pub protocol_version: &'static str,
}

impl<'a> ViewerRequest<'a> {
    /// A plain-HTTP/1.1 request from 127.0.0.1 (tests and replay fill the rest as needed).
    pub fn new(method: &'a Method, path: &'a str, query: Option<&'a str>, headers: &'a HeaderMap) -> Self {
        Self {
            method,
            path,
            query,
            headers,
            client_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            client_port: 0,
            https: false,
            http10: false,
            protocol_version: "HTTP/1.1",
        }
    }

    /// The first value of a header as text.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}
