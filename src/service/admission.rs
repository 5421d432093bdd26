//! Admission of Session streams from strangers: a cap on streams that have
//! not authenticated yet, and a handshake rate per source address.
//!
//! Owns the permits and the per-source buckets; a refused stream gets
//! RESOURCE_EXHAUSTED before any session exists. Authenticated sessions hold
//! no permit, so a flood of strangers never starves the cluster's own links.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex},
    time::Instant,
};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::Status;

use crate::node::HandshakeLimits;

/// How many sources the rate limiter remembers before it forgets the idle
/// ones; past twice this, new sources are refused until some go idle.
const REMEMBERED_SOURCES: usize = 4096;

/// See the module docs.
#[derive(Debug)]
pub(super) struct Admission {
    limits: HandshakeLimits,
    unauthenticated: Arc<Semaphore>,
    rates: Mutex<SourceRates>,
}

impl Admission {
    pub(super) fn new(limits: HandshakeLimits) -> Self {
        Self {
            limits,
            unauthenticated: Arc::new(Semaphore::new(limits.max_unauthenticated)),
            rates: Mutex::new(SourceRates::default()),
        }
    }

    /// Admits a Session stream from `source`, or says why not. The permit
    /// counts the stream as unauthenticated until it is dropped.
    pub(super) fn admit(&self, source: Option<IpAddr>) -> Result<OwnedSemaphorePermit, Status> {
        if let Some(ip) = source {
            let allowed = self
                .rates
                .lock()
                .map(|mut rates| rates.allow(ip, &self.limits, Instant::now()))
                .unwrap_or(true);
            if !allowed {
                return Err(Status::resource_exhausted(format!(
                    "too many handshakes from {ip} (at most {} a second, bursts of {}): try \
                     again later",
                    self.limits.per_source_per_second, self.limits.per_source_burst
                )));
            }
        }
        self.unauthenticated
            .clone()
            .try_acquire_owned()
            .map_err(|_| {
                Status::resource_exhausted(format!(
                    "too many sessions still in their handshake (at most {}): try again later",
                    self.limits.max_unauthenticated
                ))
            })
    }
}

/// A token bucket per source address: `per_source_burst` handshakes at
/// once, refilled at `per_source_per_second`.
#[derive(Debug, Default)]
struct SourceRates {
    buckets: HashMap<IpAddr, Bucket>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl SourceRates {
    /// Whether `ip` may start a handshake at `now` (taking a token if so).
    fn allow(&mut self, ip: IpAddr, limits: &HandshakeLimits, now: Instant) -> bool {
        let burst = f64::from(limits.per_source_burst);
        let rate = f64::from(limits.per_source_per_second);
        if self.buckets.len() >= REMEMBERED_SOURCES && !self.buckets.contains_key(&ip) {
            // A full bucket is an idle source: forgetting it changes nothing.
            self.buckets
                .retain(|_, b| b.refilled(rate, burst, now).tokens < burst);
            if self.buckets.len() >= 2 * REMEMBERED_SOURCES {
                return false;
            }
        }
        let bucket = self.buckets.entry(ip).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        *bucket = bucket.refilled(rate, burst, now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

impl Bucket {
    fn refilled(self, rate: f64, burst: f64, now: Instant) -> Self {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        Self {
            tokens: (self.tokens + elapsed * rate).min(burst),
            at: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{net::Ipv4Addr, time::Duration};

    use super::*;

    fn limits(per_second: u32, burst: u32) -> HandshakeLimits {
        HandshakeLimits {
            max_unauthenticated: 2,
            per_source_per_second: per_second,
            per_source_burst: burst,
        }
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
    }

    #[test]
    fn a_source_gets_its_burst_then_its_rate() {
        let l = limits(2, 3);
        let mut rates = SourceRates::default();
        let t0 = Instant::now();
        let allowed: Vec<bool> = (0..4).map(|_| rates.allow(ip(1), &l, t0)).collect();
        assert_eq!(allowed, [true, true, true, false]);
        // Another source has a bucket of its own.
        assert!(rates.allow(ip(2), &l, t0));
        // Half a second refills one token at 2 a second, and no more.
        let t1 = t0 + Duration::from_millis(500);
        assert!(rates.allow(ip(1), &l, t1));
        assert!(!rates.allow(ip(1), &l, t1));
        // A long pause refills up to the burst only.
        let t2 = t1 + Duration::from_secs(60);
        let allowed = (0..4).filter(|_| rates.allow(ip(1), &l, t2)).count();
        assert_eq!(allowed, 3);
    }

    #[test]
    fn idle_sources_are_forgotten_and_the_table_stays_bounded() {
        let l = limits(1, 1);
        let mut rates = SourceRates::default();
        let t0 = Instant::now();
        let v6 = |n: u32| IpAddr::from(u128::from(n).to_be_bytes());
        for n in 0..REMEMBERED_SOURCES as u32 {
            assert!(rates.allow(v6(n), &l, t0));
        }
        // A second later every bucket is full again: all are forgotten to
        // make room.
        assert!(rates.allow(ip(1), &l, t0 + Duration::from_secs(1)));
        assert_eq!(rates.buckets.len(), 1);
        // Sources that stay busy are kept; past twice the bound new ones
        // wait.
        for n in 0..2 * REMEMBERED_SOURCES as u32 {
            rates.allow(v6(n), &l, t0 + Duration::from_secs(2));
        }
        assert!(rates.buckets.len() <= 2 * REMEMBERED_SOURCES);
        assert!(!rates.allow(ip(9), &l, t0 + Duration::from_secs(2)));
    }

    #[test]
    fn the_unauthenticated_cap_refuses_with_resource_exhausted_and_frees_on_drop() {
        let admission = Admission::new(limits(100, 100));
        let first = admission.admit(Some(ip(1))).expect("one");
        let _second = admission.admit(Some(ip(2))).expect("two");
        let refused = admission.admit(Some(ip(3))).expect_err("over the cap");
        assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
        assert!(refused.message().contains("at most 2"), "{refused:?}");
        drop(first);
        assert!(admission.admit(Some(ip(3))).is_ok());
    }
}
