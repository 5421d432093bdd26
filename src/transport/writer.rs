//! The writer: the one task that feeds a stream's sending half.
//!
//! Proxies, reply tasks and the session encode envelopes into the session's
//! [`Outbox`]; the writer takes whatever is queued, a frame's worth of bytes
//! at a time, and hands each frame to tonic as it is (no decoding, no
//! re-encoding of envelopes). Nothing waits on a timer: when the stream is
//! idle a lone envelope goes out at once (no Nagle-style stall); when it is
//! busy, envelopes pile up behind the frame in flight and leave together.
//!
//! Memory: the outbox bounds what senders may queue (see its docs); beyond
//! it the writer holds one frame and tonic's channel `QUEUE_FRAMES` more.
//! When the peer reads slowly, HTTP/2 flow control holds those, the writer
//! waits, and the outbox fills. Owns the sending half; never reads.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use tokio::sync::{mpsc, oneshot};
use tonic::Status;

use super::outbox::Outbox;
use crate::pb;

/// How long a closing writer may spend flushing what was queued.
const FLUSH_ON_CLOSE: Duration = Duration::from_secs(1);

/// The sending half of a Session stream, as either side holds it.
#[derive(Debug, Clone)]
pub(crate) enum FrameTx {
    /// This node serves the stream: frames (and a final status) go into the
    /// response; the status is also left in the [`LastStatus`] the response
    /// reads should the writer not get to send it.
    Acceptor(mpsc::Sender<Result<pb::Frame, Status>>, LastStatus),
    /// This node opened the stream: frames go into the request.
    Dialer(mpsc::Sender<pb::Frame>),
}

/// The status an acceptor's session ends its stream with, left where the
/// response stream finds it when the writer is gone without having sent it.
///
/// The writer sends the status after what was queued, but the session stops
/// waiting for the writer a second after it closed and aborts it: when the
/// process was not scheduled for that second (a loaded machine), the writer
/// could be aborted before it ever ran, and the response then ended as if
/// nothing went wrong (status OK), a refusal lost. The status is set here at
/// the close itself, so the response still ends with it.
#[derive(Debug, Clone, Default)]
pub(crate) struct LastStatus(Arc<Mutex<Option<Status>>>);

impl LastStatus {
    fn slot(&self) -> std::sync::MutexGuard<'_, Option<Status>> {
        // Each use is one store or take: a panic cannot leave it half-done.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Leaves `status` for the response.
    pub(crate) fn set(&self, status: Status) {
        *self.slot() = Some(status);
    }

    /// Takes the status left, if any.
    pub(crate) fn take(&self) -> Option<Status> {
        self.slot().take()
    }
}

impl FrameTx {
    /// Where an acceptor's final status is left (`None` for a dialer, which
    /// ends with a Goodbye frame, never a status).
    pub(crate) fn last_status(&self) -> Option<LastStatus> {
        match self {
            Self::Acceptor(_, last) => Some(last.clone()),
            Self::Dialer(_) => None,
        }
    }

    /// Queues `frame`, waiting while the queue is full (HTTP/2 flow control
    /// pushing back). `false` when the stream is gone.
    async fn send(&self, frame: pb::Frame) -> bool {
        match self {
            Self::Acceptor(tx, _) => tx.send(Ok(frame)).await.is_ok(),
            Self::Dialer(tx) => tx.send(frame).await.is_ok(),
        }
    }

    /// Sends the last item: a frame, or (as acceptor) the status that ends
    /// the stream. A dialer cannot send a status; its farewell is a frame.
    async fn send_final(&self, last: Result<pb::Frame, Status>) {
        match (self, last) {
            (Self::Acceptor(tx, _), last) => {
                let _ = tx.send(last).await;
            }
            (Self::Dialer(tx), Ok(frame)) => {
                let _ = tx.send(frame).await;
            }
            (Self::Dialer(_), Err(_)) => {}
        }
    }
}

/// The farewell a closing writer sends after flushing: a last frame, or (as
/// acceptor) a status that ends the stream.
pub(crate) type Farewell = Option<Result<pb::Frame, Status>>;

/// Runs the writer until the stream ends or `close` fires.
pub(crate) async fn run(
    outbox: Arc<Outbox>,
    frames: FrameTx,
    mut close: oneshot::Receiver<Farewell>,
) {
    loop {
        tokio::select! {
            biased;
            farewell = &mut close => return finish(&outbox, &frames, farewell.ok().flatten()).await,
            bytes = outbox.take() => {
                let Some(bytes) = bytes else {
                    // The link closes the outbox just before it hands over
                    // the farewell: wait for it rather than end without it
                    // (`None` if the link went without one).
                    let farewell = (&mut close).await.ok().flatten();
                    return finish(&outbox, &frames, farewell).await;
                };
                if !frames.send(pb::Frame::queued(bytes)).await {
                    return;
                }
            }
        }
    }
}

/// Flushes what was queued before the close, then says goodbye with
/// `farewell`.
async fn finish(outbox: &Outbox, frames: &FrameTx, farewell: Farewell) {
    outbox.close();
    let flushed = tokio::time::timeout(FLUSH_ON_CLOSE, async {
        while let Some(bytes) = outbox.try_take() {
            if !frames.send(pb::Frame::queued(bytes)).await {
                return false;
            }
        }
        true
    })
    .await;
    if matches!(flushed, Ok(true))
        && let Some(last) = farewell
    {
        frames.send_final(last).await;
    } else if let Some(last) = frames.last_status() {
        // The farewell is skipped: the response ends as it is.
        last.take();
    }
}
