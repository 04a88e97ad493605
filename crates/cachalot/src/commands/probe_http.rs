//! The probe's HTTP client: one HTTP/1.1 connection per request (plain TCP or TLS with
//! rustls and the webpki roots), no redirects followed, every failure named.

use crate::cli_error::hinted;
use bytes::Bytes;
use cachalot_doctor::probe::Observed;
use http_body_util::{BodyExt as _, Empty};
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;

/// Where to send the probe's requests.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    https: bool,
    host: String,
    port: u16,
    /// Path and query as given.
    path: String,
    query: Option<String>,
    authority: String,
    /// Accept any server certificate (`--insecure`: a local edge with a self-signed certificate).
    pub(crate) insecure: bool,
}

impl Target {
    pub(crate) fn parse(url: &str) -> anyhow::Result<Target> {
        let hint = "give a full URL such as https://d111111abcdef8.cloudfront.net/images/hero.jpg";
        let uri: http::Uri = url.parse().map_err(|e| hinted(format!("{url} is not a URL: {e}"), hint))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            Some(other) => return Err(hinted(format!("{url}: unsupported scheme {other}"), hint)),
            None => return Err(hinted(format!("{url}: missing http:// or https://"), hint)),
        };
        let Some(authority) = uri.authority() else { return Err(hinted(format!("{url} has no host"), hint)) };
        let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_owned();
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        Ok(Target {
            https,
            host,
            port,
            path: uri.path().to_owned(),
            query: uri.query().map(str::to_owned),
            authority: authority.as_str().to_owned(),
            insecure: false,
        })
    }

    fn path_and_query(&self, extra: Option<&str>) -> String {
        match (&self.query, extra) {
            (Some(q), Some(e)) => format!("{}?{q}&{e}", self.path),
            (Some(q), None) => format!("{}?{q}", self.path),
            (None, Some(e)) => format!("{}?{e}", self.path),
            (None, None) => self.path.clone(),
        }
    }
}

fn tls_config(insecure: bool) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions()?;
    let config = if insecure {
        // `--insecure`: any certificate is accepted; handshake signatures are still checked.
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(cachalot_control::AcceptAnyServer::new()))
            .with_no_client_auth()
    } else {
        let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// Sends one `HEAD` request (as `curl -sI` in the guide) and returns its status and headers.
pub(crate) async fn send(
    target: &Target,
    extra_query: Option<&str>,
    headers: &[(String, String)],
    timeout: Duration,
) -> anyhow::Result<Observed> {
    let what = format!("{}://{}", if target.https { "https" } else { "http" }, target.authority);
    match tokio::time::timeout(timeout, exchange(target, extra_query, headers)).await {
        Ok(result) => result,
        Err(_) => Err(hinted(
            format!("{what}: no response within {} s", timeout.as_secs()),
            "the target is slow or unreachable; retry with a larger --timeout",
        )),
    }
}

async fn exchange(
    target: &Target,
    extra_query: Option<&str>,
    headers: &[(String, String)],
) -> anyhow::Result<Observed> {
    let what = format!("{}:{}", target.host, target.port);
    let tcp = TcpStream::connect((target.host.as_str(), target.port)).await.map_err(|e| {
        hinted(format!("cannot connect to {what}: {e}"), "check the host name and port, and that the server is up")
    })?;
    let _ = tcp.set_nodelay(true);
    let mut request = http::Request::builder().method(http::Method::HEAD).uri(target.path_and_query(extra_query));
    // A `-H Host:` or `-H User-Agent:` replaces the probe's own rather than being sent twice.
    let given = |name: &http::header::HeaderName| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name.as_str()));
    if !given(&http::header::HOST) {
        request = request.header(http::header::HOST, target.authority.as_str());
    }
    if !given(&http::header::USER_AGENT) {
        request = request.header(http::header::USER_AGENT, concat!("cachalot-probe/", env!("CARGO_PKG_VERSION")));
    }
    for (n, v) in headers {
        request = request.header(n.as_str(), v.as_str());
    }
    let request = request
        .body(Empty::<Bytes>::new())
        .map_err(|e| hinted(format!("cannot build the request: {e}"), "check the -H values"))?;
    let response = if target.https {
        let server_name = rustls::pki_types::ServerName::try_from(target.host.clone())
            .map_err(|e| hinted(format!("{}: not a valid TLS server name: {e}", target.host), "use a host name"))?;
        let tls = tokio_rustls::TlsConnector::from(tls_config(target.insecure)?)
            .connect(server_name, tcp)
            .await
            .map_err(|e| {
                hinted(
                    format!("TLS with {what} failed: {e}"),
                    "the server's certificate is not trusted or TLS is refused; this is not a cache problem \
                 (--insecure accepts a self-signed certificate)",
                )
            })?;
        round_trip(TokioIo::new(tls), request, &what).await?
    } else {
        round_trip(TokioIo::new(tcp), request, &what).await?
    };
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    // HEAD has no body; drain whatever framing there is so the connection closes cleanly.
    let _ = response.into_body().collect().await;
    Ok(Observed { status, headers })
}

async fn round_trip<I>(
    io: I,
    request: http::Request<Empty<Bytes>>,
    what: &str,
) -> anyhow::Result<http::Response<hyper::body::Incoming>>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| hinted(format!("HTTP handshake with {what} failed: {e}"), "is this an HTTP server?"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    sender
        .send_request(request)
        .await
        .map_err(|e| hinted(format!("{what} did not answer with HTTP: {e}"), "is this an HTTP server?"))
}
