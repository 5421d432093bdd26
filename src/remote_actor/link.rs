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
        Arc, Mutex, OnceLock, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use ractor::RpcReplyPort;
use tokio::{
    sync::{Semaphore, mpsc, oneshot, watch},
    task::JoinHandle,
};
use tracing::{debug, warn};

use super::{error::CallError, report};
use crate::{
    counters::{LinkStats, SessionCounters, bump},
    pb::{self, envelope::Body},
    reason::DisconnectReason,
    transport::{Farewell, FrameTx, LastStatus, Outgoing, framed_len, run_writer},
};

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

/// How long a call is kept after its deadline before the sweep ends it.
const AFTER_DEADLINE: Duration = Duration::from_secs(1);

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

/// See the module docs.
#[derive(Debug)]
pub(crate) struct SessionLink {
    /// The peer's name, known once the handshake names it.
    peer: OnceLock<String>,
    tx: mpsc::UnboundedSender<Outgoing>,
    /// Permits are bytes of queued envelopes; see [`crate::transport`]'s writer.
    queue: Arc<Semaphore>,
    /// The largest envelope the peer accepts.
    max_envelope: usize,
    close: Mutex<Option<oneshot::Sender<Farewell>>>,
    /// Where an acceptor's final status is also left, in case the writer
    /// does not get to send it (see [`LastStatus`]).
    last_status: Option<LastStatus>,
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
        let last_status = frames.last_status();
        let writer = tokio::spawn(run_writer(rx, frames, queue.clone(), budget, close_rx));
        let link = Self {
            peer: OnceLock::new(),
            tx,
            queue,
            max_envelope,
            close: Mutex::new(Some(close)),
            last_status,
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

    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Pending>> {
        // Every operation on the map is a single insert, remove or retain,
        // so a panic elsewhere cannot leave it inconsistent.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues one envelope with this body, waiting while the queue holds
    /// [`QUEUE_BYTES`] already.
    pub(crate) async fn send(&self, body: Body) -> Result<(), Refused> {
        let envelope = pb::Envelope::from(body);
        let len = framed_len(&envelope);
        if len > self.max_envelope {
            return Err(Refused::TooLarge(len));
        }
        // A huge envelope takes the whole queue rather than more than exists.
        let permits = u32::try_from(len.min(QUEUE_BYTES)).unwrap_or(u32::MAX);
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

    /// Counts and logs a message that could not be sent.
    fn refused(&self, actor: &str, why: Refused) {
        bump(&self.stats.refused);
        match why {
            // A proxy drains its mailbox after its session ended: one line
            // each would flood the log; the counter tells how many.
            Refused::Closed => debug!(peer = %self.peer(), actor, %why, "message refused"),
            Refused::TooLarge(_) => warn!(peer = %self.peer(), actor, %why, "message refused"),
        }
    }

    /// Sends a cast from a proxy.
    pub(crate) async fn cast(&self, to: u64, actor: &str, variant: String, args: Vec<u8>) {
        match self.send(Body::Cast(pb::Cast { to, variant, args })).await {
            Ok(()) => bump(&self.stats.casts_sent),
            Err(why) => self.refused(actor, why),
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
            self.refused(actor, Refused::Closed);
            self.finish_failed(pending, CallError::Disconnected(reason.to_string()));
            return;
        }
        self.pending().insert(tag, pending);
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
            Ok(()) => bump(&self.stats.calls_sent),
            Err(why) => {
                self.refused(actor, why);
                let error = match why {
                    Refused::Closed => CallError::Disconnected(why.to_string()),
                    Refused::TooLarge(_) => CallError::TooLarge(why.to_string()),
                };
                self.fail(tag, error);
            }
        }
    }

    /// A reply arrived.
    pub(crate) fn complete(&self, tag: u64, result: Vec<u8>) {
        let pending = self.pending().remove(&tag);
        if let Some(p) = pending {
            // The caller may have given up (timeout); a late reply is dropped.
            let _ = p.reply.send(result);
        }
    }

    /// A call failed; the reason is reported and its caller's port dropped.
    ///
    /// A timeout the callee reports is left to the caller's own timer,
    /// which runs out at the call's deadline: the port stays open until the
    /// sweep ends the call a grace period after that deadline. Dropping it
    /// earlier would make ractor's own `call` see `SenderError` a moment
    /// before its timer says `Timeout`.
    pub(crate) fn fail(&self, tag: u64, error: CallError) {
        let pending = {
            let mut pending = self.pending();
            let left_to_the_caller = error == CallError::Timeout
                && pending.get(&tag).is_some_and(|p| p.deadline.is_some());
            if left_to_the_caller {
                return;
            }
            pending.remove(&tag)
        };
        if let Some(p) = pending {
            self.finish_failed(p, error);
        }
    }

    fn finish_failed(&self, p: Pending, error: CallError) {
        warn!(peer = %self.peer(), actor = %p.actor, %error, "remote call failed");
        // Reported before the port drops: the caller reads the report when
        // it sees the drop.
        report::report(p.report.as_deref(), || error);
        drop(p.reply);
    }

    /// Ends calls whose caller stopped waiting (its port is closed), or whose
    /// deadline passed more than [`AFTER_DEADLINE`] ago, reporting a timeout.
    /// The grace lets the caller's own timer, which may have started a
    /// little later than the deadline here was set, fire first.
    pub(crate) fn sweep(&self) {
        let now = Instant::now();
        let expired: Vec<Pending> = self
            .pending()
            .extract_if(|_, p| {
                p.reply.is_closed()
                    || p.deadline
                        .and_then(|d| d.checked_add(AFTER_DEADLINE))
                        .is_some_and(|end| end <= now)
            })
            .map(|(_, p)| p)
            .collect();
        for p in expired {
            report::report(p.report.as_deref(), || CallError::Timeout);
        }
    }

    /// Resolves when the link has closed.
    pub(crate) async fn ended(&self) {
        let mut closed = self.closed.subscribe();
        let _ = closed.wait_for(Option::is_some).await;
    }

    /// The counters as they are now.
    pub(crate) fn counters(&self) -> SessionCounters {
        let queued = QUEUE_BYTES.saturating_sub(self.queue.available_permits());
        self.stats
            .snapshot(queued as u64, self.pending().len() as u64)
    }

    /// Ends the link: the writer flushes what is queued and sends `last` (a
    /// farewell) if given; later sends are refused; every call in flight
    /// fails with `reason`.
    pub(crate) fn close(&self, reason: &DisconnectReason, last: Farewell) {
        self.closed.send_replace(Some(reason.clone()));
        self.queue.close();
        if let (Some(slot), Some(Err(status))) = (&self.last_status, &last) {
            slot.set(status.clone());
        }
        if let Some(close) = self
            .close
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            let _ = close.send(last);
        }
        let drained: Vec<Pending> = self.pending().drain().map(|(_, p)| p).collect();
        let detail = format!("the session with {} ended: {reason}", self.peer());
        for p in drained {
            self.finish_failed(p, CallError::Disconnected(detail.clone()));
        }
    }
}

#[cfg(test)]
mod tests;
