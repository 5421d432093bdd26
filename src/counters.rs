//! Traffic counters of a session: the atomics the hot path bumps and the
//! snapshot users read.
//!
//! A leaf: proxies, the reader and reply tasks count into [`LinkStats`]
//! without locks; `list_sessions` and ListPeers show a [`SessionCounters`]
//! snapshot. Nothing here knows where the numbers come from.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

/// Traffic counters of one session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionCounters {
    /// Casts sent to the peer's actors.
    pub casts_sent: u64,
    /// Calls sent to the peer's actors.
    pub calls_sent: u64,
    /// Casts received for this node's actors.
    pub casts_received: u64,
    /// Calls received for this node's actors.
    pub calls_received: u64,
    /// Messages refused because the session had ended or they were larger
    /// than its max message size (the sender was told).
    pub refused: u64,
    /// Casts and calls refused because the session held its queue limit
    /// (the peer reads more slowly than this node sends; a call failed with
    /// [`CallError::Overloaded`](crate::CallError::Overloaded), a cast was
    /// logged).
    pub overflowed: u64,
    /// Casts for actors this node does not advertise (dropped and logged).
    pub unknown_actor: u64,
    /// Casts whose payload did not decode at the target (dropped and logged).
    pub undecodable: u64,
    /// Calls sent and not yet answered.
    pub calls_in_flight: u64,
    /// Bytes of envelopes queued towards the peer right now.
    pub queued_bytes: u64,
    /// Bytes of the peer's casts this node's actors hold right now, not yet
    /// taken (payload plus mailbox cost; see
    /// [`NodeConfig::with_receive_budget`](crate::NodeConfig::with_receive_budget)).
    pub inbox_bytes: u64,
    /// The most `inbox_bytes` has been.
    pub inbox_peak_bytes: u64,
}

/// How long a Ping takes to be answered on a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoundTrip {
    /// The last Ping's round trip.
    pub last: Duration,
    /// The smoothed round trip (each new sample weighs 1/8).
    pub smoothed: Duration,
}

/// The counters of one session that only ever grow, readable at any time.
#[derive(Debug, Default)]
pub(crate) struct LinkStats {
    pub(crate) casts_sent: AtomicU64,
    pub(crate) calls_sent: AtomicU64,
    pub(crate) casts_received: AtomicU64,
    pub(crate) calls_received: AtomicU64,
    /// Messages that could not be sent because the session had ended or
    /// they were too large.
    pub(crate) refused: AtomicU64,
    /// Messages refused because the queue limit was reached.
    pub(crate) overflowed: AtomicU64,
    /// Casts for actors this node does not advertise.
    pub(crate) unknown_actor: AtomicU64,
    /// Casts whose payload did not decode at the target actor (counted by
    /// the decoder through a report sink, hence shared).
    pub(crate) undecodable: Arc<AtomicU64>,
    /// The last and smoothed round trip in microseconds (0: none yet).
    rtt_last_us: AtomicU64,
    rtt_smoothed_us: AtomicU64,
    /// Frames read from the peer, their envelopes and their bytes.
    frames_in: AtomicU64,
    envelopes_in: AtomicU64,
    bytes_in: AtomicU64,
}

/// Frames, envelopes and bytes through one direction of a session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Wire {
    pub(crate) frames: u64,
    pub(crate) envelopes: u64,
    pub(crate) bytes: u64,
}

/// Adds one to `counter`.
pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

impl LinkStats {
    /// Records a measured round trip.
    pub(crate) fn record_round_trip(&self, rtt: RoundTrip) {
        self.rtt_last_us.store(micros(rtt.last), Ordering::Relaxed);
        self.rtt_smoothed_us
            .store(micros(rtt.smoothed), Ordering::Relaxed);
    }

    /// Records a frame read from the peer: `envelopes` envelopes in `bytes`
    /// encoded bytes.
    pub(crate) fn frame_in(&self, envelopes: usize, bytes: usize) {
        self.frames_in.fetch_add(1, Ordering::Relaxed);
        self.envelopes_in
            .fetch_add(envelopes as u64, Ordering::Relaxed);
        self.bytes_in.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// What was read from the peer so far.
    pub(crate) fn wire_in(&self) -> Wire {
        Wire {
            frames: self.frames_in.load(Ordering::Relaxed),
            envelopes: self.envelopes_in.load(Ordering::Relaxed),
            bytes: self.bytes_in.load(Ordering::Relaxed),
        }
    }

    /// The round trip last recorded, if any.
    pub(crate) fn round_trip(&self) -> Option<RoundTrip> {
        let last = self.rtt_last_us.load(Ordering::Relaxed);
        let smoothed = self.rtt_smoothed_us.load(Ordering::Relaxed);
        (last > 0).then(|| RoundTrip {
            last: Duration::from_micros(last),
            smoothed: Duration::from_micros(smoothed),
        })
    }

    /// The counters as they are now, with the two gauges the caller measures.
    pub(crate) fn snapshot(&self, queued_bytes: u64, calls_in_flight: u64) -> SessionCounters {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        SessionCounters {
            casts_sent: get(&self.casts_sent),
            calls_sent: get(&self.calls_sent),
            casts_received: get(&self.casts_received),
            calls_received: get(&self.calls_received),
            refused: get(&self.refused),
            overflowed: get(&self.overflowed),
            unknown_actor: get(&self.unknown_actor),
            undecodable: get(&self.undecodable),
            calls_in_flight,
            queued_bytes,
            inbox_bytes: 0,
            inbox_peak_bytes: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_trip_is_none_until_recorded_and_then_reads_back() {
        let stats = LinkStats::default();
        assert_eq!(stats.round_trip(), None);
        let rtt = RoundTrip {
            last: Duration::from_micros(1500),
            smoothed: Duration::from_micros(1200),
        };
        stats.record_round_trip(rtt);
        assert_eq!(stats.round_trip(), Some(rtt));
        // A round trip under a microsecond still reads as measured.
        stats.record_round_trip(RoundTrip {
            last: Duration::from_nanos(10),
            smoothed: Duration::from_nanos(10),
        });
        assert_eq!(
            stats.round_trip().map(|r| r.last),
            Some(Duration::from_micros(1))
        );
    }

    #[test]
    fn a_snapshot_shows_each_counter_in_its_own_field() {
        let stats = LinkStats::default();
        let fields: [&AtomicU64; 8] = [
            &stats.casts_sent,
            &stats.calls_sent,
            &stats.casts_received,
            &stats.calls_received,
            &stats.refused,
            &stats.unknown_actor,
            &stats.undecodable,
            &stats.overflowed,
        ];
        // Bump counter i (i + 1) times, so a swapped field shows.
        for (i, c) in fields.iter().enumerate() {
            for _ in 0..=i {
                bump(c);
            }
        }
        assert_eq!(
            stats.snapshot(10, 11),
            SessionCounters {
                casts_sent: 1,
                calls_sent: 2,
                casts_received: 3,
                calls_received: 4,
                refused: 5,
                unknown_actor: 6,
                undecodable: 7,
                overflowed: 8,
                queued_bytes: 10,
                calls_in_flight: 11,
                inbox_bytes: 0,
                inbox_peak_bytes: 0,
            }
        );
    }
}
