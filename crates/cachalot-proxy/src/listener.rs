//! POP listeners: accept viewer connections (HTTP/1.1 and HTTP/2, optionally TLS)
//! and hand each request to the viewer side.

use crate::edge::Edge;
use crate::viewer::{ConnInfo, handle};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

/// Loads a PEM certificate chain and private key into a TLS acceptor (HTTP/2 and HTTP/1.1 via ALPN).
pub fn tls_acceptor(cert_pem: &[u8], key_pem: &[u8]) -> Result<TlsAcceptor, String> {
    let certs: Vec<_> = rustls_pemfile::certs(&mut &cert_pem[..])
        .collect::<Result<_, _>>()
        .map_err(|e| format!("cannot read the certificate PEM: {e}"))?;
    if certs.is_empty() {
        return Err("the certificate file holds no CERTIFICATE block".to_owned());
    }
    let key = rustls_pemfile::private_key(&mut &key_pem[..])
        .map_err(|e| format!("cannot read the private key PEM: {e}"))?
        .ok_or_else(|| "the key file holds no PRIVATE KEY block".to_owned())?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("certificate and key do not fit together: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn tls_names(conn: &rustls::ServerConnection) -> (Option<&'static str>, Option<String>) {
    let version = conn.protocol_version().map(|v| match v {
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3",
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2",
        _ => "TLSv1",
    });
    let cipher = conn.negotiated_cipher_suite().map(|c| openssl_cipher_name(c.suite()));
    (version, cipher)
}

/// CloudFront logs cipher suites by their OpenSSL names.
fn openssl_cipher_name(suite: rustls::CipherSuite) -> String {
    use rustls::CipherSuite as C;
    match suite {
        C::TLS13_AES_128_GCM_SHA256 => "TLS_AES_128_GCM_SHA256".into(),
        C::TLS13_AES_256_GCM_SHA384 => "TLS_AES_256_GCM_SHA384".into(),
        C::TLS13_CHACHA20_POLY1305_SHA256 => "TLS_CHACHA20_POLY1305_SHA256".into(),
        C::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => "ECDHE-RSA-AES128-GCM-SHA256".into(),
        C::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => "ECDHE-RSA-AES256-GCM-SHA384".into(),
        C::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 => "ECDHE-ECDSA-AES128-GCM-SHA256".into(),
        C::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 => "ECDHE-ECDSA-AES256-GCM-SHA384".into(),
        C::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => "ECDHE-RSA-CHACHA20-POLY1305".into(),
        C::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 => "ECDHE-ECDSA-CHACHA20-POLY1305".into(),
        other => format!("{other:?}"),
    }
}

/// Serves one POP on `listener` until `shutdown` turns true, then lets open
/// connections finish for up to `grace`.
pub async fn serve_pop(
    edge: Edge,
    pop_index: usize,
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    mut shutdown: watch::Receiver<bool>,
    grace: Duration,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().keep_alive(true).max_buf_size(64 * 1024).timer(hyper_util::rt::TokioTimer::new());
    // CloudFront writes HTTP/1.1 header names capitalised per word (`X-Cache`, `X-Custom-Header`).
    builder.http1().title_case_headers(true);
    builder.http1().header_read_timeout(Duration::from_secs(30));
    builder.http2().max_concurrent_streams(256);
    let builder = Arc::new(builder);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.wait_for(|s| *s) => break,
        };
        let Ok((stream, remote)) = accepted else { continue };
        let _ = stream.set_nodelay(true);
        let edge = edge.clone();
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => {
                    let info = ConnInfo { remote, https: false, tls_protocol: None, tls_cipher: None };
                    let inner = edge.inner.clone();
                    let svc = service_fn(move |req| {
                        let inner = inner.clone();
                        let info = info.clone();
                        async move { Ok::<_, std::convert::Infallible>(handle(inner, pop_index, info, req).await) }
                    });
                    let conn = builder.serve_connection(TokioIo::new(stream), svc);
                    let _ = watcher.watch(conn.into_owned()).await;
                }
                Some(acceptor) => {
                    let Ok(Ok(tls_stream)) =
                        tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await
                    else {
                        return;
                    };
                    let (protocol, cipher) = tls_names(tls_stream.get_ref().1);
                    let info = ConnInfo { remote, https: true, tls_protocol: protocol, tls_cipher: cipher };
                    let inner = edge.inner.clone();
                    let svc = service_fn(move |req| {
                        let inner = inner.clone();
                        let info = info.clone();
                        async move { Ok::<_, std::convert::Infallible>(handle(inner, pop_index, info, req).await) }
                    });
                    let conn = builder.serve_connection(TokioIo::new(tls_stream), svc);
                    let _ = watcher.watch(conn.into_owned()).await;
                }
            }
        });
    }
    let _ = tokio::time::timeout(grace, graceful.shutdown()).await;
}
