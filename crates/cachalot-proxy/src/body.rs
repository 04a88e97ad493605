//! Response bodies the edge sends: a cached object (whole in memory, or read from a
//! disk tier's file range by range, possibly while it is still being written), a
//! relayed origin stream, or nothing — and a hook that fires when the body is done, for
//! the access log.

use crate::origin::OriginStream;
use bytes::Bytes;
use cachalot_cache::{BodyReader, ObjectBody};
use http_body::{Body, Frame, SizeHint};
use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// Boxed error type of relayed bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Called once with (body bytes sent, whether the body completed).
pub type Completion = Box<dyn FnOnce(u64, bool) + Send>;

/// A response body.
pub struct EdgeBody {
    kind: Kind,
    sent: u64,
    on_done: Option<Completion>,
}

/// A piece of a body made from a stored object.
pub(crate) enum Segment {
    /// Bytes of our own (multipart boundaries).
    Bytes(Bytes),
    /// Bytes `start..end` of the object (`end` exclusive; `None`: to its end).
    Range(u64, Option<u64>),
}

enum Kind {
    Empty,
    Full(Option<Bytes>),
    /// Pieces of a stored object, read as they are reached.
    Object {
        body: ObjectBody,
        segments: VecDeque<Segment>,
        reader: Option<BodyReader>,
        len: Option<u64>,
    },
    /// Buffered prefix chunks, then the rest of an origin body.
    Relay {
        prefix: VecDeque<Bytes>,
        rest: Option<OriginStream>,
        idle: Option<Pin<Box<tokio::time::Sleep>>>,
        read_timeout: Duration,
    },
}

impl EdgeBody {
    /// No body.
    pub fn empty() -> Self {
        EdgeBody { kind: Kind::Empty, sent: 0, on_done: None }
    }

    /// A complete body.
    pub fn full(bytes: Bytes) -> Self {
        if bytes.is_empty() {
            return Self::empty();
        }
        EdgeBody { kind: Kind::Full(Some(bytes)), sent: 0, on_done: None }
    }

    /// Already-read chunks followed by the rest of an origin body, each read bounded by `read_timeout`.
    pub fn relay(prefix: Vec<Bytes>, rest: OriginStream, read_timeout: Duration) -> Self {
        EdgeBody {
            kind: Kind::Relay { prefix: prefix.into(), rest: Some(rest), idle: None, read_timeout },
            sent: 0,
            on_done: None,
        }
    }

    /// Pieces of a stored object; `len` is the total when known.
    pub(crate) fn object(body: ObjectBody, segments: Vec<Segment>, len: Option<u64>) -> Self {
        if len == Some(0) {
            return Self::empty();
        }
        EdgeBody { kind: Kind::Object { body, segments: segments.into(), reader: None, len }, sent: 0, on_done: None }
    }

    /// Registers the completion hook.
    pub fn on_done(mut self, f: Completion) -> Self {
        self.on_done = Some(f);
        self
    }

    fn finish(&mut self, complete: bool) {
        if let Some(f) = self.on_done.take() {
            f(self.sent, complete);
        }
    }
}

impl EdgeBody {
    /// Whether every byte has been handed out. The server may drop a body as soon as
    /// it has sent `Content-Length` bytes, without polling it to its end.
    fn drained(&self) -> bool {
        match &self.kind {
            Kind::Empty | Kind::Full(None) => true,
            Kind::Full(Some(_)) => false,
            Kind::Relay { prefix, rest, .. } => prefix.is_empty() && rest.as_ref().is_none_or(|r| r.is_end_stream()),
            Kind::Object { segments, reader, .. } => segments.is_empty() && reader.is_none(),
        }
    }
}

impl Drop for EdgeBody {
    fn drop(&mut self) {
        // Dropped before the end: the viewer went away (or the body was never polled).
        let complete = self.drained();
        self.finish(complete);
    }
}

impl Body for EdgeBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match &mut this.kind {
            Kind::Empty => {
                this.finish(true);
                Poll::Ready(None)
            }
            Kind::Full(slot) => match slot.take() {
                Some(b) => {
                    this.sent += b.len() as u64;
                    Poll::Ready(Some(Ok(Frame::data(b))))
                }
                None => {
                    this.finish(true);
                    Poll::Ready(None)
                }
            },
            Kind::Object { body, segments, reader, .. } => loop {
                if let Some(r) = reader.as_mut() {
                    match r.poll_chunk(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Some(Ok(chunk))) => {
                            this.sent += chunk.len() as u64;
                            return Poll::Ready(Some(Ok(Frame::data(chunk))));
                        }
                        Poll::Ready(Some(Err(e))) => {
                            // A damaged block or a stream that broke off: cut the response short.
                            segments.clear();
                            *reader = None;
                            this.finish(false);
                            return Poll::Ready(Some(Err(Box::new(e))));
                        }
                        Poll::Ready(None) => *reader = None,
                    }
                }
                match segments.pop_front() {
                    None => {
                        this.finish(true);
                        return Poll::Ready(None);
                    }
                    Some(Segment::Bytes(b)) => {
                        this.sent += b.len() as u64;
                        return Poll::Ready(Some(Ok(Frame::data(b))));
                    }
                    Some(Segment::Range(start, end)) => *reader = Some(body.reader(start, end)),
                }
            },
            Kind::Relay { prefix, rest, idle, read_timeout } => {
                if let Some(b) = prefix.pop_front() {
                    this.sent += b.len() as u64;
                    return Poll::Ready(Some(Ok(Frame::data(b))));
                }
                let Some(incoming) = rest.as_mut() else {
                    this.finish(true);
                    return Poll::Ready(None);
                };
                loop {
                    match Pin::new(&mut *incoming).poll_frame(cx) {
                        Poll::Ready(Some(Ok(frame))) => {
                            *idle = None;
                            match frame.into_data() {
                                Ok(data) => {
                                    this.sent += data.len() as u64;
                                    return Poll::Ready(Some(Ok(Frame::data(data))));
                                }
                                // Trailers are not relayed (CloudFront removes `Trailer`).
                                Err(_) => continue,
                            }
                        }
                        Poll::Ready(Some(Err(e))) => {
                            *rest = None;
                            this.finish(false);
                            return Poll::Ready(Some(Err(e)));
                        }
                        Poll::Ready(None) => {
                            *rest = None;
                            this.finish(true);
                            return Poll::Ready(None);
                        }
                        Poll::Pending => {
                            let timeout = *read_timeout;
                            let sleep = idle.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                            if sleep.as_mut().poll(cx).is_ready() {
                                *rest = None;
                                this.finish(false);
                                return Poll::Ready(Some(Err("origin read timeout".into())));
                            }
                            return Poll::Pending;
                        }
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.drained()
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Empty => SizeHint::with_exact(0),
            Kind::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            Kind::Full(None) => SizeHint::with_exact(0),
            Kind::Relay { .. } => SizeHint::default(),
            Kind::Object { len: Some(n), .. } => SizeHint::with_exact(n.saturating_sub(self.sent)),
            Kind::Object { len: None, .. } => SizeHint::default(),
        }
    }
}

use std::future::Future as _;
