//! The session lifecycle as a state machine that does no I/O.
//!
//! One machine per Session stream. It takes the peer's frames, the end of
//! the peer's half of the stream, and local requests (the node server's
//! verdict on a claim, the sync snapshot, advertisement changes, a close,
//! the handshake deadline, the clock's ticks), and answers each with
//! [`Action`]s for its drivers to carry out. It holds every protocol rule of
//! a session: the handshake order (through [`crate::auth`]'s handshake
//! states), what may arrive in sync and after Ready, when the session is
//! ready, the heartbeat (when to Ping, when a silent peer is down), and how
//! it ends and with which farewell. Time comes in as an argument; the
//! machine never reads a clock.
//!
//! ```text
//! acceptor: AwaitHello -> AwaitProof -> Claiming -> Syncing -> Ready
//! dialer:   AwaitChallenge -> Claiming -> AwaitWelcome -> Syncing -> Ready
//! any state -> Closed (Goodbye, a violation, a refusal, the deadline, the
//!                      stream's end, or a local close)
//! ```
//!
//! It owns no sockets, tasks, timers or actors and must not: the reader task
//! feeds it frames and carries out `Send` and `Deliver` itself; the session
//! actor feeds it local requests and carries out the rest.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use tonic::{Code, Status};

use crate::{
    auth::{
        self, AwaitChallenge, AwaitHello, AwaitProof, AwaitWelcome, ChallengeReceived,
        HandshakeError, Local, Nonce, PING_VERSION, Peer, ProofVerified,
    },
    counters::RoundTrip,
    node::config::HeartbeatConfig,
    pb::{self, envelope::Body},
    reason::{CAUSE_METADATA_KEY, DisconnectCause, DisconnectReason, status_detail},
    registry::AdvertBody,
    remote_actor::Traffic,
    transport::{Direction, Farewell},
};

/// Most entries a PeerList may carry.
pub(crate) const MAX_PEER_LIST: usize = 1024;

/// What a driver must do.
#[derive(Debug)]
pub(crate) enum Action {
    /// Send this envelope to the peer, on the control lane (never waits).
    Send(pb::Envelope),
    /// Ask the node server whether a session with this peer may go on, and
    /// answer with [`SessionMachine::claimed`] before feeding anything else.
    Claim(Peer),
    /// Both sides proved the cookie: report it (the node server answers
    /// with the snapshot for [`SessionMachine::sync`]).
    Authenticated(Peer),
    /// The peer's actors or groups changed: apply it to the mirror.
    Advert(AdvertBody),
    /// A message for a local actor, or an answer to a local call: deliver it.
    Deliver(Traffic),
    /// The peer named nodes it is connected to (transitive mode).
    Peers(Vec<pb::KnownPeer>),
    /// The peer's Ready arrived: once everything before it is carried out
    /// (its snapshot applied), take it with [`SessionMachine::peer_ready`].
    PeerReady,
    /// Both sides sent and received Ready: report the session ready.
    Ready,
    /// A Pong came back: record the round trip.
    RoundTrip(RoundTrip),
    /// End the session for `reason`: send `farewell` (if any) after what is
    /// queued, fail calls in flight, stop the proxies, report, stop. Comes
    /// exactly once, last.
    Close {
        /// Why it ends.
        reason: DisconnectReason,
        /// The last thing the peer hears.
        farewell: Farewell,
    },
}

/// Where a session is in its handshake, sync or traffic.
#[derive(Debug)]
enum Phase {
    AwaitHello(AwaitHello),
    AwaitProof(AwaitProof),
    AwaitChallenge(AwaitChallenge),
    AwaitWelcome(AwaitWelcome),
    /// The dialer knows who the acceptor claims to be; the node decides.
    ClaimAsDialer(ChallengeReceived),
    /// The acceptor verified the dialer's proof; the node decides.
    ClaimAsAcceptor(ProofVerified),
    /// Authenticated; waiting for our snapshot (from the node server) and the
    /// peer's Ready, in either order. The peer's Ready is *seen* when it
    /// arrives and *taken* when the driver has carried out everything that
    /// came before it ([`Action::PeerReady`]).
    Syncing {
        sent_ready: bool,
        ready_seen: bool,
        got_ready: bool,
    },
    Ready,
    Closed,
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct SessionMachine {
    direction: Direction,
    phase: Phase,
    /// Set by the one close; `phase` is `Closed` from then on.
    ended: bool,
    /// For the text of a handshake timeout.
    handshake_timeout: Duration,
    liveness: Liveness,
}

/// The heartbeat of an authenticated session.
#[derive(Debug)]
struct Liveness {
    heartbeat: HeartbeatConfig,
    /// Pinging and watching: the session is authenticated at a version
    /// with Ping.
    on: bool,
    /// When the peer's last frame arrived.
    last_heard: Option<Instant>,
    /// The reader is holding back (this node's actors are behind): the
    /// peer's silence is ours, not a sign it is down.
    held_back: bool,
    /// When to send the next Ping (`None`: at the next tick).
    next_ping: Option<Instant>,
    /// The last Ping sent and not yet answered: its seq and when it left.
    outstanding: Option<(u64, Instant)>,
    seq: u64,
    smoothed: Option<Duration>,
}

impl Liveness {
    fn new(heartbeat: HeartbeatConfig) -> Self {
        Self {
            heartbeat,
            on: false,
            last_heard: None,
            held_back: false,
            next_ping: None,
            outstanding: None,
            seq: 0,
            smoothed: None,
        }
    }
}

fn violation(detail: impl Into<String>) -> DisconnectReason {
    DisconnectReason::local(DisconnectCause::ProtocolViolation, detail)
}

fn handshake_failed(e: &HandshakeError) -> DisconnectReason {
    DisconnectReason::local(e.cause(), e.to_string())
}

impl SessionMachine {
    /// A session this node serves: it waits for the dialer's Hello.
    pub(crate) fn accept(
        local: Arc<Local>,
        nonce: Nonce,
        handshake_timeout: Duration,
        heartbeat: HeartbeatConfig,
    ) -> Self {
        Self {
            direction: Direction::Inbound,
            phase: Phase::AwaitHello(AwaitHello::new(local, nonce)),
            ended: false,
            handshake_timeout,
            liveness: Liveness::new(heartbeat),
        }
    }

    /// A session this node opened: it says Hello first.
    pub(crate) fn dial(
        local: Arc<Local>,
        nonce: Nonce,
        handshake_timeout: Duration,
        heartbeat: HeartbeatConfig,
        out: &mut Vec<Action>,
    ) -> Self {
        let (state, hello) = AwaitChallenge::start(local, nonce);
        out.push(Action::Send(hello));
        Self {
            direction: Direction::Outbound,
            phase: Phase::AwaitChallenge(state),
            ended: false,
            handshake_timeout,
            liveness: Liveness::new(heartbeat),
        }
    }

    /// Whether the session has ended.
    pub(crate) fn is_closed(&self) -> bool {
        self.ended
    }

    /// Whether both sides are ready.
    #[cfg(test)]
    pub(crate) fn is_ready(&self) -> bool {
        matches!(self.phase, Phase::Ready)
    }

    /// A frame from the peer, arrived at `now`: its envelopes, in order.
    pub(crate) fn on_frame(&mut self, frame: pb::Frame, now: Instant, out: &mut Vec<Action>) {
        if self.is_closed() {
            return;
        }
        self.liveness.last_heard = Some(now);
        if frame.envelopes.is_empty() {
            return self.close(violation("empty frame"), out);
        }
        for envelope in frame.envelopes {
            self.on_envelope(envelope, now, out);
            if self.is_closed() {
                return;
            }
        }
    }

    fn on_envelope(&mut self, env: pb::Envelope, now: Instant, out: &mut Vec<Action>) {
        if let Some(Body::Goodbye(goodbye)) = &env.body {
            return self.close(DisconnectReason::from_goodbye(goodbye), out);
        }
        match std::mem::replace(&mut self.phase, Phase::Closed) {
            Phase::AwaitHello(s) => match s.on_envelope(env) {
                Ok((next, challenge)) => {
                    out.push(Action::Send(challenge));
                    self.phase = Phase::AwaitProof(next);
                }
                Err(e) => self.close(handshake_failed(&e), out),
            },
            Phase::AwaitProof(s) => match s.on_envelope(env) {
                Ok(verified) => {
                    out.push(Action::Claim(verified.peer().clone()));
                    self.phase = Phase::ClaimAsAcceptor(verified);
                }
                Err(e) => self.close(handshake_failed(&e), out),
            },
            Phase::AwaitChallenge(s) => match s.on_envelope(env) {
                Ok(received) => {
                    out.push(Action::Claim(received.peer().clone()));
                    self.phase = Phase::ClaimAsDialer(received);
                }
                Err(e) => self.close(handshake_failed(&e), out),
            },
            Phase::AwaitWelcome(s) => match s.on_envelope(env) {
                Ok(auth) => self.authenticated(auth.peer, out),
                Err(e) => self.close(handshake_failed(&e), out),
            },
            // The peer waits for our Proof or Welcome; it has nothing to say.
            Phase::ClaimAsDialer(_) | Phase::ClaimAsAcceptor(_) => {
                let kind = auth::kind(&env);
                self.close(
                    violation(format!("unexpected {kind} before the handshake finished")),
                    out,
                );
            }
            Phase::Syncing {
                sent_ready,
                ready_seen,
                got_ready,
            } => {
                let first_ready = matches!(env.body, Some(Body::Ready(_))) && !ready_seen;
                self.phase = Phase::Syncing {
                    sent_ready,
                    ready_seen: ready_seen || first_ready,
                    got_ready,
                };
                if first_ready {
                    out.push(Action::PeerReady);
                } else {
                    // The peer may already send traffic: its own actors may
                    // react to our snapshot before our Ready is out.
                    self.traffic(env, now, "sync", out);
                }
            }
            Phase::Ready => {
                self.phase = Phase::Ready;
                self.traffic(env, now, "traffic", out);
            }
            Phase::Closed => {}
        }
    }

    /// After authentication: adverts, messages, answers and peer lists.
    fn traffic(&mut self, env: pb::Envelope, now: Instant, during: &str, out: &mut Vec<Action>) {
        let action = match env.body {
            Some(Body::Ping(p)) if self.liveness.on => {
                Action::Send(Body::Pong(pb::Pong { seq: p.seq }).into())
            }
            Some(Body::Pong(p)) if self.liveness.on => match self.pong(p.seq, now) {
                Some(rtt) => Action::RoundTrip(rtt),
                // The answer to a Ping a later one replaced.
                None => return,
            },
            Some(Body::Cast(c)) => Action::Deliver(Traffic::Cast(c)),
            Some(Body::Call(c)) => Action::Deliver(Traffic::Call(c)),
            Some(Body::CallReply(r)) => Action::Deliver(Traffic::Reply(r)),
            Some(Body::CallError(e)) => Action::Deliver(Traffic::Error(e)),
            Some(Body::Spawned(b)) => Action::Advert(AdvertBody::Spawned(b)),
            Some(Body::Terminated(b)) => Action::Advert(AdvertBody::Terminated(b)),
            Some(Body::PgJoined(b)) => Action::Advert(AdvertBody::PgJoined(b)),
            Some(Body::PgLeft(b)) => Action::Advert(AdvertBody::PgLeft(b)),
            Some(Body::Peers(list)) if list.peers.len() > MAX_PEER_LIST => {
                let detail = format!("a PeerList longer than {MAX_PEER_LIST} entries");
                return self.close(violation(detail), out);
            }
            Some(Body::Peers(list)) => Action::Peers(list.peers),
            body => {
                let kind = auth::kind(&pb::Envelope { body });
                return self.close(violation(format!("unexpected {kind} during {during}")), out);
            }
        };
        out.push(action);
    }

    /// The node server's answer to [`Action::Claim`]: go on, or refuse.
    pub(crate) fn claimed(&mut self, verdict: Result<(), DisconnectReason>, out: &mut Vec<Action>) {
        if let Err(reason) = verdict {
            return self.close(reason, out);
        }
        match std::mem::replace(&mut self.phase, Phase::Closed) {
            Phase::ClaimAsDialer(received) => {
                let (next, proof) = received.prove();
                out.push(Action::Send(proof));
                self.phase = Phase::AwaitWelcome(next);
            }
            Phase::ClaimAsAcceptor(verified) => {
                let (auth, welcome) = verified.welcome();
                out.push(Action::Send(welcome));
                self.authenticated(auth.peer, out);
            }
            // No claim was asked, or the session ended meanwhile.
            other => self.phase = other,
        }
    }

    fn authenticated(&mut self, peer: Peer, out: &mut Vec<Action>) {
        self.liveness.on = peer.version >= PING_VERSION;
        out.push(Action::Authenticated(peer));
        self.phase = Phase::Syncing {
            sent_ready: false,
            ready_seen: false,
            got_ready: false,
        };
    }

    /// The node server's snapshot of this node's actors and groups: sent,
    /// then Ready. Only once, and only after authentication.
    pub(crate) fn sync(&mut self, snapshot: Vec<pb::Envelope>, out: &mut Vec<Action>) {
        let Phase::Syncing {
            sent_ready: false,
            ready_seen,
            got_ready,
        } = self.phase
        else {
            return;
        };
        out.extend(snapshot.into_iter().map(Action::Send));
        out.push(Action::Send(Body::Ready(pb::Ready {}).into()));
        self.phase = Phase::Syncing {
            sent_ready: true,
            ready_seen,
            got_ready,
        };
        self.maybe_ready(out);
    }

    /// The driver carried out everything the peer sent before its Ready:
    /// take the Ready.
    pub(crate) fn peer_ready(&mut self, out: &mut Vec<Action>) {
        if let Phase::Syncing {
            sent_ready,
            ready_seen: true,
            got_ready: false,
        } = self.phase
        {
            self.phase = Phase::Syncing {
                sent_ready,
                ready_seen: true,
                got_ready: true,
            };
            self.maybe_ready(out);
        }
    }

    fn maybe_ready(&mut self, out: &mut Vec<Action>) {
        if let Phase::Syncing {
            sent_ready: true,
            got_ready: true,
            ..
        } = self.phase
        {
            self.phase = Phase::Ready;
            out.push(Action::Ready);
        }
    }

    /// Envelopes the node server sends the peer (advertisement changes, peer
    /// lists). Nothing goes out before authentication or after the end.
    pub(crate) fn send(&mut self, envelopes: Vec<pb::Envelope>, out: &mut Vec<Action>) {
        if matches!(self.phase, Phase::Syncing { .. } | Phase::Ready) {
            out.extend(envelopes.into_iter().map(Action::Send));
        }
    }

    /// The reader stops (`true`) or starts again reading at `now`, holding
    /// back for this node's actors to catch up. Meanwhile the peer's frames
    /// wait unread, so its silence does not count; the timeout starts again
    /// when reading does.
    pub(crate) fn hold_back(&mut self, held: bool, now: Instant) {
        let l = &mut self.liveness;
        l.held_back = held;
        if !held && l.last_heard.is_some() {
            l.last_heard = Some(now);
        }
    }

    /// The clock reads `now`: a peer silent past the heartbeat timeout is
    /// down (unless the reader is holding back); otherwise a Ping goes out
    /// when one is due.
    pub(crate) fn tick(&mut self, now: Instant, out: &mut Vec<Action>) {
        let l = &mut self.liveness;
        if self.ended || !l.on {
            return;
        }
        let timeout = l.heartbeat.timeout;
        if !l.held_back
            && let Some(heard) = l.last_heard
            && now.saturating_duration_since(heard) > timeout
        {
            let detail = format!(
                "nothing from the peer for {} ms (the heartbeat timeout)",
                now.saturating_duration_since(heard).as_millis()
            );
            let reason = DisconnectReason::local(DisconnectCause::HeartbeatTimeout, detail);
            return self.close(reason, out);
        }
        // Ticks come at a fixed period and are handled a little late or
        // early: ping at the tick nearest the due time, so a Ping is never
        // a whole tick late (nor skipped) for a few microseconds.
        let slack = l.heartbeat.tick() / 2;
        if l.next_ping.is_none_or(|due| now + slack >= due) {
            l.seq += 1;
            l.outstanding = Some((l.seq, now));
            l.next_ping = now.checked_add(l.heartbeat.interval);
            out.push(Action::Send(Body::Ping(pb::Ping { seq: l.seq }).into()));
        }
    }

    /// The round trip the Pong for `seq` closes, if it answers the Ping in
    /// flight.
    fn pong(&mut self, seq: u64, now: Instant) -> Option<RoundTrip> {
        let l = &mut self.liveness;
        let (sent_seq, sent_at) = l.outstanding?;
        if sent_seq != seq {
            return None;
        }
        l.outstanding = None;
        let last = now.saturating_duration_since(sent_at);
        let smoothed = match l.smoothed {
            Some(s) => (s * 7 + last) / 8,
            None => last,
        };
        l.smoothed = Some(smoothed);
        Some(RoundTrip { last, smoothed })
    }

    /// The handshake deadline passed: a session not yet ready ends.
    pub(crate) fn deadline(&mut self, out: &mut Vec<Action>) {
        if self.ended || matches!(self.phase, Phase::Ready) {
            return;
        }
        let detail = format!(
            "the handshake did not finish within {} ms",
            self.handshake_timeout.as_millis()
        );
        self.close(
            DisconnectReason::local(DisconnectCause::HandshakeTimeout, detail),
            out,
        );
    }

    /// The peer's half of the stream ended, cleanly or with `status`.
    pub(crate) fn inbound_ended(&mut self, status: Option<Status>, out: &mut Vec<Action>) {
        let reason = inbound_ended_reason(self.direction, status);
        self.close(reason, out);
    }

    /// Ends the session for `reason` (once; later closes change nothing).
    pub(crate) fn close(&mut self, reason: DisconnectReason, out: &mut Vec<Action>) {
        if self.ended {
            return;
        }
        self.ended = true;
        self.phase = Phase::Closed;
        let farewell = farewell(self.direction, &reason);
        out.push(Action::Close { reason, farewell });
    }
}

/// What the peer hears last when this node ends a session: an acceptor ends
/// a refused stream with a status (what gRPC clients, grpcurl among them,
/// understand); otherwise a Goodbye. Nothing when the peer ended it.
fn farewell(direction: Direction, reason: &DisconnectReason) -> Farewell {
    if reason.by_peer {
        return None;
    }
    Some(match direction {
        Direction::Inbound if reason.cause != DisconnectCause::Stopped => Err(reason.to_status()),
        _ => Ok(pb::Frame::from(vec![
            Body::Goodbye(reason.to_goodbye()).into(),
        ])),
    })
}

/// Why a session ended when the peer's half of the stream did.
fn inbound_ended_reason(direction: Direction, status: Option<Status>) -> DisconnectReason {
    let Some(status) = status else {
        return DisconnectReason::peer(
            DisconnectCause::Transport,
            "the peer closed the stream without a goodbye",
        );
    };
    let decode_error = matches!(
        status.code(),
        Code::Internal | Code::OutOfRange | Code::ResourceExhausted | Code::DataLoss
    );
    let has_cause = status.metadata().get(CAUSE_METADATA_KEY).is_some();
    let bad_frame = || {
        DisconnectReason::local(
            DisconnectCause::ProtocolViolation,
            format!("bad frame from the peer: {}", status.message()),
        )
    };
    match direction {
        // An acceptor's read fails only for the transport or a frame it
        // could not decode (too large, not protobuf).
        Direction::Inbound if decode_error => bad_frame(),
        Direction::Inbound => {
            DisconnectReason::peer(DisconnectCause::Transport, status_detail(&status))
        }
        // A dialer's stream ends with the acceptor's status, which names its
        // cause; a decode error without one is ours.
        Direction::Outbound if decode_error && !has_cause => bad_frame(),
        Direction::Outbound => DisconnectReason::from_status(&status),
    }
}

#[cfg(any(test, feature = "fuzz"))]
pub(super) mod harness;
#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;
