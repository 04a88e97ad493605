//! Listeners: accept connections (HTTP/1.1 and HTTP/2, optionally TLS) within the
//! limits an edge that faces the internet needs, and hand each request to a service —
//! the viewer side for POPs, the admin router for the admin listener.
//!
//! Limits, all [`ListenerLimits`] (CloudFront documents none of these for viewers, so
//! they are Cachalot's own settings): a connection that has no request in flight and
//! moves no byte for `idle_timeout` is closed (HTTP/1.1 keep-alive, HTTP/2, and a
//! connection that never sends anything alike); request headers must arrive within
//! `header_read_timeout`; at most `max_connections` are open at once (further ones wait
//! in the kernel's backlog). Running out of file descriptors is logged and backed off
//! instead of retried in a busy loop.

use crate::edge::Edge;
use crate::viewer::{ConnInfo, handle};
use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::service::{Service, service_fn};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;

/// Connection limits of one listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerLimits {
    /// A connection with no request in flight and no traffic for this long is closed.
    pub idle_timeout: Duration,
    /// Request headers must arrive within this (HTTP/1.1).
    pub header_read_timeout: Duration,
    /// A TLS handshake must finish within this.
    pub tls_handshake_timeout: Duration,
    /// Connections open at once.
    pub max_connections: usize,
}

impl Default for ListenerLimits {
    fn default() -> Self {
        ListenerLimits {
            idle_timeout: Duration::from_secs(60),
            header_read_timeout: Duration::from_secs(20),
            tls_handshake_timeout: Duration::from_secs(10),
            max_connections: 10_000,
        }
    }
}

/// Request headers accepted by the HTTP layer; CloudFront's 20,480-byte limit is then
/// checked by the viewer side, which answers 413 (§13) instead of dropping the request.
const MAX_HEADER_BYTES: usize = 64 * 1024;

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
    shutdown: watch::Receiver<bool>,
    grace: Duration,
) {
    let limits = edge.inner.listener_limits;
    let inner = edge.inner.clone();
    let services = move |info: ConnInfo| {
        let inner = inner.clone();
        service_fn(move |req| {
            // The request's future holds the whole pipeline's state and is large: boxed once
            // here, every layer that wraps it (hyper's dispatcher, `Tracked`) moves a pointer
            // instead of copying it (a profile of 1 KiB hits showed those copies).
            let handled = Box::pin(handle(inner.clone(), pop_index, info.clone(), req));
            async move { Ok::<_, std::convert::Infallible>(handled.await) }
        })
    };
    serve_http(listener, tls, limits, shutdown, grace, services).await;
}

/// Serves HTTP on `listener` with `limits`: each connection gets the service
/// `services` makes for it. Returns when `shutdown` turns true and open connections
/// have finished (or `grace` has passed).
pub async fn serve_http<F, S, B>(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    limits: ListenerLimits,
    mut shutdown: watch::Receiver<bool>,
    grace: Duration,
    services: F,
) where
    F: Fn(ConnInfo) -> S + Send + Sync + 'static,
    S: Service<Request<Incoming>, Response = Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .keep_alive(true)
        // CloudFront writes HTTP/1.1 header names capitalised per word (`X-Cache`, `X-Custom-Header`).
        .title_case_headers(true)
        .max_buf_size(MAX_HEADER_BYTES)
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder.http2().max_concurrent_streams(256).max_header_list_size(MAX_HEADER_BYTES as u32);
    let builder = Arc::new(builder);
    let services = Arc::new(services);
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut backoff = Backoff::default();
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = async { drop(shutdown.wait_for(|s| *s).await) } => break,
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = async { drop(shutdown.wait_for(|s| *s).await) } => break,
        };
        let (stream, remote) = match accepted {
            Ok(a) => {
                backoff.reset();
                a
            }
            Err(e) => {
                backoff.failed(&e, &listener).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let builder = builder.clone();
        let services = services.clone();
        let tls = tls.clone();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let activity = Arc::new(Activity::new());
            let io = ActiveIo { inner: stream, activity: activity.clone() };
            match tls {
                None => {
                    let info = ConnInfo { remote, https: false, tls_protocol: None, tls_cipher: None };
                    serve_connection(&builder, io, services(info), activity, limits, stop, grace).await;
                }
                Some(acceptor) => {
                    let Ok(Ok(tls_stream)) =
                        tokio::time::timeout(limits.tls_handshake_timeout, acceptor.accept(io)).await
                    else {
                        return;
                    };
                    let (protocol, cipher) = tls_names(tls_stream.get_ref().1);
                    let info = ConnInfo { remote, https: true, tls_protocol: protocol, tls_cipher: cipher };
                    serve_connection(&builder, tls_stream, services(info), activity, limits, stop, grace).await;
                }
            }
        });
    }
    // Every permit back means every connection has finished.
    let all = u32::try_from(limits.max_connections.max(1)).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(grace, permits.acquire_many(all)).await;
}

/// Serves one connection until it ends, is idle for too long, or the listener stops.
async fn serve_connection<I, S, B>(
    builder: &auto::Builder<TokioExecutor>,
    io: I,
    service: S,
    activity: Arc<Activity>,
    limits: ListenerLimits,
    mut stop: watch::Receiver<bool>,
    grace: Duration,
) where
    I: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    S: Service<Request<Incoming>, Response = Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let tracked = Tracked { inner: service, activity: activity.clone() };
    let conn = builder.serve_connection(TokioIo::new(io), tracked);
    let mut conn = std::pin::pin!(conn);
    let check_every = (limits.idle_timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = tokio::time::sleep(check_every) => {
                if activity.idle_for() >= limits.idle_timeout {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(grace, conn.as_mut()).await;
                    return;
                }
            }
            _ = async { drop(stop.wait_for(|s| *s).await) } => {
                conn.as_mut().graceful_shutdown();
                let _ = tokio::time::timeout(grace, conn.as_mut()).await;
                return;
            }
        }
    }
}

/// What one connection is doing: requests in flight and when it last moved a byte.
struct Activity {
    epoch: Instant,
    last_ms: AtomicU64,
    in_flight: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Activity { epoch: Instant::now(), last_ms: AtomicU64::new(0), in_flight: AtomicUsize::new(0) }
    }

    fn touch(&self) {
        self.last_ms.store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// How long the connection has been idle (zero while a request is in flight).
    fn idle_for(&self) -> Duration {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return Duration::ZERO;
        }
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.epoch.elapsed().saturating_sub(last)
    }
}

/// The connection's socket, recording traffic.
struct ActiveIo<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T: AsyncRead + Unpin> AsyncRead for ActiveIo<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ActiveIo<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A service whose requests count as in flight until their response body is done.
struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S, B> Service<Request<Incoming>> for Tracked<S>
where
    S: Service<Request<Incoming>, Response = Response<B>>,
    S::Future: Send + 'static,
{
    type Response = Response<TrackedBody<B>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let guard = InFlight::start(self.activity.clone());
        let fut = self.inner.call(req);
        Box::pin(async move {
            let resp = fut.await?;
            Ok(resp.map(|inner| TrackedBody { inner, _guard: guard }))
        })
    }
}

/// One request in flight on a connection.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn start(activity: Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its request in flight until it is dropped.
pub struct TrackedBody<B> {
    inner: B,
    _guard: InFlight,
}

impl<B: Body + Unpin> Body for TrackedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Backs off after failed accepts, so that running out of descriptors (or memory)
/// does not spin the accept loop, and says so once per episode.
#[derive(Default)]
struct Backoff {
    delay: Duration,
    warned: bool,
}

impl Backoff {
    fn reset(&mut self) {
        if self.warned {
            tracing::info!("accepting connections again");
        }
        *self = Backoff::default();
    }

    async fn failed(&mut self, e: &io::Error, listener: &TcpListener) {
        // EMFILE, ENFILE, ENOBUFS, ENOMEM: the connection stays queued and accept would fail again at once.
        let resources = matches!(e.raw_os_error(), Some(24 | 23 | 105 | 12));
        if !resources {
            tracing::debug!("accept failed: {e}");
            tokio::task::yield_now().await;
            return;
        }
        if !self.warned {
            self.warned = true;
            let at = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
            tracing::warn!(
                "cannot accept connections on {at}: {e}; backing off until descriptors are free (raise `ulimit -n`)"
            );
        }
        self.delay = (self.delay * 2).clamp(Duration::from_millis(10), Duration::from_secs(1));
        tokio::time::sleep(self.delay).await;
    }
}
