//! The session machine driven without I/O: two machines wired to each other
//! by a bounded stepping harness that plays both drivers (it answers claims
//! and syncs at once), then hand-written, out-of-order and garbage input.

use std::collections::VecDeque;

use rand::{Rng, SeedableRng, rngs::StdRng};

use super::*;
use crate::auth::Cookie;
use crate::node::config::HeartbeatConfig;

const COOKIE: &str = "the cluster cookie";
const TIMEOUT: Duration = Duration::from_millis(1500);

/// The heartbeat of every side in these tests.
const HEARTBEAT: HeartbeatConfig = HeartbeatConfig {
    interval: Duration::from_secs(1),
    timeout: Duration::from_secs(3),
};

fn local(name: &str, incarnation: u64, cookie: &str) -> Arc<Local> {
    local_with(name, incarnation, cookie, 2)
}

/// A node that speaks protocol versions 1 to `max_version`.
fn local_with(name: &str, incarnation: u64, cookie: &str, max_version: u32) -> Arc<Local> {
    Arc::new(Local {
        name: name.to_owned(),
        incarnation,
        listen_addr: format!("127.0.0.1:{}", 4000 + incarnation),
        cookie: Cookie::from(cookie),
        min_version: 1,
        max_version,
    })
}

fn spawned(pid: u64) -> pb::Envelope {
    Body::Spawned(pb::ActorSpawned {
        actor: Some(pb::ActorRef {
            pid,
            name: format!("actor-{pid}"),
            message_type: String::new(),
            message: None,
        }),
    })
    .into()
}

fn cast(to: u64) -> pb::Envelope {
    Body::Cast(pb::Cast {
        to,
        variant: "V".into(),
        args: vec![],
        traceparent: String::new(),
    })
    .into()
}

fn frame(envelopes: Vec<pb::Envelope>) -> pb::Frame {
    pb::Frame::from(envelopes)
}

/// How a farewell looks to the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Last {
    Nothing,
    Goodbye(DisconnectCause),
    Status(Code),
}

/// An action other than Send, reduced to what the tests compare.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Claim(String),
    Authenticated(String),
    Advert(u64),
    Deliver(&'static str),
    Peers(usize),
    PeerReady,
    Ready,
    RoundTrip(Duration, Duration),
    Close(DisconnectCause, bool, Last),
}

fn last(farewell: &Farewell) -> Last {
    match farewell {
        None => Last::Nothing,
        Some(Err(status)) => Last::Status(status.code()),
        Some(Ok(frame)) => match frame.envelopes.as_slice() {
            [
                pb::Envelope {
                    body: Some(Body::Goodbye(g)),
                },
            ] => Last::Goodbye(
                DisconnectCause::from_wire(&g.cause).unwrap_or(DisconnectCause::Transport),
            ),
            other => panic!("a farewell frame is one Goodbye, got {other:?}"),
        },
    }
}

/// One side: its machine, what its node answers, and what it did.
struct Side {
    machine: SessionMachine,
    /// What this side's node answers a claim with.
    verdict: Result<(), DisconnectReason>,
    /// What this side's node syncs once authenticated (`None`: never).
    snapshot: Option<Vec<pb::Envelope>>,
    /// Leave claims unanswered (the node has not decided yet).
    hold_claims: bool,
    /// Leave the peer's Ready untaken (the driver is still applying what
    /// came before it).
    hold_peer_ready: bool,
    seen: Vec<Seen>,
    outbox: VecDeque<pb::Envelope>,
    /// This side's clock, moved by the tests.
    now: Instant,
}

impl Side {
    fn new(machine: SessionMachine, out: Vec<Action>) -> Self {
        let mut side = Self {
            machine,
            verdict: Ok(()),
            snapshot: Some(Vec::new()),
            hold_claims: false,
            hold_peer_ready: false,
            seen: Vec::new(),
            outbox: VecDeque::new(),
            now: Instant::now(),
        };
        side.run(out);
        side
    }

    fn acceptor(local: Arc<Local>) -> Self {
        Self::new(
            SessionMachine::accept(local, [2; 32], TIMEOUT, HEARTBEAT),
            Vec::new(),
        )
    }

    fn dialer(local: Arc<Local>) -> Self {
        let mut out = Vec::new();
        let machine = SessionMachine::dial(local, [1; 32], TIMEOUT, HEARTBEAT, &mut out);
        Self::new(machine, out)
    }

    /// Carries out `actions` as the drivers do; claims and syncs are
    /// answered at once.
    fn run(&mut self, actions: Vec<Action>) {
        let mut work = VecDeque::from(actions);
        while let Some(action) = work.pop_front() {
            let mut more = Vec::new();
            match action {
                Action::Send(e) => self.outbox.push_back(e),
                Action::Claim(peer) => {
                    self.seen.push(Seen::Claim(peer.name));
                    if !self.hold_claims {
                        self.machine.claimed(self.verdict.clone(), &mut more);
                    }
                }
                Action::Authenticated(peer) => {
                    self.seen.push(Seen::Authenticated(peer.name));
                    if let Some(snapshot) = self.snapshot.take() {
                        self.machine.sync(snapshot, &mut more);
                    }
                }
                Action::Advert(AdvertBody::Spawned(s)) => {
                    self.seen.push(Seen::Advert(s.actor.map_or(0, |a| a.pid)));
                }
                // Terminated, PgJoined, PgLeft: the tests name them by pid 0.
                Action::Advert(_) => self.seen.push(Seen::Advert(0)),
                Action::Deliver(t) => self.seen.push(Seen::Deliver(match t {
                    Traffic::Cast(_) => "cast",
                    Traffic::Call(_) => "call",
                    Traffic::Reply(_) => "reply",
                    Traffic::Error(_) => "error",
                })),
                Action::Peers(p) => self.seen.push(Seen::Peers(p.len())),
                Action::PeerReady => {
                    self.seen.push(Seen::PeerReady);
                    if !self.hold_peer_ready {
                        self.machine.peer_ready(&mut more);
                    }
                }
                Action::Ready => self.seen.push(Seen::Ready),
                Action::RoundTrip(rtt) => self.seen.push(Seen::RoundTrip(rtt.last, rtt.smoothed)),
                Action::Close { reason, farewell } => {
                    // A close comes last: nothing may follow it.
                    assert!(work.is_empty(), "actions after Close: {work:?}");
                    self.seen
                        .push(Seen::Close(reason.cause, reason.by_peer, last(&farewell)));
                    if let Some(Ok(frame)) = farewell {
                        self.outbox.extend(frame.envelopes);
                    }
                }
            }
            work.extend(more);
        }
    }

    fn feed(&mut self, envelopes: Vec<pb::Envelope>) {
        let mut out = Vec::new();
        self.machine.on_frame(frame(envelopes), self.now, &mut out);
        self.run(out);
    }

    fn step(&mut self, f: impl FnOnce(&mut SessionMachine, &mut Vec<Action>)) {
        let mut out = Vec::new();
        f(&mut self.machine, &mut out);
        self.run(out);
    }

    /// Asserts the side closed exactly once, for `cause`, by the peer or
    /// not, with the peer hearing `last`.
    #[track_caller]
    fn assert_closed(&self, cause: DisconnectCause, by_peer: bool, last: Last) {
        assert_eq!(
            self.closes(),
            [&Seen::Close(cause, by_peer, last)],
            "{:?}",
            self.seen
        );
    }

    fn closes(&self) -> Vec<&Seen> {
        self.seen
            .iter()
            .filter(|s| matches!(s, Seen::Close(..)))
            .collect()
    }
}

/// A dialer and an acceptor wired to each other.
struct Pair {
    dialer: Side,
    acceptor: Side,
}

impl Pair {
    /// Enough for the handshake, both syncs and a farewell each way.
    const MAX_STEPS: usize = 16;

    fn new() -> Self {
        Self {
            dialer: Side::dialer(local("node-a", 0xA, COOKIE)),
            acceptor: Side::acceptor(local("node-b", 0xB, COOKIE)),
        }
    }

    /// Delivers each side's queued envelopes to the other as one frame, in
    /// turns, until both are quiet.
    fn drive(&mut self) {
        for _ in 0..Self::MAX_STEPS {
            if !self.dialer.outbox.is_empty() {
                let batch = self.dialer.outbox.drain(..).collect();
                if !self.acceptor.machine.is_closed() {
                    self.acceptor.feed(batch);
                }
            } else if !self.acceptor.outbox.is_empty() {
                let batch = self.acceptor.outbox.drain(..).collect();
                if !self.dialer.machine.is_closed() {
                    self.dialer.feed(batch);
                }
            } else {
                return;
            }
        }
        panic!("the session did not settle in {} steps", Self::MAX_STEPS);
    }
}

// ------------------------------------------------------------ lifecycles

#[test]
fn both_sides_authenticate_sync_and_become_ready() {
    let mut pair = Pair::new();
    pair.dialer.snapshot = Some(vec![spawned(1)]);
    pair.acceptor.snapshot = Some(vec![spawned(2), spawned(3)]);
    pair.drive();
    assert_eq!(
        pair.dialer.seen,
        [
            Seen::Claim("node-b".into()),
            Seen::Authenticated("node-b".into()),
            Seen::Advert(2),
            Seen::Advert(3),
            Seen::PeerReady,
            Seen::Ready,
        ]
    );
    assert_eq!(
        pair.acceptor.seen,
        [
            Seen::Claim("node-a".into()),
            Seen::Authenticated("node-a".into()),
            Seen::Advert(1),
            Seen::PeerReady,
            Seen::Ready,
        ]
    );
    assert!(pair.dialer.machine.is_ready() && pair.acceptor.machine.is_ready());
}

#[test]
fn ready_waits_for_our_own_snapshot_as_well_as_the_peers_ready() {
    let mut pair = Pair::new();
    pair.acceptor.snapshot = None;
    pair.drive();
    // The dialer synced; the acceptor's node has not sent its snapshot yet.
    assert!(!pair.acceptor.machine.is_ready());
    assert!(!pair.dialer.machine.is_ready());
    pair.acceptor.step(|m, out| m.sync(vec![spawned(9)], out));
    assert_eq!(pair.acceptor.seen.last(), Some(&Seen::Ready));
    pair.drive();
    assert_eq!(
        &pair.dialer.seen[pair.dialer.seen.len() - 3..],
        [Seen::Advert(9), Seen::PeerReady, Seen::Ready]
    );
    // A second snapshot changes nothing.
    pair.acceptor.step(|m, out| m.sync(vec![spawned(10)], out));
    assert!(pair.acceptor.outbox.is_empty());
}

#[test]
fn traffic_during_sync_is_delivered_and_after_ready_too() {
    let mut pair = Pair::new();
    pair.acceptor.snapshot = None;
    pair.drive();
    // The dialer is ready on its side only once the acceptor syncs, but the
    // acceptor may already deliver what the dialer sends.
    pair.acceptor.feed(vec![cast(1)]);
    assert_eq!(pair.acceptor.seen.last(), Some(&Seen::Deliver("cast")));
    pair.acceptor.step(|m, out| m.sync(Vec::new(), out));
    pair.drive();
    let call = Body::Call(pb::Call {
        to: 1,
        variant: "V".into(),
        args: vec![],
        tag: 7,
        timeout_ms: 0,
        traceparent: String::new(),
    });
    let reply = Body::CallReply(pb::CallReply {
        tag: 7,
        result: vec![1],
    });
    let error = Body::CallError(pb::CallError {
        tag: 8,
        code: 1,
        detail: String::new(),
    });
    pair.dialer
        .feed(vec![call.into(), reply.into(), error.into(), cast(2)]);
    assert_eq!(
        &pair.dialer.seen[pair.dialer.seen.len() - 4..],
        [
            Seen::Deliver("call"),
            Seen::Deliver("reply"),
            Seen::Deliver("error"),
            Seen::Deliver("cast"),
        ]
    );
    assert!(pair.dialer.closes().is_empty());
}

#[test]
fn node_sends_go_out_only_between_authentication_and_the_end() {
    let mut side = Side::acceptor(local("node-b", 0xB, COOKIE));
    side.step(|m, out| m.send(vec![spawned(1)], out));
    assert!(side.outbox.is_empty(), "nothing before authentication");
    let mut pair = Pair::new();
    pair.drive();
    pair.acceptor
        .step(|m, out| m.send(vec![spawned(4), spawned(5)], out));
    pair.drive();
    assert_eq!(
        &pair.dialer.seen[pair.dialer.seen.len() - 2..],
        [Seen::Advert(4), Seen::Advert(5)]
    );
    pair.acceptor.step(|m, out| {
        m.close(
            DisconnectReason::local(DisconnectCause::Stopped, "bye"),
            out,
        );
    });
    pair.acceptor.outbox.clear();
    pair.acceptor.step(|m, out| m.send(vec![spawned(6)], out));
    assert!(pair.acceptor.outbox.is_empty(), "nothing after the end");
}

// ------------------------------------------------------------ endings

#[test]
fn a_local_close_says_goodbye_and_the_peer_hears_why() {
    let mut pair = Pair::new();
    pair.drive();
    pair.dialer.step(|m, out| {
        m.close(
            DisconnectReason::local(DisconnectCause::Stopped, "node stopping"),
            out,
        );
    });
    pair.drive();
    pair.dialer.assert_closed(
        DisconnectCause::Stopped,
        false,
        Last::Goodbye(DisconnectCause::Stopped),
    );
    pair.acceptor
        .assert_closed(DisconnectCause::Stopped, true, Last::Nothing);
}

#[test]
fn an_acceptor_ends_a_refused_stream_with_a_status_but_stops_with_a_goodbye() {
    for (cause, expected) in [
        (
            DisconnectCause::ProtocolViolation,
            Last::Status(Code::InvalidArgument),
        ),
        (DisconnectCause::Superseded, Last::Status(Code::Aborted)),
        (
            DisconnectCause::Stopped,
            Last::Goodbye(DisconnectCause::Stopped),
        ),
    ] {
        let mut side = Side::acceptor(local("node-b", 0xB, COOKIE));
        side.step(|m, out| m.close(DisconnectReason::local(cause, "why"), out));
        assert_eq!(side.closes(), [&Seen::Close(cause, false, expected)]);
    }
}

#[test]
fn a_session_closes_once_whatever_comes_after() {
    let mut pair = Pair::new();
    pair.drive();
    pair.acceptor.step(|m, out| {
        m.close(
            DisconnectReason::local(DisconnectCause::Stopped, "one"),
            out,
        );
        m.close(
            DisconnectReason::local(DisconnectCause::Transport, "two"),
            out,
        );
        m.deadline(out);
        m.inbound_ended(None, out);
        m.on_frame(frame(vec![cast(1)]), Instant::now(), out);
        m.claimed(Ok(()), out);
    });
    assert_eq!(pair.acceptor.closes().len(), 1);
    assert_eq!(
        pair.acceptor.seen.last(),
        Some(&Seen::Close(
            DisconnectCause::Stopped,
            false,
            Last::Goodbye(DisconnectCause::Stopped)
        ))
    );
}

#[test]
fn the_deadline_ends_a_session_only_before_it_is_ready() {
    let mut side = Side::acceptor(local("node-b", 0xB, COOKIE));
    side.step(SessionMachine::deadline);
    side.assert_closed(
        DisconnectCause::HandshakeTimeout,
        false,
        Last::Status(Code::DeadlineExceeded),
    );
    // Authenticated but never synced: still a timeout.
    let mut pair = Pair::new();
    pair.acceptor.snapshot = None;
    pair.drive();
    pair.acceptor.step(SessionMachine::deadline);
    assert_eq!(pair.acceptor.closes().len(), 1);
    // Ready: the deadline is moot.
    let mut pair = Pair::new();
    pair.drive();
    pair.acceptor.step(SessionMachine::deadline);
    pair.dialer.step(SessionMachine::deadline);
    assert!(pair.acceptor.closes().is_empty() && pair.dialer.closes().is_empty());
}

#[test]
fn a_refused_claim_ends_the_session_before_anything_is_proven() {
    let refusal = DisconnectReason::local(DisconnectCause::AlreadyConnected, "already");
    // The dialer refuses after the Challenge: it never sends its Proof.
    let mut pair = Pair::new();
    pair.dialer.verdict = Err(refusal.clone());
    pair.drive();
    assert!(
        !pair
            .dialer
            .seen
            .iter()
            .any(|s| matches!(s, Seen::Authenticated(_)))
    );
    pair.dialer.assert_closed(
        DisconnectCause::AlreadyConnected,
        false,
        Last::Goodbye(DisconnectCause::AlreadyConnected),
    );
    pair.acceptor
        .assert_closed(DisconnectCause::AlreadyConnected, true, Last::Nothing);
    // The acceptor refuses after the Proof: it never sends Welcome.
    let mut pair = Pair::new();
    pair.acceptor.verdict = Err(refusal);
    pair.drive();
    pair.acceptor.assert_closed(
        DisconnectCause::AlreadyConnected,
        false,
        Last::Status(Code::FailedPrecondition),
    );
    assert!(
        !pair
            .dialer
            .seen
            .iter()
            .any(|s| matches!(s, Seen::Authenticated(_)))
    );
}

#[test]
fn a_wrong_cookie_is_refused_by_the_acceptor() {
    let mut pair = Pair::new();
    pair.acceptor = Side::acceptor(local("node-b", 0xB, "another cookie"));
    pair.drive();
    pair.acceptor.assert_closed(
        DisconnectCause::BadCookie,
        false,
        Last::Status(Code::Unauthenticated),
    );
}

// ------------------------------------------------------------ bad input

fn hello() -> pb::Envelope {
    let mut out = Vec::new();
    SessionMachine::dial(
        local("node-a", 0xA, COOKIE),
        [1; 32],
        TIMEOUT,
        HEARTBEAT,
        &mut out,
    );
    match out.pop() {
        Some(Action::Send(e)) => e,
        other => panic!("a dialer starts with Hello, got {other:?}"),
    }
}

fn violation_of(side: &Side) -> bool {
    side.closes()
        == [&Seen::Close(
            DisconnectCause::ProtocolViolation,
            false,
            Last::Status(Code::InvalidArgument),
        )]
}

#[test]
fn an_empty_frame_or_traffic_before_authentication_is_a_violation() {
    let mut side = Side::acceptor(local("node-b", 0xB, COOKIE));
    side.feed(Vec::new());
    assert!(violation_of(&side), "{:?}", side.seen);
    let mut side = Side::acceptor(local("node-b", 0xB, COOKIE));
    side.feed(vec![cast(1)]);
    assert!(violation_of(&side), "{:?}", side.seen);
    assert!(!side.seen.iter().any(|s| matches!(s, Seen::Deliver(_))));
}

#[test]
fn anything_while_the_node_decides_a_claim_is_a_violation() {
    // The acceptor waits on its claim after the dialer's Proof; the dialer
    // sends nothing more until Welcome, so anything now breaks the protocol.
    let mut pair = Pair::new();
    pair.acceptor.hold_claims = true;
    pair.drive();
    assert_eq!(pair.acceptor.seen, [Seen::Claim("node-a".into())]);
    pair.acceptor.feed(vec![cast(1)]);
    assert!(violation_of(&pair.acceptor), "{:?}", pair.acceptor.seen);
    // The verdict that comes after the end changes nothing.
    pair.acceptor.step(|m, out| m.claimed(Ok(()), out));
    assert!(
        pair.acceptor
            .outbox
            .iter()
            .all(|e| !matches!(e.body, Some(Body::Welcome(_))))
    );
    assert_eq!(pair.acceptor.closes().len(), 1);
    // Likewise the dialer, waiting on its claim after the Challenge.
    let mut pair = Pair::new();
    pair.dialer.hold_claims = true;
    pair.drive();
    assert_eq!(pair.dialer.seen, [Seen::Claim("node-b".into())]);
    pair.dialer.feed(vec![spawned(1)]);
    pair.dialer.assert_closed(
        DisconnectCause::ProtocolViolation,
        false,
        Last::Goodbye(DisconnectCause::ProtocolViolation),
    );
}

#[test]
fn the_peers_ready_is_taken_only_after_what_came_before_it() {
    let mut pair = Pair::new();
    pair.acceptor.snapshot = Some(vec![spawned(2)]);
    pair.dialer.hold_peer_ready = true;
    pair.drive();
    // The dialer saw the acceptor's snapshot and Ready, and synced itself,
    // but is not ready until its driver has applied the snapshot.
    assert_eq!(&pair.dialer.seen[2..], [Seen::Advert(2), Seen::PeerReady]);
    assert!(!pair.dialer.machine.is_ready());
    // A second Ready is still a violation, taken or not.
    let mut early = Pair::new();
    early.dialer.hold_peer_ready = true;
    early.drive();
    early.dialer.feed(vec![Body::Ready(pb::Ready {}).into()]);
    assert!(matches!(
        early.dialer.seen.last(),
        Some(Seen::Close(DisconnectCause::ProtocolViolation, false, _))
    ));
    // Taking it makes the session ready, once.
    pair.dialer.step(SessionMachine::peer_ready);
    pair.dialer.step(SessionMachine::peer_ready);
    assert_eq!(
        pair.dialer
            .seen
            .iter()
            .filter(|s| **s == Seen::Ready)
            .count(),
        1
    );
    assert!(pair.dialer.machine.is_ready());
}

#[test]
fn handshake_envelopes_or_a_second_ready_after_authentication_are_violations() {
    for late in [
        hello(),
        Body::Ready(pb::Ready {}).into(),
        pb::Envelope { body: None },
    ] {
        let mut pair = Pair::new();
        pair.drive();
        pair.acceptor.feed(vec![late.clone()]);
        assert!(
            violation_of(&pair.acceptor),
            "{late:?}: {:?}",
            pair.acceptor.seen
        );
    }
}

#[test]
fn a_peer_list_is_bounded() {
    let peers = |n: usize| -> pb::Envelope {
        Body::Peers(pb::PeerList {
            peers: (0..n)
                .map(|i| pb::KnownPeer {
                    name: format!("n{i}"),
                    listen_addr: format!("127.0.0.1:{i}"),
                })
                .collect(),
        })
        .into()
    };
    let mut pair = Pair::new();
    pair.drive();
    pair.acceptor.feed(vec![peers(MAX_PEER_LIST)]);
    assert_eq!(pair.acceptor.seen.last(), Some(&Seen::Peers(MAX_PEER_LIST)));
    pair.acceptor.feed(vec![peers(MAX_PEER_LIST + 1)]);
    assert!(matches!(
        pair.acceptor.seen.last(),
        Some(Seen::Close(DisconnectCause::ProtocolViolation, false, _))
    ));
}

#[test]
fn a_goodbye_ends_the_session_in_any_phase() {
    let goodbye = || -> pb::Envelope {
        Body::Goodbye(DisconnectReason::local(DisconnectCause::DuplicateName, "dup").to_goodbye())
            .into()
    };
    let mut side = Side::acceptor(local("node-b", 0xB, COOKIE));
    side.feed(vec![goodbye()]);
    side.assert_closed(DisconnectCause::DuplicateName, true, Last::Nothing);
    let mut pair = Pair::new();
    pair.drive();
    pair.dialer.feed(vec![cast(1), goodbye(), cast(2)]);
    assert_eq!(
        &pair.dialer.seen[pair.dialer.seen.len() - 2..],
        [
            Seen::Deliver("cast"),
            Seen::Close(DisconnectCause::DuplicateName, true, Last::Nothing)
        ]
    );
}

#[test]
fn the_end_of_the_peers_stream_is_classified_by_side_and_status() {
    let ended = |direction: Direction, status: Option<Status>| {
        let reason = inbound_ended_reason(direction, status);
        (reason.cause, reason.by_peer)
    };
    assert_eq!(
        ended(Direction::Inbound, None),
        (DisconnectCause::Transport, true)
    );
    assert_eq!(
        ended(Direction::Inbound, Some(Status::internal("not protobuf"))),
        (DisconnectCause::ProtocolViolation, false)
    );
    assert_eq!(
        ended(Direction::Inbound, Some(Status::unavailable("reset"))),
        (DisconnectCause::Transport, true)
    );
    // A status without a message still gives a reason.
    let reason = inbound_ended_reason(Direction::Inbound, Some(Status::unavailable("")));
    assert_eq!(reason.detail, "stream ended with Unavailable");
    // A dialer hears the acceptor's cause in the status it ends with.
    let refused = DisconnectReason::local(DisconnectCause::BadCookie, "nope").to_status();
    assert_eq!(
        ended(Direction::Outbound, Some(refused)),
        (DisconnectCause::BadCookie, true)
    );
    assert_eq!(
        ended(
            Direction::Outbound,
            Some(Status::resource_exhausted("too big"))
        ),
        (DisconnectCause::ProtocolViolation, false)
    );
}

/// Random envelopes, in random phases: the machine never panics, closes at
/// most once, and does nothing after its Close; a session the garbage left
/// short of ready is then ended by the deadline.
#[test]
fn garbage_in_any_phase_never_panics_and_closes_at_most_once() {
    let mut rng = StdRng::seed_from_u64(0x5E55_1011);
    let bodies = |rng: &mut StdRng| -> pb::Envelope {
        match rng.random_range(0..9) {
            0 => hello(),
            1 => Body::Ready(pb::Ready {}).into(),
            2 => cast(rng.random()),
            3 => spawned(rng.random()),
            4 => Body::Proof(pb::Proof {
                proof: (0..rng.random_range(0..40)).map(|_| rng.random()).collect(),
            })
            .into(),
            5 => Body::Welcome(pb::Welcome { proof: vec![0; 32] }).into(),
            6 => Body::Challenge(pb::Challenge {
                name: "x".repeat(rng.random_range(0..300)),
                nonce: vec![3; rng.random_range(0..40)],
                version: rng.random_range(0..3),
                incarnation: rng.random(),
                listen_addr: String::new(),
            })
            .into(),
            7 => pb::Envelope { body: None },
            _ => Body::PgLeft(pb::PgLeft::default()).into(),
        }
    };
    for round in 0..300 {
        let mut pair = Pair::new();
        // Run the real exchange part of the way, then inject garbage.
        let settle = rng.random_range(0..4);
        for _ in 0..settle {
            if let Some(e) = pair.dialer.outbox.pop_front() {
                pair.acceptor.feed(vec![e]);
            } else if let Some(e) = pair.acceptor.outbox.pop_front() {
                pair.dialer.feed(vec![e]);
            }
        }
        let n = rng.random_range(0..6);
        let garbage: Vec<pb::Envelope> = (0..n).map(|_| bodies(&mut rng)).collect();
        let target = if rng.random_bool(0.5) {
            &mut pair.dialer
        } else {
            &mut pair.acceptor
        };
        target.feed(garbage);
        assert!(
            target.closes().len() <= 1,
            "round {round}: {:?}",
            target.seen
        );
        target.step(SessionMachine::deadline);
        // Garbage may happen to hold the one valid next step (a Ready);
        // otherwise the session has ended, once, and said nothing after.
        if target.machine.is_ready() {
            assert!(
                target.closes().is_empty(),
                "round {round}: {:?}",
                target.seen
            );
            continue;
        }
        assert_eq!(target.closes().len(), 1, "round {round}: {:?}", target.seen);
        assert!(
            matches!(target.seen.last(), Some(Seen::Close(..))),
            "round {round}: nothing after Close: {:?}",
            target.seen
        );
    }
}

// ------------------------------------------------------------ heartbeat

fn ping(seq: u64) -> pb::Envelope {
    Body::Ping(pb::Ping { seq }).into()
}

fn pong(seq: u64) -> pb::Envelope {
    Body::Pong(pb::Pong { seq }).into()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn tick(side: &mut Side) {
    let now = side.now;
    side.step(|m, out| m.tick(now, out));
}

fn ready_pair() -> Pair {
    let mut pair = Pair::new();
    pair.drive();
    assert!(pair.dialer.machine.is_ready() && pair.acceptor.machine.is_ready());
    pair
}

#[test]
fn a_ping_goes_out_each_interval_and_its_pong_measures_the_round_trip() {
    let mut pair = ready_pair();
    tick(&mut pair.dialer);
    assert_eq!(pair.dialer.outbox.drain(..).collect::<Vec<_>>(), [ping(1)]);
    // The acceptor answers at once.
    pair.acceptor.feed(vec![ping(1)]);
    assert_eq!(
        pair.acceptor.outbox.drain(..).collect::<Vec<_>>(),
        [pong(1)]
    );
    pair.dialer.now += ms(40);
    pair.dialer.feed(vec![pong(1)]);
    assert_eq!(
        pair.dialer.seen.last(),
        Some(&Seen::RoundTrip(ms(40), ms(40)))
    );
    // No second Ping before the interval is up.
    pair.dialer.now += ms(500);
    tick(&mut pair.dialer);
    assert!(pair.dialer.outbox.is_empty());
    pair.dialer.now += ms(500);
    tick(&mut pair.dialer);
    assert_eq!(pair.dialer.outbox.drain(..).collect::<Vec<_>>(), [ping(2)]);
    pair.dialer.now += ms(80);
    pair.dialer.feed(vec![pong(2)]);
    // Smoothed: 7/8 of the old 40 ms and 1/8 of the new 80 ms.
    assert_eq!(
        pair.dialer.seen.last(),
        Some(&Seen::RoundTrip(ms(80), ms(45)))
    );
}

#[test]
fn a_tick_a_little_early_still_sends_the_ping_due() {
    let mut pair = ready_pair();
    let tick_period = HEARTBEAT.tick();
    // The first tick is handled 5 ms late, so the next Ping is due 5 ms
    // after the next tick.
    pair.dialer.now += ms(5);
    tick(&mut pair.dialer);
    assert_eq!(pair.dialer.outbox.drain(..).collect::<Vec<_>>(), [ping(1)]);
    pair.dialer.feed(vec![pong(1)]);
    let mut sent = 1;
    for _ in 0..8 {
        pair.dialer.now += tick_period;
        tick(&mut pair.dialer);
        let pings: Vec<_> = pair.dialer.outbox.drain(..).collect();
        sent += pings.len() as u64;
        // The peer answers, so it stays alive.
        pair.dialer.feed(vec![pong(sent)]);
    }
    // Nine ticks of 750 ms span 6.75 s: a Ping each interval (1 s), rounded
    // to the nearest tick, is one every tick here; skipping the ticks that
    // come a hair early would send only every other one.
    assert!(sent >= 7, "{sent} Pings in nine ticks");
}

#[test]
fn a_pong_that_answers_no_ping_in_flight_is_ignored() {
    let mut pair = ready_pair();
    pair.dialer.feed(vec![pong(7)]);
    tick(&mut pair.dialer);
    pair.dialer.feed(vec![pong(99)]);
    pair.dialer.feed(vec![pong(1), pong(1)]);
    let rtts = pair
        .dialer
        .seen
        .iter()
        .filter(|s| matches!(s, Seen::RoundTrip(..)))
        .count();
    assert_eq!(rtts, 1, "{:?}", pair.dialer.seen);
    assert!(pair.dialer.closes().is_empty());
}

#[test]
fn a_silent_peer_is_down_after_the_timeout_and_any_frame_keeps_it_alive() {
    let mut pair = ready_pair();
    let start = pair.dialer.now;
    // Pings go out, nothing comes back: still up just before the timeout.
    for step in 1..=29 {
        pair.dialer.now = start + ms(100 * step);
        tick(&mut pair.dialer);
    }
    assert!(pair.dialer.closes().is_empty());
    // Any frame from the peer counts, not just a Pong.
    pair.dialer.feed(vec![cast(1)]);
    pair.dialer.now += HEARTBEAT.timeout;
    tick(&mut pair.dialer);
    assert!(
        pair.dialer.closes().is_empty(),
        "exactly the timeout is not past it"
    );
    pair.dialer.now += ms(1);
    tick(&mut pair.dialer);
    pair.dialer.assert_closed(
        DisconnectCause::HeartbeatTimeout,
        false,
        Last::Goodbye(DisconnectCause::HeartbeatTimeout),
    );
    // An acceptor ends the stream with UNAVAILABLE.
    pair.acceptor.now += HEARTBEAT.timeout + ms(1);
    tick(&mut pair.acceptor);
    pair.acceptor.assert_closed(
        DisconnectCause::HeartbeatTimeout,
        false,
        Last::Status(Code::Unavailable),
    );
}

#[test]
fn no_heartbeat_before_authentication_or_on_a_version_1_session() {
    // Before authentication the handshake deadline rules; no Ping goes out
    // and a Ping that comes in breaks the handshake.
    let mut side = Side::acceptor(local("node-b", 0xB, COOKIE));
    side.now += Duration::from_secs(3600);
    tick(&mut side);
    assert!(side.outbox.is_empty() && side.closes().is_empty());
    side.feed(vec![ping(1)]);
    assert!(violation_of(&side), "{:?}", side.seen);
    // A peer that speaks only version 1: no Ping, no timeout, and a Ping
    // from it is a violation.
    let mut pair = Pair {
        dialer: Side::dialer(local_with("node-a", 0xA, COOKIE, 1)),
        acceptor: Side::acceptor(local("node-b", 0xB, COOKIE)),
    };
    pair.drive();
    assert!(pair.acceptor.machine.is_ready());
    pair.acceptor.now += Duration::from_secs(3600);
    tick(&mut pair.acceptor);
    assert!(pair.acceptor.outbox.is_empty() && pair.acceptor.closes().is_empty());
    pair.acceptor.feed(vec![ping(1)]);
    assert!(violation_of(&pair.acceptor), "{:?}", pair.acceptor.seen);
}
