//! A deadline for a new connection's first bytes.
//!
//! hyper's HTTP/2 server waits for a client's connection preface for as
//! long as the client likes, and its keepalive pings start only after it: a
//! stranger that opens TCP connections and sends nothing would hold a file
//! descriptor and a task each, forever, below every limit the Session
//! service applies. [`PrefaceDeadline`] wraps each accepted connection and
//! fails its reads once the deadline passes before the client has sent the
//! 24 bytes of the preface (or, under TLS, as many bytes of its handshake);
//! hyper then drops the connection. After that it only passes reads through.

use std::{
    future::Future,
    io,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    time::Sleep,
};
use tonic::transport::server::Connected;

/// The length of the HTTP/2 client connection preface
/// (`PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`).
const PREFACE_LEN: usize = 24;

/// An accepted connection whose client must send its first
/// [`PREFACE_LEN`] bytes within a deadline.
#[derive(Debug)]
pub(crate) struct PrefaceDeadline<IO> {
    io: IO,
    /// Armed until the first bytes are in (or the client closed).
    timer: Option<Pin<Box<Sleep>>>,
    /// Bytes read so far, while the timer is armed.
    read: usize,
}

impl<IO> PrefaceDeadline<IO> {
    /// `io`, which must deliver the preface within `deadline` from now.
    /// Call within a tokio runtime.
    pub(crate) fn new(io: IO, deadline: Duration) -> Self {
        Self {
            io,
            timer: Some(Box::pin(tokio::time::sleep(deadline))),
            read: 0,
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for PrefaceDeadline<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.io).poll_read(cx, buf);
        let Some(timer) = this.timer.as_mut() else {
            return polled;
        };
        match polled {
            Poll::Ready(Ok(())) => {
                let n = buf.filled().len() - before;
                this.read += n;
                if n == 0 || this.read >= PREFACE_LEN {
                    this.timer = None;
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => match timer.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no HTTP/2 preface within the handshake deadline",
                ))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for PrefaceDeadline<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

impl<IO: Connected> Connected for PrefaceDeadline<IO> {
    type ConnectInfo = IO::ConnectInfo;

    // The same connect info as the bare connection: the service reads the
    // peer's address (and, under TLS, its certificates) from it.
    fn connect_info(&self) -> Self::ConnectInfo {
        self.io.connect_info()
    }
}

#[cfg(test)]
mod tests;
