//! The two halves of a Session stream, whichever side opened it.
//!
//! Owns the one type a session is started with, however its stream came to
//! be; reads and writes belong to the session's reader and writer.

use std::{
    net::SocketAddr,
    pin::Pin,
    task::{Context, Poll},
};

use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio_stream::{Stream, wrappers::ReceiverStream};
use tonic::{Request, Status, Streaming, transport::Channel};

use super::{
    settings::QUEUE_FRAMES,
    writer::{FrameTx, LastStatus},
};
use crate::pb;

/// Which side opened a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// This node dialled the peer.
    Outbound,
    /// The peer dialled this node.
    Inbound,
}

/// The frames a node sends on a Session stream it serves: tonic's response.
pub(crate) type ResponseFrames = Pin<Box<dyn Stream<Item = Result<pb::Frame, Status>> + Send>>;

/// One open Session stream: what arrives, where to send, and what keeps the
/// connection up.
#[derive(Debug)]
pub(crate) struct SessionStream {
    /// Which side opened it.
    pub(crate) direction: Direction,
    /// The peer's frames.
    pub(crate) inbound: Streaming<pb::Frame>,
    /// Where this node's frames go.
    pub(crate) outbound: FrameTx,
    /// The peer's socket address, if known.
    pub(crate) remote_addr: Option<SocketAddr>,
    /// A dialer's connection: it owns the HTTP/2 connection, so it must live
    /// as long as the stream. `None` for an accepted stream.
    pub(crate) connection: Option<Channel>,
    /// An accepted stream's place among the unauthenticated ones: held
    /// until the handshake succeeds, then dropped to free it.
    pub(crate) admission: Option<OwnedSemaphorePermit>,
}

impl SessionStream {
    /// The stream a peer opened with `request` and was admitted with
    /// `permit`, and the response tonic sends back (fed by
    /// [`Self::outbound`]).
    pub(crate) fn accept(
        request: Request<Streaming<pb::Frame>>,
        permit: OwnedSemaphorePermit,
    ) -> (Self, ResponseFrames) {
        let remote_addr = request.remote_addr();
        let (outbound, response) = acceptor_channel();
        let stream = Self {
            direction: Direction::Inbound,
            inbound: request.into_inner(),
            outbound,
            remote_addr,
            connection: None,
            admission: Some(permit),
        };
        (stream, response)
    }
}

/// An acceptor's sending half and the response it feeds: the frames sent,
/// then the status sent, or else the status left in [`LastStatus`].
pub(crate) fn acceptor_channel() -> (FrameTx, ResponseFrames) {
    let (tx, rx) = mpsc::channel(QUEUE_FRAMES);
    let last = LastStatus::default();
    let response = Response {
        frames: ReceiverStream::new(rx),
        last: last.clone(),
        ended: false,
    };
    (FrameTx::Acceptor(tx, last), Box::pin(response))
}

/// What tonic sends back on an accepted stream (see [`acceptor_channel`]).
#[derive(Debug)]
struct Response {
    frames: ReceiverStream<Result<pb::Frame, Status>>,
    last: LastStatus,
    /// A status went out, or the end: nothing follows.
    ended: bool,
}

impl Stream for Response {
    type Item = Result<pb::Frame, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.frames).poll_next(cx) {
            Poll::Ready(Some(Ok(frame))) => Poll::Ready(Some(Ok(frame))),
            Poll::Ready(Some(Err(status))) => {
                self.ended = true;
                Poll::Ready(Some(Err(status)))
            }
            // The writer is gone: end with the status it did not get to send.
            Poll::Ready(None) => {
                self.ended = true;
                Poll::Ready(self.last.take().map(Err))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
