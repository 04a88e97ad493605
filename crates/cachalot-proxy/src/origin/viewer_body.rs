//! A viewer's request body on its way to the origin, remembering whether the viewer's
//! side of it failed (a broken chunked encoding, a reset): that failure is the
//! viewer's, answered `400`, not the origin's `502`.

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

/// The viewer's body, streamed.
pub struct ViewerBody {
    inner: Incoming,
    failed: Arc<AtomicBool>,
}

impl ViewerBody {
    /// Wraps `inner`; [`ViewerBody::failure_flag`] tells afterwards whether reading it failed.
    pub fn new(inner: Incoming) -> Self {
        ViewerBody { inner, failed: Arc::new(AtomicBool::new(false)) }
    }

    /// Set when reading the viewer's body failed.
    pub fn failure_flag(&self) -> Arc<AtomicBool> {
        self.failed.clone()
    }
}

impl Body for ViewerBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Err(_))) = &polled {
            self.failed.store(true, Ordering::Release);
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
