//! Traffic counters of a session: the atomics the hot path bumps and the
//! snapshot users read.
//!
//! A leaf: proxies, the reader and reply tasks count into [`LinkStats`]
//! without locks; `list_sessions` and ListPeers show a [`SessionCounters`]
//! snapshot. Nothing here knows where the numbers come from.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
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
    /// Messages refused because the session had ended (the sender was told).
    pub refused: u64,
    /// Casts for actors this node does not advertise (dropped and logged).
    pub unknown_actor: u64,
    /// Casts whose payload did not decode at the target (dropped and logged).
    pub undecodable: u64,
    /// Calls sent and not yet answered.
    pub calls_in_flight: u64,
    /// Bytes of envelopes queued towards the peer right now.
    pub queued_bytes: u64,
}

/// The counters of one session that only ever grow, readable at any time.
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
    pub(crate) undecodable: Arc<AtomicU64>,
}

/// Adds one to `counter`.
pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl LinkStats {
    /// The counters as they are now, with the two gauges the caller measures.
    pub(crate) fn snapshot(&self, queued_bytes: u64, calls_in_flight: u64) -> SessionCounters {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        SessionCounters {
            casts_sent: get(&self.casts_sent),
            calls_sent: get(&self.calls_sent),
            casts_received: get(&self.casts_received),
            calls_received: get(&self.calls_received),
            refused: get(&self.refused),
            unknown_actor: get(&self.unknown_actor),
            undecodable: get(&self.undecodable),
            calls_in_flight,
            queued_bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_shows_each_counter_in_its_own_field() {
        let stats = LinkStats::default();
        let fields: [&AtomicU64; 7] = [
            &stats.casts_sent,
            &stats.calls_sent,
            &stats.casts_received,
            &stats.calls_received,
            &stats.refused,
            &stats.unknown_actor,
            &stats.undecodable,
        ];
        // Bump counter i (i + 1) times, so a swapped field shows.
        for (i, c) in fields.iter().enumerate() {
            for _ in 0..=i {
                bump(c);
            }
        }
        assert_eq!(
            stats.snapshot(8, 9),
            SessionCounters {
                casts_sent: 1,
                calls_sent: 2,
                casts_received: 3,
                calls_received: 4,
                refused: 5,
                unknown_actor: 6,
                undecodable: 7,
                queued_bytes: 8,
                calls_in_flight: 9,
            }
        );
    }
}
