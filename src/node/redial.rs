//! Reconnecting: the addresses a node keeps sessions with, when to dial each
//! again, and when to give up.
//!
//! Owns the targets and their backoff; knows nothing of I/O or clocks. The
//! node server tells it what happened (a dial started, a session
//! authenticated or ended, a name resolved) and the time, and dials what it
//! says is due.

use std::{
    collections::{BTreeMap, HashMap},
    time::{Duration, Instant},
};

use super::{config::ReconnectConfig, info::SessionId};
use crate::{
    reason::{DisconnectCause, DisconnectReason},
    transport::{DialError, TlsConfig},
};

/// Where a watched address stands.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TargetState {
    /// A dial or a handshake is under way.
    Connecting,
    /// A session with the peer at this address is authenticated.
    Connected,
    /// The next dial is due in this long.
    Waiting {
        /// Time left until the next dial.
        retry_in: Duration,
    },
    /// A permanent refusal (bad cookie, version mismatch, this node
    /// itself): no more dials until someone asks again.
    GaveUp,
}

/// One address the node keeps a session with, as
/// [`list_targets`](crate::list_targets) reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TargetInfo {
    /// The address dialled.
    pub addr: String,
    /// The node last met there.
    pub peer: Option<String>,
    /// Where it stands.
    pub state: TargetState,
    /// Failed attempts since the last authenticated session.
    pub failures: u32,
    /// Why the last attempt failed or the last session ended.
    pub last_error: Option<String>,
    /// The DNS name it was resolved from, if any.
    pub resolved_from: Option<String>,
}

/// What the node should do after a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Next {
    /// Dial `addr` again after `delay` (the `failures`-th failure in a row).
    Retry {
        addr: String,
        delay: Duration,
        failures: u32,
    },
    /// Stop dialling `addr`: the failure is permanent.
    GiveUp { addr: String },
}

/// A session or a dial that ended.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ending<'a> {
    pub(crate) id: SessionId,
    /// The peer it was with, if named.
    pub(crate) peer: Option<&'a str>,
    /// Whether another session with the peer is still authenticated.
    pub(crate) peer_connected: bool,
    pub(crate) failure: Failure,
    /// Why it ended, for [`TargetInfo::last_error`].
    pub(crate) error: &'a str,
}

/// How an attempt or a session ended, as the backoff sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Worth another try later.
    Retryable,
    /// The same dial would be refused the same way.
    Permanent,
    /// This node ended it on purpose: the target is dropped.
    Deliberate,
}

impl Failure {
    /// How a session that ended for `reason` counts: a refusal the same
    /// dial would meet again is permanent; this node stopping it is
    /// deliberate; anything else (the peer stopped, froze, was cut off, or
    /// the link broke) is worth a retry.
    pub(crate) fn of_session(reason: &DisconnectReason) -> Self {
        match reason.cause {
            DisconnectCause::BadCookie
            | DisconnectCause::VersionMismatch
            | DisconnectCause::SelfConnection => Self::Permanent,
            DisconnectCause::Stopped if !reason.by_peer => Self::Deliberate,
            _ => Self::Retryable,
        }
    }

    /// How a dial that failed before any session counts: only an address
    /// that cannot be dialled at all is permanent.
    pub(crate) fn of_dial(error: &DialError) -> Self {
        match error {
            DialError::InvalidAddress { .. } => Self::Permanent,
            _ => Self::Retryable,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Dialing(SessionId),
    Up,
    Waiting(Instant),
    GaveUp,
}

#[derive(Debug, Clone)]
struct Target {
    tls: Option<TlsConfig>,
    peer: Option<String>,
    state: State,
    failures: u32,
    last_error: Option<String>,
    resolved_from: Option<String>,
}

/// See the module docs.
#[derive(Debug, Default)]
pub(crate) struct Redial {
    config: ReconnectConfig,
    targets: BTreeMap<String, Target>,
    /// Every dial in flight, watched or not: its address and TLS override,
    /// until its session authenticates or fails.
    dials: HashMap<SessionId, (String, Option<TlsConfig>)>,
    /// DNS names to resolve, with the TLS override their addresses get.
    names: BTreeMap<String, Option<TlsConfig>>,
}

impl Redial {
    pub(crate) fn new(config: ReconnectConfig) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    /// Keeps `addr` connected from now on. Returns whether to dial it now
    /// (it is new, or it had been given up).
    pub(crate) fn watch(&mut self, addr: &str, tls: Option<TlsConfig>, now: Instant) -> bool {
        self.watch_from(addr, tls, None, now)
    }

    fn watch_from(
        &mut self,
        addr: &str,
        tls: Option<TlsConfig>,
        resolved_from: Option<String>,
        now: Instant,
    ) -> bool {
        match self.targets.get_mut(addr) {
            Some(t) if t.state == State::GaveUp => {
                t.state = State::Waiting(now);
                t.failures = 0;
                true
            }
            Some(_) => false,
            None => {
                self.targets.insert(
                    addr.to_owned(),
                    Target {
                        tls,
                        peer: None,
                        state: State::Waiting(now),
                        failures: 0,
                        last_error: None,
                        resolved_from,
                    },
                );
                true
            }
        }
    }

    /// Keeps every address `name` resolves to connected; see [`Self::resolved`].
    pub(crate) fn watch_name(&mut self, name: &str, tls: Option<TlsConfig>) -> bool {
        self.names.insert(name.to_owned(), tls).is_none()
    }

    /// The DNS names to resolve.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.names.keys().map(String::as_str)
    }

    /// `name` resolved to `addrs`: new addresses are watched (and returned,
    /// to dial now); addresses it no longer resolves to are dropped unless
    /// connected.
    pub(crate) fn resolved(&mut self, name: &str, addrs: &[String], now: Instant) -> Vec<String> {
        let Some(tls) = self.names.get(name).cloned() else {
            return Vec::new();
        };
        self.targets.retain(|addr, t| {
            t.resolved_from.as_deref() != Some(name)
                || addrs.contains(addr)
                || matches!(t.state, State::Up | State::Dialing(_))
        });
        addrs
            .iter()
            .filter(|addr| self.watch_from(addr, tls.clone(), Some(name.to_owned()), now))
            .cloned()
            .collect()
    }

    /// A dial of `addr` started as session `id`, with `tls` instead of the
    /// node's TLS settings if given.
    pub(crate) fn dialing(&mut self, id: SessionId, addr: &str, tls: Option<TlsConfig>) {
        if let Some(t) = self.targets.get_mut(addr) {
            t.state = State::Dialing(id);
        }
        self.dials.insert(id, (addr.to_owned(), tls));
    }

    /// Session `id` authenticated with `peer`. A session this node dialled
    /// makes its address a target (when reconnecting is on); every target
    /// of that peer is connected.
    pub(crate) fn authenticated(&mut self, id: SessionId, peer: &str) {
        if let Some((addr, tls)) = self.dials.remove(&id)
            && self.config.enabled
        {
            self.targets.entry(addr).or_insert_with(|| Target {
                tls,
                peer: None,
                state: State::Dialing(id),
                failures: 0,
                last_error: None,
                resolved_from: None,
            });
        }
        for t in self.targets.values_mut() {
            let dialled_here = t.state == State::Dialing(id);
            if dialled_here || t.peer.as_deref() == Some(peer) {
                t.peer = Some(peer.to_owned());
                t.state = State::Up;
                t.failures = 0;
                t.last_error = None;
            }
        }
    }

    /// A session (or a dial) ended as `ending` says. `jitter` in `[0, 1)`
    /// spreads the retries.
    pub(crate) fn ended(&mut self, ending: &Ending<'_>, now: Instant, jitter: f64) -> Vec<Next> {
        let Ending {
            id,
            peer,
            peer_connected,
            failure,
            error,
        } = *ending;
        // A dial that lost to another session with the same peer (both
        // nodes dialled at once) still found the peer there: keep it.
        if let (Some((addr, tls)), Some(peer)) = (self.dials.remove(&id), peer)
            && peer_connected
        {
            self.keep_connected_peer(addr, tls, peer);
        }
        let config = self.config;
        let mut next = Vec::new();
        let mut dropped = Vec::new();
        for (addr, t) in &mut self.targets {
            let ours = t.state == State::Dialing(id)
                || (t.state == State::Up && peer.is_some() && t.peer.as_deref() == peer);
            if !ours {
                continue;
            }
            if peer_connected {
                t.state = State::Up;
                t.peer = peer.map(str::to_owned).or(t.peer.take());
                continue;
            }
            t.last_error = Some(error.to_owned());
            match failure {
                Failure::Deliberate => dropped.push(addr.clone()),
                Failure::Permanent => {
                    t.state = State::GaveUp;
                    next.push(Next::GiveUp { addr: addr.clone() });
                }
                Failure::Retryable => {
                    t.failures = t.failures.saturating_add(1);
                    let delay = backoff(&config, t.failures, jitter);
                    t.state = State::Waiting(now + delay);
                    next.push(Next::Retry {
                        addr: addr.clone(),
                        delay,
                        failures: t.failures,
                    });
                }
            }
        }
        for addr in dropped {
            self.targets.remove(&addr);
        }
        next
    }

    /// Keeps `addr`, where `peer` is connected (or connecting) already,
    /// connected from now on: when its session is lost it is dialled again.
    /// Nothing changes if `addr` is watched already or reconnecting is off.
    /// For an address reached without this node's dial: a dial that lost to
    /// the peer's own, or a peer an introduction named that had dialled this
    /// node first.
    pub(crate) fn keep_connected_peer(&mut self, addr: String, tls: Option<TlsConfig>, peer: &str) {
        if self.config.enabled {
            self.targets.entry(addr).or_insert_with(|| Target {
                tls,
                peer: Some(peer.to_owned()),
                state: State::Up,
                failures: 0,
                last_error: None,
                resolved_from: None,
            });
        }
    }

    /// Stops keeping `peer`'s addresses connected (an operator ended its
    /// session).
    pub(crate) fn forget_peer(&mut self, peer: &str) {
        self.targets.retain(|_, t| t.peer.as_deref() != Some(peer));
    }

    /// The targets due for a dial at `now`, with their TLS override. A
    /// target whose peer `connected` says is connected another way is marked
    /// connected instead.
    pub(crate) fn due(
        &mut self,
        now: Instant,
        connected: impl Fn(&str) -> bool,
    ) -> Vec<(String, Option<TlsConfig>)> {
        let mut out = Vec::new();
        for (addr, t) in &mut self.targets {
            let State::Waiting(at) = t.state else {
                continue;
            };
            if t.peer.as_deref().is_some_and(&connected) {
                t.state = State::Up;
            } else if at <= now {
                out.push((addr.clone(), t.tls.clone()));
            }
        }
        out
    }

    /// The target at `addr`, if any.
    pub(crate) fn info(&self, addr: &str, now: Instant) -> Option<TargetInfo> {
        self.targets
            .get_key_value(addr)
            .map(|(addr, t)| t.info(addr, now))
    }

    /// Every target, by address.
    pub(crate) fn snapshot(&self, now: Instant) -> Vec<TargetInfo> {
        self.targets
            .iter()
            .map(|(addr, t)| t.info(addr, now))
            .collect()
    }
}

impl Target {
    fn info(&self, addr: &str, now: Instant) -> TargetInfo {
        let t = self;
        TargetInfo {
            addr: addr.to_owned(),
            peer: t.peer.clone(),
            state: match t.state {
                State::Dialing(_) => TargetState::Connecting,
                State::Up => TargetState::Connected,
                State::Waiting(at) => TargetState::Waiting {
                    retry_in: at.saturating_duration_since(now),
                },
                State::GaveUp => TargetState::GaveUp,
            },
            failures: t.failures,
            last_error: t.last_error.clone(),
            resolved_from: t.resolved_from.clone(),
        }
    }
}

/// The wait before the `failures`-th retry in a row: the initial backoff,
/// doubled per failure, capped at the maximum, then spread over its upper
/// half by `jitter` (so peers that failed together do not retry together).
fn backoff(config: &ReconnectConfig, failures: u32, jitter: f64) -> Duration {
    let doublings = failures.saturating_sub(1).min(30);
    let base = config
        .initial_backoff
        .saturating_mul(1u32 << doublings)
        .min(config.max_backoff);
    base / 2 + base.mul_f64(jitter.clamp(0.0, 1.0) / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ReconnectConfig {
        ReconnectConfig {
            enabled: true,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            resolve_interval: Duration::from_secs(5),
        }
    }

    const ADDR: &str = "127.0.0.1:4000";

    /// A redial watching ADDR, dialled as session 1 and authenticated with
    /// node-b.
    fn connected() -> (Redial, Instant) {
        let now = Instant::now();
        let mut r = Redial::new(config());
        assert!(r.watch(ADDR, None, now));
        let due: Vec<String> = r.due(now, |_| false).into_iter().map(|(a, _)| a).collect();
        assert_eq!(due, [ADDR]);
        r.dialing(1, ADDR, None);
        r.authenticated(1, "node-b");
        (r, now)
    }

    fn ending<'a>(
        id: SessionId,
        peer: Option<&'a str>,
        peer_connected: bool,
        failure: Failure,
        error: &'a str,
    ) -> Ending<'a> {
        Ending {
            id,
            peer,
            peer_connected,
            failure,
            error,
        }
    }

    fn state(r: &Redial, now: Instant) -> TargetState {
        r.snapshot(now)[0].state.clone()
    }

    #[test]
    fn refusals_that_would_repeat_are_permanent_and_this_nodes_own_stop_deliberate() {
        let local = |cause| Failure::of_session(&DisconnectReason::local(cause, ""));
        let remote = |cause| {
            Failure::of_session(&DisconnectReason {
                by_peer: true,
                ..DisconnectReason::local(cause, "")
            })
        };
        for cause in [
            DisconnectCause::BadCookie,
            DisconnectCause::VersionMismatch,
            DisconnectCause::SelfConnection,
        ] {
            assert_eq!(
                (local(cause), remote(cause)),
                (Failure::Permanent, Failure::Permanent)
            );
        }
        assert_eq!(local(DisconnectCause::Stopped), Failure::Deliberate);
        // The peer stopping (a restart, say) is worth another dial.
        assert_eq!(remote(DisconnectCause::Stopped), Failure::Retryable);
        for cause in [
            DisconnectCause::HeartbeatTimeout,
            DisconnectCause::Transport,
        ] {
            assert_eq!(local(cause), Failure::Retryable);
        }
        let invalid = DialError::InvalidAddress {
            addr: "x".into(),
            detail: String::new(),
        };
        assert_eq!(Failure::of_dial(&invalid), Failure::Permanent);
        assert_eq!(Failure::of_dial(&DialError::Timeout), Failure::Retryable);
    }

    #[test]
    fn the_backoff_doubles_up_to_its_cap_and_jitter_spreads_its_upper_half() {
        let c = config();
        let ms = |failures, jitter| backoff(&c, failures, jitter).as_millis();
        assert_eq!([ms(1, 0.0), ms(2, 0.0), ms(3, 0.0)], [50, 100, 200]);
        assert_eq!([ms(1, 0.999), ms(2, 0.999)], [99, 199]);
        assert_eq!(ms(10, 0.0), 1000);
        assert_eq!(ms(u32::MAX, 1.0), 2000);
    }

    #[test]
    fn a_peer_met_without_a_dial_is_kept_and_dialled_again_when_lost() {
        let now = Instant::now();
        let mut r = Redial::new(config());
        // node-c dialled this node; an introduction then named it.
        r.keep_connected_peer(ADDR.into(), None, "node-c");
        assert_eq!(state(&r, now), TargetState::Connected);
        assert!(
            r.due(now, |_| false).is_empty(),
            "connected: nothing to dial"
        );
        let next = r.ended(
            &ending(7, Some("node-c"), false, Failure::Retryable, "restarted"),
            now,
            0.0,
        );
        assert!(
            matches!(next.as_slice(), [Next::Retry { addr, .. }] if addr == ADDR),
            "{next:?}"
        );
        // Off, nothing is kept.
        let mut off = Redial::new(ReconnectConfig {
            enabled: false,
            ..config()
        });
        off.keep_connected_peer(ADDR.into(), None, "node-c");
        assert!(off.snapshot(now).is_empty());
    }

    #[test]
    fn a_lost_session_is_dialled_again_later_and_again_after_each_failure() {
        let (mut r, now) = connected();
        assert_eq!(state(&r, now), TargetState::Connected);
        let next = r.ended(
            &ending(1, Some("node-b"), false, Failure::Retryable, "gone"),
            now,
            0.0,
        );
        assert_eq!(
            next,
            vec![Next::Retry {
                addr: ADDR.into(),
                delay: Duration::from_millis(50),
                failures: 1
            }]
        );
        assert!(r.due(now, |_| false).is_empty(), "not before the backoff");
        let later = now + Duration::from_millis(50);
        assert_eq!(r.due(later, |_| false).len(), 1);
        r.dialing(2, ADDR, None);
        let next = r.ended(
            &ending(2, None, false, Failure::Retryable, "refused"),
            later,
            0.0,
        );
        assert!(
            matches!(&next[..], [Next::Retry { failures: 2, delay, .. }] if delay.as_millis() == 100)
        );
        // Success resets the count.
        r.dialing(3, ADDR, None);
        r.authenticated(3, "node-b");
        let info = &r.snapshot(later)[0];
        assert_eq!((info.failures, info.last_error.as_deref()), (0, None));
    }

    #[test]
    fn a_permanent_refusal_gives_up_until_watched_again() {
        let (mut r, now) = connected();
        let next = r.ended(
            &ending(1, Some("node-b"), false, Failure::Permanent, "bad cookie"),
            now,
            0.5,
        );
        assert_eq!(next, vec![Next::GiveUp { addr: ADDR.into() }]);
        assert_eq!(state(&r, now), TargetState::GaveUp);
        assert!(r.due(now + Duration::from_secs(60), |_| false).is_empty());
        assert!(r.watch(ADDR, None, now), "asking again revives it");
        assert_eq!(r.due(now, |_| false).len(), 1);
    }

    #[test]
    fn losing_a_duplicate_session_while_the_peer_stays_connected_is_no_failure() {
        let (mut r, now) = connected();
        let next = r.ended(
            &ending(1, Some("node-b"), true, Failure::Retryable, "simultaneous"),
            now,
            0.0,
        );
        assert!(next.is_empty());
        assert_eq!(state(&r, now), TargetState::Connected);
        // The peer's session from the other side ends: now it is lost.
        let next = r.ended(
            &ending(7, Some("node-b"), false, Failure::Retryable, "timeout"),
            now,
            0.0,
        );
        assert_eq!(next.len(), 1);
    }

    #[test]
    fn a_due_target_whose_peer_is_connected_another_way_is_not_dialled() {
        let (mut r, now) = connected();
        r.ended(
            &ending(1, Some("node-b"), false, Failure::Retryable, "gone"),
            now,
            0.0,
        );
        let later = now + Duration::from_secs(1);
        assert!(r.due(later, |peer| peer == "node-b").is_empty());
        assert_eq!(state(&r, later), TargetState::Connected);
    }

    #[test]
    fn dialled_sessions_become_targets_only_when_reconnecting_is_on() {
        for enabled in [true, false] {
            let mut r = Redial::new(ReconnectConfig {
                enabled,
                ..config()
            });
            r.dialing(1, ADDR, None);
            r.authenticated(1, "node-b");
            assert_eq!(r.snapshot(Instant::now()).len(), usize::from(enabled));
        }
        // A dial that lost a simultaneous connect to the peer's own dial is
        // adopted: the peer was there.
        let mut r = Redial::new(config());
        r.dialing(1, ADDR, None);
        r.ended(
            &ending(1, Some("node-b"), true, Failure::Retryable, "simultaneous"),
            Instant::now(),
            0.0,
        );
        let targets = r.snapshot(Instant::now());
        assert_eq!(targets[0].state, TargetState::Connected);
        assert_eq!(targets[0].peer.as_deref(), Some("node-b"));
        // A dial that fails before authenticating is not adopted.
        let mut r = Redial::new(config());
        r.dialing(1, ADDR, None);
        let next = r.ended(
            &ending(1, None, false, Failure::Retryable, "refused"),
            Instant::now(),
            0.0,
        );
        assert!(next.is_empty());
        assert!(r.snapshot(Instant::now()).is_empty());
    }

    #[test]
    fn a_deliberate_end_or_forgetting_the_peer_drops_the_target() {
        let (mut r, now) = connected();
        assert!(
            r.ended(
                &ending(1, Some("node-b"), false, Failure::Deliberate, "stopped"),
                now,
                0.0
            )
            .is_empty()
        );
        assert!(r.snapshot(now).is_empty());
        let (mut r, now) = connected();
        r.forget_peer("node-b");
        assert!(r.snapshot(now).is_empty());
    }

    #[test]
    fn resolved_names_add_new_addresses_and_drop_vanished_idle_ones() {
        let now = Instant::now();
        let mut r = Redial::new(config());
        assert!(r.watch_name("nodes.svc:4000", None));
        let addrs = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let new = r.resolved(
            "nodes.svc:4000",
            &addrs(&["10.0.0.1:4000", "10.0.0.2:4000"]),
            now,
        );
        assert_eq!(new.len(), 2);
        r.dialing(1, "10.0.0.1:4000", None);
        r.authenticated(1, "node-1");
        // .2 vanished while idle, .1 is connected and stays, .3 is new.
        let new = r.resolved("nodes.svc:4000", &addrs(&["10.0.0.3:4000"]), now);
        assert_eq!(new, addrs(&["10.0.0.3:4000"]));
        let left: Vec<String> = r.snapshot(now).into_iter().map(|t| t.addr).collect();
        assert_eq!(left, addrs(&["10.0.0.1:4000", "10.0.0.3:4000"]));
        assert!(
            r.resolved("unknown:1", &addrs(&["10.0.0.9:1"]), now)
                .is_empty()
        );
    }
}
