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
        Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

use ractor::RpcReplyPort;
use tokio::sync::mpsc;
use tonic::Status;
use tracing::warn;

use super::report;
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
}

/// Why a call failed, as the caller learns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallFailure {
    UnknownActor,
    Undecodable,
    Dropped,
    ActorStopped,
    Timeout,
    Disconnected,
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
            Self::Dropped | Self::Disconnected => pb::CallErrorCode::Dropped,
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
    tx: Mutex<Option<FrameTx>>,
    pending: Mutex<HashMap<u64, Pending>>,
    next_tag: AtomicU64,
    closed: Mutex<Option<DisconnectReason>>,
    pub(crate) stats: LinkStats,
}

fn one(body: Body) -> pb::Frame {
    pb::Frame {
        envelopes: vec![pb::Envelope { body: Some(body) }],
    }
}

impl SessionLink {
    pub(crate) fn new(tx: FrameTx) -> Self {
        Self {
            peer: std::sync::OnceLock::new(),
            tx: Mutex::new(Some(tx)),
            pending: Mutex::new(HashMap::new()),
            next_tag: AtomicU64::new(1),
            closed: Mutex::new(None),
            stats: LinkStats::default(),
        }
    }

    /// The peer's name, for logs ("?" before the handshake names it).
    pub(crate) fn peer(&self) -> &str {
        self.peer.get().map_or("?", String::as_str)
    }

    /// Names the peer (once; later calls change nothing).
    pub(crate) fn set_peer(&self, peer: &str) {
        let _ = self.peer.set(peer.to_owned());
    }

    fn sender(&self) -> Option<FrameTx> {
        self.tx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Queues one frame. `false` when the session has ended.
    pub(crate) async fn send_frame(&self, frame: pb::Frame) -> bool {
        match self.sender() {
            Some(tx) => tx.send(frame).await,
            None => false,
        }
    }

    /// Queues one envelope. `false` when the session has ended.
    pub(crate) async fn send(&self, body: Body) -> bool {
        self.send_frame(one(body)).await
    }

    /// Sends a cast from a proxy.
    pub(crate) async fn cast(&self, to: u64, actor: &str, variant: String, args: Vec<u8>) {
        if self.send(Body::Cast(pb::Cast { to, variant, args })).await {
            self.stats.casts_sent.fetch_add(1, Ordering::Relaxed);
        } else {
            self.stats.refused.fetch_add(1, Ordering::Relaxed);
            warn!(peer = %self.peer(), actor, "cast refused: the session has ended");
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
            deadline: timeout.map(|t| Instant::now() + t),
        };
        if let Some(reason) = self
            .closed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
        {
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
        if self.send(Body::Call(call)).await {
            self.stats.calls_sent.fetch_add(1, Ordering::Relaxed);
        } else {
            self.stats.refused.fetch_add(1, Ordering::Relaxed);
            self.fail(tag, CallFailure::Disconnected, "the session has ended");
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
            calls_in_flight: self
                .pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .len() as u64,
        }
    }

    /// Ends the link: sends `last` (a farewell) if given, takes the sender away
    /// and fails every call in flight with `reason`.
    pub(crate) fn close(&self, reason: &DisconnectReason, last: Option<Result<pb::Frame, Status>>) {
        *self.closed.lock().unwrap_or_else(PoisonError::into_inner) = Some(reason.clone());
        let tx = self
            .tx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match (tx, last) {
            (Some(FrameTx::Acceptor(tx)), Some(last)) => {
                let _ = tx.try_send(last);
            }
            (Some(FrameTx::Dialer(tx)), Some(Ok(frame))) => {
                let _ = tx.try_send(frame);
            }
            _ => {}
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
