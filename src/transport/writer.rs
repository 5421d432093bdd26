//! The writer: the one task that feeds a stream's sending half.
//!
//! Proxies, reply tasks and the session queue envelopes; the writer takes
//! whatever is queued, packs it into as few frames as the size budget allows
//! and hands each to tonic. Nothing waits on a timer: when the stream is
//! idle a lone envelope goes out at once (no Nagle-style stall); when it is
//! busy, envelopes pile up behind the frame in flight and leave together.
//!
//! Memory is bounded in bytes: a sender must get permits for an envelope's
//! encoded size from the queue semaphore before queueing it, and the writer
//! returns them once the frame is handed on to tonic's queue (up to
//! `QUEUE_FRAMES` frames). When the peer reads slowly, HTTP/2 flow control
//! holds those frames, then the writer, the permits run out, and senders
//! wait; nothing is dropped. Owns the sending half; never reads.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use prost::Message as _;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tonic::Status;

use crate::pb;

/// Envelopes packed into one frame at most.
const MAX_BATCH: usize = 1024;

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

/// One queued envelope and the permits (bytes) it holds.
#[derive(Debug)]
pub(crate) struct Outgoing {
    pub(crate) envelope: pb::Envelope,
    pub(crate) permits: u32,
}

/// The farewell a closing writer sends after flushing: a last frame, or (as
/// acceptor) a status that ends the stream.
pub(crate) type Farewell = Option<Result<pb::Frame, Status>>;

/// Bytes an envelope adds to a frame: its encoding plus the field key and
/// length prefix.
pub(crate) fn framed_len(envelope: &pb::Envelope) -> usize {
    let len = envelope.encoded_len();
    len + prost::length_delimiter_len(len) + 1
}

/// Runs the writer until the stream ends or `close` fires.
pub(crate) async fn run(
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    frames: FrameTx,
    queue: Arc<Semaphore>,
    frame_budget: usize,
    mut close: oneshot::Receiver<Farewell>,
) {
    let mut batch: Vec<Outgoing> = Vec::with_capacity(MAX_BATCH);
    loop {
        tokio::select! {
            biased;
            farewell = &mut close => {
                // Flush what was queued before the close, then say goodbye.
                rx.close();
                while let Ok(item) = rx.try_recv() {
                    batch.push(item);
                }
                let flushed = tokio::time::timeout(FLUSH_ON_CLOSE, flush(&frames, &mut batch, &queue, frame_budget)).await;
                if matches!(flushed, Ok(true)) && let Ok(Some(last)) = farewell {
                    frames.send_final(last).await;
                } else if let Some(last) = frames.last_status() {
                    // The farewell is skipped: the response ends as it is.
                    last.take();
                }
                return;
            }
            n = rx.recv_many(&mut batch, MAX_BATCH) => {
                if n == 0 || !flush(&frames, &mut batch, &queue, frame_budget).await {
                    return;
                }
            }
        }
    }
}

/// Sends `batch` as frames of at most `budget` bytes (an envelope larger
/// than the budget goes alone). `false` when the stream is gone.
async fn flush(
    frames: &FrameTx,
    batch: &mut Vec<Outgoing>,
    queue: &Semaphore,
    budget: usize,
) -> bool {
    let mut envelopes = Vec::with_capacity(batch.len());
    let mut bytes = 0usize;
    let mut permits = 0usize;
    for item in batch.drain(..) {
        let len = framed_len(&item.envelope);
        if !envelopes.is_empty() && bytes + len > budget {
            let frame = pb::Frame {
                envelopes: std::mem::take(&mut envelopes),
            };
            if !frames.send(frame).await {
                return false;
            }
            queue.add_permits(permits);
            (bytes, permits) = (0, 0);
        }
        bytes += len;
        permits += item.permits as usize;
        envelopes.push(item.envelope);
    }
    if !envelopes.is_empty() {
        if !frames.send(pb::Frame { envelopes }).await {
            return false;
        }
        queue.add_permits(permits);
    }
    true
}
