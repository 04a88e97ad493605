//! A programmable origin on loopback that records every request it receives.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use parking_lot::Mutex;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

/// A request as the origin received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Method.
    pub method: http::Method,
    /// Path and query, as sent.
    pub path_and_query: String,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
}

impl Recorded {
    /// The path without the query.
    pub fn path(&self) -> &str {
        self.path_and_query.split('?').next().unwrap_or("")
    }

    /// The query string, if any.
    pub fn query(&self) -> Option<&str> {
        self.path_and_query.split_once('?').map(|(_, q)| q)
    }

    /// A header as text (empty when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

/// A way for the origin to misbehave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Close the connection without answering.
    Reset,
    /// Send half the body, then wait this long before the rest.
    StallMidBody(Duration),
    /// Declare the full length but send half the body, then close.
    Truncate,
}

/// What the origin answers.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Bytes,
    /// Wait before answering.
    pub delay: Duration,
    /// Misbehaviour.
    pub failure: Option<Failure>,
}

impl Reply {
    /// `200` with a body.
    pub fn ok(body: impl Into<Bytes>) -> Self {
        Reply { status: 200, headers: Vec::new(), body: body.into(), delay: Duration::ZERO, failure: None }
    }

    /// Sets the status.
    pub fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Waits before answering.
    pub fn delay(mut self, d: Duration) -> Self {
        self.delay = d;
        self
    }

    /// Misbehaves.
    pub fn fail(mut self, f: Failure) -> Self {
        self.failure = Some(f);
        self
    }
}

type Handler = Box<dyn Fn(&Recorded) -> Reply + Send + Sync>;

struct State {
    log: Mutex<Vec<Recorded>>,
    handler: Mutex<Arc<Handler>>,
    connections: AtomicUsize,
}

/// The origin.
#[derive(Clone)]
pub struct TestOrigin {
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<State>,
}

impl TestOrigin {
    /// Starts an origin answering `200` with the request path as body.
    pub async fn start() -> Self {
        Self::start_with(|r: &Recorded| Reply::ok(r.path().to_owned()).header("content-type", "text/plain")).await
    }

    /// Starts an origin with a handler.
    pub async fn start_with(handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the test origin");
        let addr = listener.local_addr().expect("address");
        let state = Arc::new(State {
            log: Mutex::new(Vec::new()),
            handler: Mutex::new(Arc::new(Box::new(handler))),
            connections: AtomicUsize::new(0),
        });
        let st = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                st.connections.fetch_add(1, Ordering::SeqCst);
                let st = st.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| serve(st.clone(), req));
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        TestOrigin { addr, state }
    }

    /// Replaces the handler.
    pub fn set_handler(&self, handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) {
        *self.state.handler.lock() = Arc::new(Box::new(handler));
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.log.lock().clone()
    }

    /// How many requests for `path` (query ignored) arrived.
    pub fn hits(&self, path: &str) -> usize {
        self.state.log.lock().iter().filter(|r| r.path() == path).count()
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// `host:port`.
    pub fn authority(&self) -> String {
        self.addr.to_string()
    }
}

async fn serve(state: Arc<State>, req: http::Request<Incoming>) -> Result<Response<ScriptBody>, std::io::Error> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let recorded = Recorded {
        method: parts.method,
        path_and_query: parts.uri.path_and_query().map(|p| p.to_string()).unwrap_or_default(),
        headers: parts.headers,
        body,
    };
    let handler = state.handler.lock().clone();
    let reply = handler(&recorded);
    state.log.lock().push(recorded);
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    if reply.failure == Some(Failure::Reset) {
        return Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "test origin resets"));
    }
    let full_len = reply.body.len();
    let body = match &reply.failure {
        Some(Failure::StallMidBody(d)) => {
            let half = full_len / 2;
            ScriptBody::new(vec![(reply.body.slice(..half), Duration::ZERO), (reply.body.slice(half..), *d)], false)
        }
        Some(Failure::Truncate) => ScriptBody::new(vec![(reply.body.slice(..full_len / 2), Duration::ZERO)], true),
        _ => ScriptBody::new(vec![(reply.body.clone(), Duration::ZERO)], false),
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    for (n, v) in &reply.headers {
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(n.as_bytes()), HeaderValue::from_str(v)) {
            resp.headers_mut().append(n, v);
        }
    }
    if !resp.headers().contains_key(http::header::CONTENT_LENGTH) {
        resp.headers_mut().insert(http::header::CONTENT_LENGTH, HeaderValue::from(full_len as u64));
    }
    Ok(resp)
}

/// A body sent in timed chunks, optionally failing at the end.
pub(crate) struct ScriptBody {
    chunks: std::collections::VecDeque<(Bytes, Duration)>,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    fail_at_end: bool,
}

impl ScriptBody {
    fn new(chunks: Vec<(Bytes, Duration)>, fail_at_end: bool) -> Self {
        ScriptBody { chunks: chunks.into_iter().filter(|(b, _)| !b.is_empty()).collect(), sleep: None, fail_at_end }
    }
}

impl Body for ScriptBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        let Some((_, delay)) = this.chunks.front() else {
            if this.fail_at_end {
                this.fail_at_end = false;
                return Poll::Ready(Some(Err(std::io::Error::new(std::io::ErrorKind::BrokenPipe, "truncated"))));
            }
            return Poll::Ready(None);
        };
        if !delay.is_zero() {
            let d = *delay;
            let sleep = this.sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep(d)));
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.sleep = None;
        }
        let (bytes, _) = this.chunks.pop_front().unwrap_or_default();
        Poll::Ready(Some(Ok(Frame::data(bytes))))
    }
}

use std::future::Future as _;
