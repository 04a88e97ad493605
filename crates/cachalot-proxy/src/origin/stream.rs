//! An origin's response body as the edge reads it: from an HTTP origin's connection
//! or from a folder-backed bucket's file, chunk by chunk, never whole.

use super::pool::HttpStream;
use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, ReadBuf};

/// Boxed error of a body read.
pub type StreamError = Box<dyn std::error::Error + Send + Sync>;

/// Bytes read from a file per frame.
const FILE_CHUNK: usize = 64 * 1024;

/// An origin's response body.
pub struct OriginStream(Kind);

enum Kind {
    Http(HttpStream),
    File { file: tokio::fs::File, remaining: u64 },
}

impl OriginStream {
    pub(crate) fn http(s: HttpStream) -> Self {
        OriginStream(Kind::Http(s))
    }

    /// `len` bytes of `file`, from its current position.
    pub(crate) fn file(file: tokio::fs::File, len: u64) -> Self {
        OriginStream(Kind::File { file, remaining: len })
    }
}

impl Body for OriginStream {
    type Data = Bytes;
    type Error = StreamError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, StreamError>>> {
        match &mut self.0 {
            Kind::Http(s) => Pin::new(s).poll_frame(cx).map_err(|e| Box::new(e) as StreamError),
            Kind::File { file, remaining } => {
                if *remaining == 0 {
                    return Poll::Ready(None);
                }
                let want = (*remaining).min(FILE_CHUNK as u64) as usize;
                let mut buf = BytesMut::zeroed(want);
                let mut read = ReadBuf::new(&mut buf);
                match Pin::new(file).poll_read(cx, &mut read) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(Err(e)) => Poll::Ready(Some(Err(Box::new(e)))),
                    Poll::Ready(Ok(())) => {
                        let n = read.filled().len();
                        if n == 0 {
                            // The file shrank under us: the body is cut short, never passed off as complete.
                            *remaining = 0;
                            return Poll::Ready(Some(Err("the file ended before its announced length".into())));
                        }
                        buf.truncate(n);
                        *remaining -= n as u64;
                        Poll::Ready(Some(Ok(Frame::data(buf.freeze()))))
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.0 {
            Kind::Http(s) => s.is_end_stream(),
            Kind::File { remaining, .. } => *remaining == 0,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.0 {
            Kind::Http(s) => s.size_hint(),
            Kind::File { remaining, .. } => SizeHint::with_exact(*remaining),
        }
    }
}
