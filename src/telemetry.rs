//! What a node reports through the [`metrics`] facade. The library installs
//! no recorder: with none installed every update is a no-op; an application
//! installs one (the `node` CLI serves them for Prometheus on
//! `--metrics-addr`). The names and labels are listed in the README,
//! "Metrics".
//!
//! A leaf: it knows names and labels, not where the numbers come from. A
//! session's traffic counters live in its [`LinkStats`](crate::counters)
//! atomics on the hot path and reach the facade at each of the session's
//! ticks (at most a second apart) and at its end, as increments since the
//! last publish; a call's outcome and duration are recorded when it ends.

use std::time::Duration;

use metrics::{
    Counter, Gauge, Histogram, Unit, counter, describe_counter, describe_gauge, describe_histogram,
    gauge, histogram,
};

use crate::counters::{SessionCounters, Wire};

/// Gauge: sessions of the node by `state` (`handshake`, `authenticated`,
/// `ready`).
pub(crate) const SESSIONS: &str = "ractor_grpc_sessions";
/// Counter: sessions that ended, by `cause` and `side` (`local`, `peer`).
pub(crate) const SESSIONS_CLOSED: &str = "ractor_grpc_sessions_closed_total";
/// Counter: sessions that ended before the peer was authenticated, by `cause`.
pub(crate) const HANDSHAKES_REFUSED: &str = "ractor_grpc_handshakes_refused_total";
/// Counters by `direction` (`in`, `out`).
pub(crate) const FRAMES: &str = "ractor_grpc_frames_total";
/// See [`FRAMES`].
pub(crate) const ENVELOPES: &str = "ractor_grpc_envelopes_total";
/// See [`FRAMES`]; bytes of envelopes as framed.
pub(crate) const BYTES: &str = "ractor_grpc_bytes_total";
/// Counters by `direction` (`sent`, `received`).
pub(crate) const CASTS: &str = "ractor_grpc_casts_total";
/// See [`CASTS`].
pub(crate) const CALLS: &str = "ractor_grpc_calls_total";
/// Counter: casts and calls this node did not send, by `reason`
/// (`closed_or_too_large`, `queue_full`).
pub(crate) const REFUSED: &str = "ractor_grpc_refused_total";
/// Counter: casts received and dropped, by `reason` (`unknown_actor`,
/// `undecodable`).
pub(crate) const DROPPED: &str = "ractor_grpc_dropped_total";
/// Counter: calls this node made that ended, by `outcome` (`ok` or a
/// [`CallErrorKind`](crate::CallErrorKind) name).
pub(crate) const CALL_RESULTS: &str = "ractor_grpc_call_results_total";
/// Histogram: seconds from sending a call to its reply (answered calls).
pub(crate) const CALL_SECONDS: &str = "ractor_grpc_call_duration_seconds";
/// Gauge: bytes queued towards the peer.
pub(crate) const QUEUE_BYTES: &str = "ractor_grpc_queue_bytes";
/// Gauge: bytes of the peer's casts local actors have not taken yet.
pub(crate) const INBOX_BYTES: &str = "ractor_grpc_inbox_bytes";
/// Gauge: calls sent and not answered yet.
pub(crate) const CALLS_IN_FLIGHT: &str = "ractor_grpc_calls_in_flight";
/// Gauge: the smoothed heartbeat round trip, in seconds.
pub(crate) const HEARTBEAT_RTT: &str = "ractor_grpc_heartbeat_rtt_seconds";

/// Gives the installed recorder each metric's unit and description (the
/// HELP line a Prometheus scrape shows). Called as a node starts; harmless
/// to repeat.
pub(crate) fn describe() {
    describe_gauge!(SESSIONS, Unit::Count, "Sessions of the node, by state.");
    describe_counter!(
        SESSIONS_CLOSED,
        Unit::Count,
        "Sessions that ended, by cause and by the side that ended them."
    );
    describe_counter!(
        HANDSHAKES_REFUSED,
        Unit::Count,
        "Sessions that ended before the peer was authenticated, by cause."
    );
    describe_counter!(
        FRAMES,
        Unit::Count,
        "Session frames read (in) and written (out)."
    );
    describe_counter!(
        ENVELOPES,
        Unit::Count,
        "Envelopes read (in) and queued to send (out)."
    );
    describe_counter!(
        BYTES,
        Unit::Bytes,
        "Bytes of envelopes read (in) and written (out), as framed."
    );
    describe_counter!(
        CASTS,
        Unit::Count,
        "Casts sent to the peer's actors and received for this node's."
    );
    describe_counter!(
        CALLS,
        Unit::Count,
        "Calls sent to the peer's actors and received for this node's."
    );
    describe_counter!(
        REFUSED,
        Unit::Count,
        "Casts and calls not sent: the session had ended or the message was too large, or the queue was full."
    );
    describe_counter!(
        DROPPED,
        Unit::Count,
        "Casts received and dropped: no such actor here, or the payload did not decode."
    );
    describe_counter!(
        CALL_RESULTS,
        Unit::Count,
        "Calls this node made that ended, by outcome (ok or the error kind)."
    );
    describe_histogram!(
        CALL_SECONDS,
        Unit::Seconds,
        "Time from sending a call to its reply."
    );
    describe_gauge!(QUEUE_BYTES, Unit::Bytes, "Bytes queued towards the peer.");
    describe_gauge!(
        INBOX_BYTES,
        Unit::Bytes,
        "Bytes of the peer's casts this node's actors have not taken yet."
    );
    describe_gauge!(
        CALLS_IN_FLIGHT,
        Unit::Count,
        "Calls sent and not answered yet."
    );
    describe_gauge!(
        HEARTBEAT_RTT,
        Unit::Seconds,
        "Smoothed round trip of the session's heartbeat."
    );
}

/// Everything a session publishes, read from its counters.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Totals {
    pub(crate) counters: SessionCounters,
    pub(crate) wire_in: Wire,
    pub(crate) wire_out: Wire,
    pub(crate) rtt: Option<Duration>,
}

type Read = fn(&Totals) -> u64;

/// The counters a session publishes: (name, label, value, reading).
const SERIES: [(&str, &str, &str, Read); 14] = [
    (FRAMES, "direction", "in", |t| t.wire_in.frames),
    (FRAMES, "direction", "out", |t| t.wire_out.frames),
    (ENVELOPES, "direction", "in", |t| t.wire_in.envelopes),
    (ENVELOPES, "direction", "out", |t| t.wire_out.envelopes),
    (BYTES, "direction", "in", |t| t.wire_in.bytes),
    (BYTES, "direction", "out", |t| t.wire_out.bytes),
    (CASTS, "direction", "sent", |t| t.counters.casts_sent),
    (CASTS, "direction", "received", |t| {
        t.counters.casts_received
    }),
    (CALLS, "direction", "sent", |t| t.counters.calls_sent),
    (CALLS, "direction", "received", |t| {
        t.counters.calls_received
    }),
    (REFUSED, "reason", "closed_or_too_large", |t| {
        t.counters.refused
    }),
    (REFUSED, "reason", "queue_full", |t| t.counters.overflowed),
    (DROPPED, "reason", "unknown_actor", |t| {
        t.counters.unknown_actor
    }),
    (DROPPED, "reason", "undecodable", |t| t.counters.undecodable),
];

/// One published counter and the total it was last brought to.
#[derive(Debug)]
struct Series {
    counter: Counter,
    read: Read,
    last: u64,
}

/// A session's share of a gauge it may share with another session with
/// the same peer (a simultaneous dial's loser, a restarted peer's old
/// session): it moves the gauge by its own changes, so the gauge is the sum
/// over the sessions, and an ending session takes back only its own share.
#[derive(Debug)]
struct Share {
    gauge: Gauge,
    last: f64,
}

impl Share {
    fn new(gauge: Gauge) -> Self {
        Self { gauge, last: 0.0 }
    }

    /// This session's share is now `value`.
    fn to(&mut self, value: f64) {
        let change = value - self.last;
        if change > 0.0 {
            self.gauge.increment(change);
        } else if change < 0.0 {
            self.gauge.decrement(-change);
        }
        self.last = value;
    }
}

/// A session that ends without [`SessionMetrics::ended`] (its actor
/// panicked) still takes its share back.
impl Drop for Share {
    fn drop(&mut self) {
        self.to(0.0);
    }
}

/// A session's counters and gauges (labels `node` and `peer`).
#[derive(Debug)]
pub(crate) struct SessionMetrics {
    series: Vec<Series>,
    queue: Share,
    inbox: Share,
    in_flight: Share,
    rtt: Gauge,
}

impl SessionMetrics {
    /// The metrics of a session of node `node` with `peer`.
    pub(crate) fn new(node: &str, peer: &str) -> Self {
        let labels =
            |name: &'static str| gauge!(name, "node" => node.to_owned(), "peer" => peer.to_owned());
        let series = SERIES
            .iter()
            .map(|&(name, key, value, read)| Series {
                counter: counter!(name, "node" => node.to_owned(), "peer" => peer.to_owned(), key => value),
                read,
                last: 0,
            })
            .collect();
        Self {
            series,
            queue: Share::new(labels(QUEUE_BYTES)),
            inbox: Share::new(labels(INBOX_BYTES)),
            in_flight: Share::new(labels(CALLS_IN_FLIGHT)),
            rtt: labels(HEARTBEAT_RTT),
        }
    }

    /// Brings the facade up to `now`: each counter by what it grew since
    /// the last publish, each gauge by this session's share of it (the
    /// round trip is the last one measured, by whichever session).
    pub(crate) fn publish(&mut self, now: &Totals) {
        for s in &mut self.series {
            let value = (s.read)(now);
            s.counter.increment(value.saturating_sub(s.last));
            s.last = s.last.max(value);
        }
        self.queue.to(now.counters.queued_bytes as f64);
        self.inbox.to(now.counters.inbox_bytes as f64);
        self.in_flight.to(now.counters.calls_in_flight as f64);
        if let Some(rtt) = now.rtt {
            self.rtt.set(rtt.as_secs_f64());
        }
    }

    /// The session ended: it takes its shares of the gauges back (its
    /// counters stay).
    pub(crate) fn ended(&mut self, last: &Totals) {
        self.publish(last);
        for share in [&mut self.queue, &mut self.inbox, &mut self.in_flight] {
            share.to(0.0);
        }
    }
}

/// How the calls a session carries end (labels `node` and `peer`).
#[derive(Debug)]
pub(crate) struct CallMetrics {
    node: String,
    peer: String,
    ok: Counter,
    seconds: Histogram,
}

impl CallMetrics {
    /// The call metrics of a session of node `node` with `peer`.
    pub(crate) fn new(node: &str, peer: &str) -> Self {
        Self {
            node: node.to_owned(),
            peer: peer.to_owned(),
            ok: counter!(CALL_RESULTS, "node" => node.to_owned(), "peer" => peer.to_owned(), "outcome" => "ok"),
            seconds: histogram!(CALL_SECONDS, "node" => node.to_owned(), "peer" => peer.to_owned()),
        }
    }

    /// A call was answered after `took`.
    pub(crate) fn answered(&self, took: Duration) {
        self.ok.increment(1);
        self.seconds.record(took.as_secs_f64());
    }

    /// A call failed with the error kind named `outcome` (rare: the series
    /// is looked up each time).
    pub(crate) fn failed(&self, outcome: &'static str) {
        counter!(CALL_RESULTS, "node" => self.node.clone(), "peer" => self.peer.clone(), "outcome" => outcome)
            .increment(1);
    }
}

/// Sets the node's session gauges: how many sessions are in each state.
pub(crate) fn session_states(node: &str, counts: [(&'static str, usize); 3]) {
    for (state, n) in counts {
        gauge!(SESSIONS, "node" => node.to_owned(), "state" => state).set(n as f64);
    }
}

/// Counts a session of `node` that ended with `cause` on `side`; one that
/// ended before the peer was authenticated counts as a refused handshake
/// too.
pub(crate) fn session_closed(
    node: &str,
    cause: &'static str,
    side: &'static str,
    authenticated: bool,
) {
    counter!(SESSIONS_CLOSED, "node" => node.to_owned(), "cause" => cause, "side" => side)
        .increment(1);
    if !authenticated {
        counter!(HANDSHAKES_REFUSED, "node" => node.to_owned(), "cause" => cause).increment(1);
    }
}

#[cfg(test)]
mod tests {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    use super::*;

    fn queued(bytes: u64) -> Totals {
        let mut totals = Totals::default();
        totals.counters.queued_bytes = bytes;
        totals
    }

    /// The queue gauge after `steps` on two sessions of node a with peer b,
    /// in a recorder of its own (the debugging recorder's read drains its
    /// gauges, so it is read once, at the end).
    fn queue_after(steps: impl FnOnce(&mut SessionMetrics, &mut SessionMetrics)) -> Option<f64> {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        // Both live until it is read: dropped, each takes its share back.
        let _sessions = metrics::with_local_recorder(&recorder, || {
            let mut old = SessionMetrics::new("a", "b");
            let mut new = SessionMetrics::new("a", "b");
            steps(&mut old, &mut new);
            (old, new)
        });
        snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .find_map(|(key, _, _, value)| match value {
                DebugValue::Gauge(g) if key.key().name() == QUEUE_BYTES => Some(g.into_inner()),
                _ => None,
            })
    }

    #[test]
    fn two_sessions_with_one_peer_add_up() {
        let queue = queue_after(|old, new| {
            old.publish(&queued(100));
            new.publish(&queued(50));
            new.publish(&queued(20));
        });
        assert_eq!(queue, Some(120.0));
    }

    #[test]
    fn an_ending_session_takes_back_only_its_share() {
        // The old session ends: the new one's bytes are still queued.
        let queue = queue_after(|old, new| {
            old.publish(&queued(100));
            new.publish(&queued(20));
            old.ended(&queued(100));
        });
        assert_eq!(queue, Some(20.0));
        let queue = queue_after(|old, new| {
            old.publish(&queued(100));
            new.publish(&queued(20));
            old.ended(&queued(100));
            new.ended(&queued(0));
        });
        assert_eq!(queue, Some(0.0));
    }

    #[test]
    fn a_session_dropped_without_ending_takes_back_its_share() {
        let queue = queue_after(|old, new| {
            old.publish(&queued(100));
            new.publish(&queued(20));
            drop(std::mem::replace(old, SessionMetrics::new("a", "b")));
        });
        assert_eq!(queue, Some(20.0));
    }
}
