//! The handle a session shares with its proxies and reply tasks: the sending
//! half of the stream, the calls in flight, and the session's counters.
//!
//! Proxies encode envelopes straight into the session's outbox rather than
//! through the session actor, so a cast costs one queue hop and waits in it
//! as bytes. The queue policy (see [`crate::NodeConfig::with_queue_limit`]):
//! a proxy's cast or call is refused once the session holds its queue limit
//! (counted as `overflowed`, a call failing with [`CallError::Overloaded`]);
//! [`crate::send`] and reply tasks wait for room instead. When the session
//! ends, [`SessionLink::close`] closes the outbox (the writer flushes it and
//! the stream can end) and fails every call in flight with the same reason;
//! later sends fail at once.

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
    sync::{oneshot, watch},
    task::JoinHandle,
};
use tracing::{Instrument, Span, debug, debug_span, field::Empty, warn};

use super::{error::CallError, inbox::Inbox, report};
use crate::{
    counters::{LinkStats, SessionCounters, bump},
    pb::{self, envelope::Body},
    reason::DisconnectReason,
    telemetry::{CallMetrics, Totals},
    trace::{self, TraceParent},
    transport::{Bound, Farewell, FrameTx, LastStatus, Outbox, Refused, run_writer},
};

/// The largest frame the writer builds, unless the peer's max message size
/// is smaller (an envelope larger than this goes alone).
const FRAME_BUDGET: usize = 1024 * 1024;

/// How often a session logs that it refuses messages for a full queue (the
/// counter has every one).
const FULL_LOG_EVERY: Duration = Duration::from_secs(1);

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
    /// When it was sent.
    sent: Instant,
    /// The caller's half of the call, closed when the call ends.
    span: Span,
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct SessionLink {
    /// The peer's name, known once the handshake names it.
    peer: OnceLock<String>,
    /// What this node holds for the peer, encoded; the writer drains it.
    outbox: Arc<Outbox>,
    /// When a refusal for a full queue was last logged.
    full_logged: Mutex<Option<Instant>>,
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
    /// What this node's actors hold of the peer's casts (the reader stops
    /// reading past its budget).
    pub(crate) inbox: Arc<Inbox>,
    /// The session's span: the writer runs in it, and the link's own lines
    /// (refusals, failed calls, from whichever proxy) are logged in it.
    span: Span,
    /// How calls end, once the peer is known.
    call_metrics: OnceLock<CallMetrics>,
}

impl SessionLink {
    /// A link whose writer feeds `frames`; frames stay under
    /// `max_message_size`; proxies' sends are refused while `queue_limit`
    /// bytes are held, and [`Self::send`] waits while a quarter of that is.
    /// `span` is the session's. Returns the writer's task too.
    pub(crate) fn new(
        frames: FrameTx,
        max_message_size: usize,
        queue_limit: usize,
        receive_budget: Option<usize>,
        span: Span,
    ) -> (Self, JoinHandle<()>) {
        let (close, close_rx) = oneshot::channel();
        // Room for the frame's own overhead.
        let max_envelope = max_message_size.saturating_sub(64);
        let budget = max_envelope.min(FRAME_BUDGET);
        let outbox = Arc::new(Outbox::new(
            queue_limit / 4,
            queue_limit,
            max_envelope,
            budget,
        ));
        let last_status = frames.last_status();
        let writer =
            tokio::spawn(run_writer(outbox.clone(), frames, close_rx).instrument(span.clone()));
        let link = Self {
            peer: OnceLock::new(),
            outbox,
            full_logged: Mutex::new(None),
            close: Mutex::new(Some(close)),
            last_status,
            pending: Mutex::new(HashMap::new()),
            next_tag: AtomicU64::new(1),
            closed: watch::Sender::new(None),
            stats: LinkStats::default(),
            inbox: Arc::new(Inbox::new(receive_budget.unwrap_or(usize::MAX))),
            span,
            call_metrics: OnceLock::new(),
        };
        (link, writer)
    }

    /// The peer's name, for logs ("?" before the handshake names it).
    pub(crate) fn peer(&self) -> &str {
        self.peer.get().map_or("?", String::as_str)
    }

    /// Sets where the ends of calls are counted (once; later calls change
    /// nothing).
    pub(crate) fn set_call_metrics(&self, metrics: CallMetrics) {
        let _ = self.call_metrics.set(metrics);
    }

    /// Everything the session publishes as metrics, as it is now.
    pub(crate) fn totals(&self) -> Totals {
        Totals {
            counters: self.counters(),
            wire_in: self.stats.wire_in(),
            wire_out: self.outbox.sent(),
            rtt: self.stats.round_trip().map(|r| r.smoothed),
        }
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

    /// Queues one envelope with this body, first waiting while the session
    /// holds a quarter of its queue limit or more (reply tasks use this: they
    /// may wait, and their answer must not be refused).
    pub(crate) async fn send(&self, body: Body) -> Result<(), Refused> {
        let envelope = pb::Envelope::from(body);
        let len = pb::framed_len(&envelope);
        self.outbox.reserve(len, 0).await?;
        self.outbox.push(envelope, Bound::Reserved(len))
    }

    /// Waits for room as [`Self::send`] does and reserves room for a cast
    /// of `len` encoded bytes that costs `extra` more on its way to the
    /// proxy; it will reach [`Self::cast`] with `reserved: Some(len +
    /// extra)` (or be given back with [`Self::release`]).
    pub(crate) async fn reserve(&self, len: usize, extra: usize) -> Result<(), Refused> {
        self.outbox.reserve(len, extra).await
    }

    /// Gives back bytes [`Self::reserve`] reserved for a cast that will not
    /// come.
    pub(crate) fn release(&self, len: usize) {
        self.outbox.release(len);
    }

    /// Queues a control envelope (handshake, sync, advertisement, call
    /// error) at once, outside the queue limit. Never waits: the session
    /// actor and the reader use this, and neither may ever wait on the
    /// outbound queue, or two nodes whose queues are both full would stop
    /// reading each other for good. Control traffic is small and follows
    /// local events or the peer's own requests.
    pub(crate) fn send_control(&self, envelope: pb::Envelope) {
        let _ = self.outbox.push(envelope, Bound::Control);
    }

    /// Counts and logs a message that could not be sent.
    fn refused(&self, actor: &str, why: Refused) {
        match why {
            // A proxy drains its mailbox after its session ended: one line
            // each would flood the log; the counter tells how many.
            Refused::Closed => {
                bump(&self.stats.refused);
                let _in = self.span.enter();
                debug!(peer = %self.peer(), actor, %why, "message refused");
            }
            Refused::TooLarge(_) => {
                bump(&self.stats.refused);
                let _in = self.span.enter();
                warn!(peer = %self.peer(), actor, %why, "message refused");
            }
            // A flood past the limit refuses many: a line a second, with
            // the count so far.
            Refused::Full { .. } => {
                let total = self.stats.overflowed.fetch_add(1, Ordering::Relaxed) + 1;
                let now = Instant::now();
                let mut logged = self
                    .full_logged
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                if logged.is_none_or(|at| now.duration_since(at) >= FULL_LOG_EVERY) {
                    *logged = Some(now);
                    drop(logged);
                    let _in = self.span.enter();
                    warn!(peer = %self.peer(), actor, %why, refused_so_far = total, "message refused: the queue is full");
                }
            }
        }
    }

    /// Sends a cast from a proxy: refused past the queue limit, unless the
    /// sender reserved its room beforehand (`reserved`, the bytes it did).
    pub(crate) fn cast(
        &self,
        to: u64,
        actor: &str,
        variant: String,
        args: Vec<u8>,
        reserved: Option<usize>,
        traced: Option<TraceParent>,
    ) {
        let envelope = pb::Envelope::from(Body::Cast(pb::Cast {
            to,
            variant,
            args,
            traceparent: traced.map(|tp| tp.to_string()).unwrap_or_default(),
        }));
        let bound = reserved.map_or(Bound::Limit, Bound::Reserved);
        match self.outbox.push(envelope, bound) {
            Ok(()) => bump(&self.stats.casts_sent),
            Err(why) => self.refused(actor, why),
        }
    }

    /// Sends a call from a proxy (refused past the queue limit); its answer
    /// completes or fails `reply`. `metadata` is the message's: a report
    /// sink ([`crate::call`]'s) and the caller's trace context, each if any.
    pub(crate) fn call(
        &self,
        to: u64,
        actor: &str,
        variant: String,
        args: Vec<u8>,
        reply: RpcReplyPort<Vec<u8>>,
        metadata: Option<Vec<u8>>,
    ) {
        // The caller's report sink, and the trace it was made in, if any.
        let (report, traced) = trace::take_record(metadata);
        let timeout = reply.get_timeout();
        let tag = self.next_tag.fetch_add(1, Ordering::Relaxed);
        // The caller's half of the call: it ends when the call does (the
        // callee's half, in its session's span, has the same tag).
        let span = debug_span!(parent: &self.span, "call", actor = %actor, variant = %variant, tag, trace_id = Empty);
        // It continues the caller's trace, and the callee's half continues
        // it (or, with no tracing backend, the caller's context as it was).
        if let Some(tp) = traced {
            trace::continue_in(&span, tp);
        }
        let sent = trace::context_of(&span).or(traced);
        // Both halves name the trace, so logs alone can follow it.
        if let Some(tp) = &sent {
            span.record("trace_id", tp.trace_id_hex());
        }
        let traceparent = sent.map(|tp| tp.to_string()).unwrap_or_default();
        let pending = Pending {
            span,
            reply,
            report,
            actor: actor.to_owned(),
            // A huge timeout ("forever") has no deadline.
            deadline: timeout.and_then(|t| Instant::now().checked_add(t)),
            sent: Instant::now(),
        };
        if let Some(reason) = self.closed.borrow().clone() {
            self.refused(actor, Refused::Closed);
            self.finish_failed(pending, CallError::Disconnected(reason.to_string()));
            return;
        }
        self.pending().insert(tag, pending);
        // A reader holding back for room must read on: this call's answer
        // may be what a busy actor waits for.
        self.inbox.wake();
        let call = pb::Call {
            to,
            variant,
            args,
            tag,
            timeout_ms: timeout.map_or(0, |t| {
                u64::try_from(t.as_millis()).unwrap_or(u64::MAX).max(1)
            }),
            traceparent,
        };
        match self.outbox.push(Body::Call(call).into(), Bound::Limit) {
            Ok(()) => bump(&self.stats.calls_sent),
            Err(why) => {
                self.refused(actor, why);
                let error = match why {
                    Refused::Closed => CallError::Disconnected(why.to_string()),
                    Refused::TooLarge(_) => CallError::TooLarge(why.to_string()),
                    Refused::Full { .. } => CallError::Overloaded(why.to_string()),
                };
                self.fail(tag, error);
            }
        }
    }

    /// A reply arrived.
    pub(crate) fn complete(&self, tag: u64, result: Vec<u8>) {
        let pending = self.pending().remove(&tag);
        if let Some(p) = pending {
            if let Some(metrics) = self.call_metrics.get() {
                metrics.answered(p.sent.elapsed());
            }
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
        p.span.in_scope(
            || warn!(peer = %self.peer(), actor = %p.actor, %error, "remote call failed"),
        );
        if let Some(metrics) = self.call_metrics.get() {
            metrics.failed(error.kind().as_str());
        }
        // Reported before the port drops: the caller reads the report when
        // it sees the drop.
        report::report(p.report.as_deref(), || error);
        drop(p.reply);
    }

    /// Ends calls whose caller stopped waiting (its port is closed), or whose
    /// deadline passed more than [`AFTER_DEADLINE`] ago, reporting a timeout;
    /// forgets the local actors that stopped (see [`Inbox::reclaim_stopped`]).
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
            if let Some(metrics) = self.call_metrics.get() {
                metrics.failed(CallError::Timeout.kind().as_str());
            }
            report::report(p.report.as_deref(), || CallError::Timeout);
        }
        // Local actors that stopped since: what they held is given back and
        // their cells are let go (a session outlives many actors).
        self.inbox.reclaim_stopped();
    }

    /// Resolves when the link has closed.
    pub(crate) async fn ended(&self) {
        let mut closed = self.closed.subscribe();
        let _ = closed.wait_for(Option::is_some).await;
    }

    /// The counters as they are now.
    pub(crate) fn counters(&self) -> SessionCounters {
        let mut counters = self
            .stats
            .snapshot(self.outbox.held() as u64, self.calls_in_flight() as u64);
        counters.inbox_bytes = self.inbox.held() as u64;
        counters.inbox_peak_bytes = self.inbox.peak() as u64;
        counters
    }

    /// Calls sent on this session and not yet answered.
    pub(crate) fn calls_in_flight(&self) -> usize {
        self.pending().len()
    }

    /// Whether the link has ended.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.borrow().is_some()
    }

    /// Ends the link: the writer flushes what is queued and sends `last` (a
    /// farewell) if given; later sends are refused; every call in flight
    /// fails with `reason`.
    pub(crate) fn close(&self, reason: &DisconnectReason, last: Farewell) {
        self.closed.send_replace(Some(reason.clone()));
        self.outbox.close();
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
