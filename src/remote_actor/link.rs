//! The handle a session shares with its proxies and reply tasks: the sending
//! half of the stream, the calls in flight, and the session's counters.
//!
//! Proxies write envelopes straight into the stream's outbound queue rather
//! than through the session actor, so a cast costs one queue hop. When the
//! session ends, [`SessionLink::close`] takes the sender away (so the stream
//! can end) and fails every call in flight with the same reason; later sends
//! fail at once.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

use ractor::RpcReplyPort;
use tokio::{
    sync::{Semaphore, mpsc, oneshot, watch},
    task::JoinHandle,
};
use tonic::Status;
use tracing::warn;

use super::{
    report,
    writer::{self, Farewell, Outgoing},
};
use crate::{
    pb::{self, envelope::Body},
    reason::DisconnectReason,
};

/// The sending half of a Session stream, as either side holds it.
#[derive(Debug, Clone)]
pub(crate) enum FrameTx {
    /// This node serves the stream: frames (and a final status) go into the
    /// response.
    Acceptor(mpsc::Sender<Result<pb::Frame, Status>>),
    /// This node opened the stream: frames go into the request.
    Dialer(mpsc::Sender<pb::Frame>),
}

impl FrameTx {
    /// Queues `frame`, waiting while the queue is full (HTTP/2 flow control
    /// pushing back). `false` when the stream is gone.
    pub(crate) async fn send(&self, frame: pb::Frame) -> bool {
        match self {
            Self::Acceptor(tx) => tx.send(Ok(frame)).await.is_ok(),
            Self::Dialer(tx) => tx.send(frame).await.is_ok(),
        }
    }

    /// Sends the last item: a frame, or (as acceptor) the status that ends
    /// the stream. A dialer cannot send a status; its farewell is a frame.
    pub(crate) async fn send_final(&self, last: Result<pb::Frame, Status>) {
        match (self, last) {
            (Self::Acceptor(tx), last) => {
                let _ = tx.send(last).await;
            }
            (Self::Dialer(tx), Ok(frame)) => {
                let _ = tx.send(frame).await;
            }
            (Self::Dialer(_), Err(_)) => {}
        }
    }
}

/// Why a message could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The session has ended.
    Closed,
    /// The message is larger than the peer accepts (`max_message_size`).
    TooLarge(usize),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Closed => f.write_str("the session has ended"),
            Self::TooLarge(n) => write!(
                f,
                "the message is {n} bytes, more than the session's max message size"
            ),
        }
    }
}

/// Bytes of envelopes a session may hold queued before senders wait.
pub(crate) const QUEUE_BYTES: usize = 8 * 1024 * 1024;

/// Why a call failed, as the caller learns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallFailure {
    UnknownActor,
    Undecodable,
    Dropped,
    ActorStopped,
    Timeout,
    Disconnected,
    TooLarge,
}

impl CallFailure {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::UnknownActor => "unknown-actor",
            Self::Undecodable => "undecodable",
            Self::Dropped => "dropped",
            Self::ActorStopped => "actor-stopped",
            Self::Timeout => "timeout",
            Self::Disconnected => "disconnected",
            Self::TooLarge => "too-large",
        }
    }

    pub(crate) fn from_str(word: &str) -> Option<Self> {
        [
            Self::UnknownActor,
            Self::Undecodable,
            Self::Dropped,
            Self::ActorStopped,
            Self::Timeout,
            Self::Disconnected,
            Self::TooLarge,
        ]
        .into_iter()
        .find(|f| f.as_str() == word)
    }

    pub(crate) fn from_code(code: i32) -> Self {
        match pb::CallErrorCode::try_from(code) {
            Ok(pb::CallErrorCode::UnknownActor) => Self::UnknownActor,
            Ok(pb::CallErrorCode::Undecodable) => Self::Undecodable,
            Ok(pb::CallErrorCode::ActorStopped) => Self::ActorStopped,
            Ok(pb::CallErrorCode::Timeout) => Self::Timeout,
            _ => Self::Dropped,
        }
    }

    pub(crate) fn code(self) -> pb::CallErrorCode {
        match self {
            Self::UnknownActor => pb::CallErrorCode::UnknownActor,
            Self::Undecodable => pb::CallErrorCode::Undecodable,
            Self::Dropped | Self::Disconnected | Self::TooLarge => pb::CallErrorCode::Dropped,
            Self::ActorStopped => pb::CallErrorCode::ActorStopped,
            Self::Timeout => pb::CallErrorCode::Timeout,
        }
    }
}

/// A call this node sent and has not seen answered.
#[derive(Debug)]
struct Pending {
    reply: RpcReplyPort<Vec<u8>>,
    /// The caller's report metadata (set by [`crate::call`]), if any.
    report: Option<Vec<u8>>,
    /// Who was called, for logs.
    actor: String,
    deadline: Option<Instant>,
}

/// Counters of one session, readable at any time.
#[derive(Debug, Default)]
pub(crate) struct LinkStats {
    pub(crate) casts_sent: AtomicU64,
    pub(crate) calls_sent: AtomicU64,
    pub(crate) casts_received: AtomicU64,
    pub(crate) calls_received: AtomicU64,
    /// Messages that could not be sent because the session had ended.
    pub(crate) refused: AtomicU64,
    /// Casts for actors this node does not advertise.
    pub(crate) unknown_actor: AtomicU64,
    /// Casts whose payload did not decode at the target actor (counted by
    /// the decoder through a report sink, hence shared).
    pub(crate) undecodable: std::sync::Arc<AtomicU64>,
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct SessionLink {
    /// The peer's name, known once the handshake names it.
    peer: std::sync::OnceLock<String>,
    tx: mpsc::UnboundedSender<Outgoing>,
    /// Permits are bytes of queued envelopes; see [`super::writer`].
    queue: Arc<Semaphore>,
    queue_bytes: usize,
    /// The largest envelope the peer accepts.
    max_envelope: usize,
    close: Mutex<Option<oneshot::Sender<Farewell>>>,
    pending: Mutex<HashMap<u64, Pending>>,
    next_tag: AtomicU64,
    /// Why the link closed, once it has; watched by tasks that must not
    /// outlive it.
    closed: watch::Sender<Option<DisconnectReason>>,
    pub(crate) stats: LinkStats,
}

impl SessionLink {
    /// A link whose writer feeds `frames`; frames stay under
    /// `max_message_size`. Returns the writer's task too.
    pub(crate) fn new(frames: FrameTx, max_message_size: usize) -> (Self, JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let (close, close_rx) = oneshot::channel();
        let queue = Arc::new(Semaphore::new(QUEUE_BYTES));
        // Room for the frame's own overhead.
        let max_envelope = max_message_size.saturating_sub(64);
        let budget = max_envelope.min(4 * 1024 * 1024);
        let writer = tokio::spawn(writer::run(rx, frames, queue.clone(), budget, close_rx));
        let link = Self {
            peer: std::sync::OnceLock::new(),
            tx,
            queue,
            queue_bytes: QUEUE_BYTES,
            max_envelope,
            close: Mutex::new(Some(close)),
            pending: Mutex::new(HashMap::new()),
            next_tag: AtomicU64::new(1),
            closed: watch::Sender::new(None),
            stats: LinkStats::default(),
        };
        (link, writer)
    }

    /// The peer's name, for logs ("?" before the handshake names it).
    pub(crate) fn peer(&self) -> &str {
        self.peer.get().map_or("?", String::as_str)
    }

    /// Names the peer (once; later calls change nothing).
    pub(crate) fn set_peer(&self, peer: &str) {
        let _ = self.peer.set(peer.to_owned());
    }

    /// Queues one envelope, waiting while the queue holds
    /// [`QUEUE_BYTES`] already.
    pub(crate) async fn send_envelope(&self, envelope: pb::Envelope) -> Result<(), Refused> {
        let len = writer::framed_len(&envelope);
        if len > self.max_envelope {
            return Err(Refused::TooLarge(len));
        }
        // A huge envelope takes the whole queue rather than more than exists.
        let permits = u32::try_from(len.min(self.queue_bytes)).unwrap_or(u32::MAX);
        self.queue
            .acquire_many(permits)
            .await
            .map_err(|_| Refused::Closed)?
            .forget();
        self.tx
            .send(Outgoing { envelope, permits })
            .map_err(|_| Refused::Closed)
    }

    /// Queues a control envelope (handshake, sync, advertisement, call
    /// error) at once, outside the byte bound. Never waits: the session
    /// actor and the reader use this, and neither may ever wait on the
    /// outbound queue, or two nodes whose queues are both full would stop
    /// reading each other for good. Control traffic is small and follows
    /// local events or the peer's own requests.
    pub(crate) fn send_control(&self, envelope: pb::Envelope) {
        let _ = self.tx.send(Outgoing {
            envelope,
            permits: 0,
        });
    }

    /// Queues one envelope with this body.
    pub(crate) async fn send(&self, body: Body) -> Result<(), Refused> {
        self.send_envelope(pb::Envelope { body: Some(body) }).await
    }

    /// Sends a cast from a proxy.
    pub(crate) async fn cast(&self, to: u64, actor: &str, variant: String, args: Vec<u8>) {
        match self.send(Body::Cast(pb::Cast { to, variant, args })).await {
            Ok(()) => {
                self.stats.casts_sent.fetch_add(1, Ordering::Relaxed);
            }
            Err(why) => {
                self.stats.refused.fetch_add(1, Ordering::Relaxed);
                warn!(peer = %self.peer(), actor, %why, "cast refused");
            }
        }
    }

    /// Sends a call from a proxy; its answer completes or fails `reply`.
    pub(crate) async fn call(
        &self,
        to: u64,
        actor: &str,
        variant: String,
        args: Vec<u8>,
        reply: RpcReplyPort<Vec<u8>>,
        report: Option<Vec<u8>>,
    ) {
        let timeout = reply.get_timeout();
        let tag = self.next_tag.fetch_add(1, Ordering::Relaxed);
        let pending = Pending {
            reply,
            report,
            actor: actor.to_owned(),
            // A huge timeout ("forever") has no deadline.
            deadline: timeout.and_then(|t| Instant::now().checked_add(t)),
        };
        if let Some(reason) = self.closed.borrow().clone() {
            self.stats.refused.fetch_add(1, Ordering::Relaxed);
            self.finish_failed(pending, CallFailure::Disconnected, &reason.to_string());
            return;
        }
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(tag, pending);
        let call = pb::Call {
            to,
            variant,
            args,
            tag,
            timeout_ms: timeout.map_or(0, |t| {
                u64::try_from(t.as_millis()).unwrap_or(u64::MAX).max(1)
            }),
        };
        match self.send(Body::Call(call)).await {
            Ok(()) => {
                self.stats.calls_sent.fetch_add(1, Ordering::Relaxed);
            }
            Err(why) => {
                self.stats.refused.fetch_add(1, Ordering::Relaxed);
                let failure = match why {
                    Refused::Closed => CallFailure::Disconnected,
                    Refused::TooLarge(_) => CallFailure::TooLarge,
                };
                self.fail(tag, failure, &why.to_string());
            }
        }
    }

    /// A reply arrived.
    pub(crate) fn complete(&self, tag: u64, result: Vec<u8>) {
        let pending = self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&tag);
        if let Some(p) = pending {
            // The caller may have given up (timeout); a late reply is dropped.
            let _ = p.reply.send(result);
        }
    }

    /// A call failed; its caller's port is dropped and the reason reported.
    pub(crate) fn fail(&self, tag: u64, failure: CallFailure, detail: &str) {
        let pending = self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&tag);
        if let Some(p) = pending {
            self.finish_failed(p, failure, detail);
        }
    }

    fn finish_failed(&self, p: Pending, failure: CallFailure, detail: &str) {
        warn!(peer = %self.peer(), actor = %p.actor, reason = failure.as_str(), detail, "remote call failed");
        report::report(p.report.as_deref(), || {
            format!("{}: {detail}", failure.as_str())
        });
        drop(p.reply);
    }

    /// Drops calls whose caller stopped waiting (its timeout passed).
    pub(crate) fn sweep(&self) {
        let now = Instant::now();
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, p| !p.reply.is_closed() && p.deadline.is_none_or(|d| d > now));
    }

    /// Resolves when the link has closed.
    pub(crate) async fn ended(&self) {
        let mut closed = self.closed.subscribe();
        let _ = closed.wait_for(Option::is_some).await;
    }

    /// The counters as they are now.
    pub(crate) fn counters(&self) -> crate::node::SessionCounters {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        crate::node::SessionCounters {
            casts_sent: get(&self.stats.casts_sent),
            calls_sent: get(&self.stats.calls_sent),
            casts_received: get(&self.stats.casts_received),
            calls_received: get(&self.stats.calls_received),
            refused: get(&self.stats.refused),
            unknown_actor: get(&self.stats.unknown_actor),
            undecodable: get(&self.stats.undecodable),
            queued_bytes: (self
                .queue_bytes
                .saturating_sub(self.queue.available_permits())) as u64,
            calls_in_flight: self
                .pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .len() as u64,
        }
    }

    /// Ends the link: the writer flushes what is queued and sends `last` (a
    /// farewell) if given; later sends are refused; every call in flight
    /// fails with `reason`.
    pub(crate) fn close(&self, reason: &DisconnectReason, last: Farewell) {
        self.closed.send_replace(Some(reason.clone()));
        self.queue.close();
        if let Some(close) = self
            .close
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            let _ = close.send(last);
        }
        let drained: Vec<Pending> = self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
            .map(|(_, p)| p)
            .collect();
        let detail = format!("the session with {} ended: {reason}", self.peer());
        for p in drained {
            self.finish_failed(p, CallFailure::Disconnected, &detail);
        }
    }
}
