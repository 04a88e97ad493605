//! Keep-alive HTTP/1.1 connections to origins, pooled per (scheme, address, TLS name).
//!
//! The pool is ours rather than a generic client's because CloudFront's timeouts are
//! per phase (§12.2): connecting (DNS, TCP, TLS) is bounded by the origin's
//! connection timeout, and the wait for the response by its response timeout, each
//! on its own clock — a generic client's single request future mixes the two. A
//! connection goes back to the pool when its response body has been read to the end
//! and leaves it after the origin's keep-alive timeout.

use super::{OriginError, OriginStream};
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Body of a request to an origin: nothing, a buffered body, or the viewer's stream.
pub type OriginRequestBody = Either<Full<Bytes>, super::ViewerBody>;

type Sender = SendRequest<OriginRequestBody>;

/// Connections kept per pool key.
const MAX_IDLE_PER_KEY: usize = 256;

/// Which connections are interchangeable.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct PoolKey {
    pub(crate) https: bool,
    /// `host:port` to connect to.
    pub(crate) address: String,
    /// TLS server name (HTTPS only).
    pub(crate) server_name: String,
}

struct Idle {
    sender: Sender,
    since: Instant,
    keepalive: Duration,
}

/// The pool.
pub(crate) struct Pool {
    idle: Mutex<HashMap<PoolKey, Vec<Idle>>>,
    tls: tokio_rustls::TlsConnector,
}

/// A connection checked out of the pool (or new), ready for one request.
pub(crate) struct Checkout {
    pub(crate) sender: Sender,
    /// The connection served an earlier request (it may have been closed by the origin meanwhile).
    pub(crate) reused: bool,
}

impl Pool {
    pub(crate) fn new(tls: Arc<rustls::ClientConfig>) -> Self {
        Pool { idle: Mutex::new(HashMap::new()), tls: tokio_rustls::TlsConnector::from(tls) }
    }

    /// An idle connection for `key`, or a new one made within `connect_timeout`.
    pub(crate) async fn checkout(&self, key: &PoolKey, connect_timeout: Duration) -> Result<Checkout, OriginError> {
        if let Some(sender) = self.take_idle(key) {
            return Ok(Checkout { sender, reused: true });
        }
        let sender =
            tokio::time::timeout(connect_timeout, self.connect(key)).await.map_err(|_| OriginError::Timeout)??;
        Ok(Checkout { sender, reused: false })
    }

    fn take_idle(&self, key: &PoolKey) -> Option<Sender> {
        let mut idle = self.idle.lock();
        let list = idle.get_mut(key)?;
        let now = Instant::now();
        while let Some(c) = list.pop() {
            if now.duration_since(c.since) < c.keepalive && c.sender.is_ready() && !c.sender.is_closed() {
                return Some(c.sender);
            }
        }
        None
    }

    /// The body of a response received on `sender`'s connection, which returns to the
    /// pool (for `keepalive`) once the body has been read to its end.
    pub(crate) fn stream(
        self: &Arc<Self>,
        incoming: Incoming,
        key: PoolKey,
        sender: Sender,
        keepalive: Duration,
    ) -> OriginStream {
        OriginStream::http(HttpStream::new(incoming, self.clone(), key, sender, keepalive))
    }

    /// Returns a connection whose response has been read completely.
    pub(crate) fn checkin(&self, key: PoolKey, sender: Sender, keepalive: Duration) {
        if sender.is_closed() || keepalive.is_zero() {
            return;
        }
        let mut idle = self.idle.lock();
        let list = idle.entry(key).or_default();
        let now = Instant::now();
        list.retain(|c| now.duration_since(c.since) < c.keepalive && !c.sender.is_closed());
        if list.len() < MAX_IDLE_PER_KEY {
            list.push(Idle { sender, since: now, keepalive });
        }
    }

    async fn connect(&self, key: &PoolKey) -> Result<Sender, OriginError> {
        let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host(key.address.as_str())
            .await
            .map_err(|e| OriginError::Dns(format!("{}: {e}", key.address)))?
            .collect();
        if addrs.is_empty() {
            return Err(OriginError::Dns(format!("{}: no addresses", key.address)));
        }
        let mut last = String::new();
        for addr in addrs {
            match tokio::net::TcpStream::connect(addr).await {
                Ok(tcp) => {
                    let _ = tcp.set_nodelay(true);
                    return if key.https { self.handshake_tls(key, tcp).await } else { handshake(tcp).await };
                }
                Err(e) => last = format!("{addr}: {e}"),
            }
        }
        Err(OriginError::Connect(last))
    }

    async fn handshake_tls(&self, key: &PoolKey, tcp: tokio::net::TcpStream) -> Result<Sender, OriginError> {
        let name = rustls::pki_types::ServerName::try_from(key.server_name.clone())
            .map_err(|e| OriginError::Connect(format!("invalid TLS server name {:?}: {e}", key.server_name)))?;
        let tls = self
            .tls
            .connect(name, tcp)
            .await
            .map_err(|e| OriginError::Connect(format!("TLS handshake with {}: {e}", key.address)))?;
        handshake(tls).await
    }
}

async fn handshake<T>(io: T) -> Result<Sender, OriginError>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::Builder::new()
        .max_buf_size(64 * 1024)
        .handshake(TokioIo::new(io))
        .await
        .map_err(|e| OriginError::Connect(e.to_string()))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// An HTTP origin's response body, read as it arrives; its connection returns to the
/// pool once the body has been read to the end.
pub(crate) struct HttpStream {
    inner: Incoming,
    checkin: Option<Checkin>,
}

struct Checkin {
    pool: Arc<Pool>,
    key: PoolKey,
    sender: Sender,
    keepalive: Duration,
}

impl HttpStream {
    pub(crate) fn new(inner: Incoming, pool: Arc<Pool>, key: PoolKey, sender: Sender, keepalive: Duration) -> Self {
        let mut stream = HttpStream { inner, checkin: Some(Checkin { pool, key, sender, keepalive }) };
        if stream.inner.is_end_stream() {
            stream.release();
        }
        stream
    }

    fn release(&mut self) {
        if let Some(c) = self.checkin.take() {
            c.pool.checkin(c.key, c.sender, c.keepalive);
        }
    }
}

impl Body for HttpStream {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => this.release(),
            Poll::Ready(Some(Ok(_))) if this.inner.is_end_stream() => this.release(),
            Poll::Ready(Some(Err(_))) => this.checkin = None,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
