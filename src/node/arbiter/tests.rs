//! The arbiter's rules case by case, then every interleaving of two nodes
//! that dial each other at once.

use std::collections::VecDeque;

use super::*;
use crate::transport::Direction;

const INC_1: u64 = 1;
const INC_2: u64 = 2;

fn proceeds(verdict: Verdict) -> Vec<(SessionId, DisconnectCause)> {
    match verdict {
        Verdict::Proceed(close) => close.into_iter().map(|(sid, r)| (sid, r.cause)).collect(),
        Verdict::Refuse(reason) => panic!("expected Proceed, got Refuse({reason})"),
    }
}

fn refused(verdict: Verdict) -> DisconnectReason {
    match verdict {
        Verdict::Refuse(reason) => reason,
        Verdict::Proceed(close) => panic!("expected Refuse, got Proceed({close:?})"),
    }
}

fn causes(close: Vec<(SessionId, DisconnectReason)>) -> Vec<(SessionId, DisconnectCause)> {
    close.into_iter().map(|(sid, r)| (sid, r.cause)).collect()
}

fn claimed(arbiter: &Arbiter) -> Vec<SessionId> {
    let mut sids: Vec<_> = arbiter.claims.keys().copied().collect();
    sids.sort_unstable();
    sids
}

// ------------------------------------------------------------ case by case

#[test]
fn the_first_claim_in_either_direction_proceeds() {
    let mut arbiter = Arbiter::new("a");
    assert_eq!(
        proceeds(arbiter.claim(1, Direction::Outbound, "b", INC_1)),
        []
    );
    assert_eq!(
        proceeds(arbiter.claim(2, Direction::Inbound, "c", INC_1)),
        []
    );
    assert_eq!(claimed(&arbiter), [1, 2]);
}

#[test]
fn a_second_outbound_session_to_the_same_peer_is_refused() {
    let mut arbiter = Arbiter::new("a");
    proceeds(arbiter.claim(1, Direction::Outbound, "b", INC_1));
    let reason = refused(arbiter.claim(2, Direction::Outbound, "b", INC_1));
    assert_eq!(reason.cause, DisconnectCause::AlreadyConnected);
    assert!(!reason.by_peer);
    assert_eq!(claimed(&arbiter), [1]);
    // Other peers are not affected.
    proceeds(arbiter.claim(3, Direction::Outbound, "c", INC_1));
}

#[test]
fn an_established_session_refuses_any_new_one_with_the_same_incarnation() {
    // Established by an inbound commit.
    let mut arbiter = Arbiter::new("a");
    proceeds(arbiter.claim(1, Direction::Inbound, "b", INC_1));
    for (sid, direction) in [(2, Direction::Inbound), (3, Direction::Outbound)] {
        let reason = refused(arbiter.claim(sid, direction, "b", INC_1));
        assert_eq!(
            reason.cause,
            DisconnectCause::AlreadyConnected,
            "{direction:?}"
        );
    }
    assert_eq!(claimed(&arbiter), [1]);

    // Established by a Welcome on an outbound session.
    let mut arbiter = Arbiter::new("a");
    proceeds(arbiter.claim(1, Direction::Outbound, "b", INC_1));
    assert_eq!(causes(arbiter.established(1)), []);
    for (sid, direction) in [(2, Direction::Inbound), (3, Direction::Outbound)] {
        let reason = refused(arbiter.claim(sid, direction, "b", INC_1));
        assert_eq!(
            reason.cause,
            DisconnectCause::AlreadyConnected,
            "{direction:?}"
        );
    }
    assert_eq!(claimed(&arbiter), [1]);
}

#[test]
fn simultaneous_connect_at_the_smaller_name_refuses_the_inbound_session() {
    // "a" dialled "b" and "b" dialled "a": the session dialled by "a" wins, so
    // "a" refuses the inbound one and keeps its pending outbound one.
    let mut arbiter = Arbiter::new("a");
    proceeds(arbiter.claim(1, Direction::Outbound, "b", INC_2));
    let reason = refused(arbiter.claim(2, Direction::Inbound, "b", INC_2));
    assert_eq!(reason.cause, DisconnectCause::SimultaneousConnect);
    assert!(reason.detail.contains("dialled by a"), "{}", reason.detail);
    assert_eq!(claimed(&arbiter), [1]);
    assert_eq!(causes(arbiter.established(1)), []);
}

#[test]
fn simultaneous_connect_at_the_larger_name_closes_its_outbound_session() {
    let mut arbiter = Arbiter::new("b");
    proceeds(arbiter.claim(1, Direction::Outbound, "a", INC_1));
    let Verdict::Proceed(close) = arbiter.claim(2, Direction::Inbound, "a", INC_1) else {
        panic!("the inbound session dialled by the smaller name must proceed");
    };
    assert_eq!(close.len(), 1, "{close:?}");
    let (sid, reason) = &close[0];
    assert_eq!(*sid, 1);
    assert_eq!(reason.cause, DisconnectCause::SimultaneousConnect);
    assert!(reason.detail.contains("dialled by a"), "{}", reason.detail);
    assert_eq!(claimed(&arbiter), [2]);
    // The closed session's Welcome, should it still arrive, changes nothing.
    assert_eq!(causes(arbiter.established(1)), []);
    assert_eq!(claimed(&arbiter), [2]);
}

#[test]
fn an_inbound_session_with_a_new_incarnation_supersedes_the_old_at_once() {
    let mut arbiter = Arbiter::new("a");
    proceeds(arbiter.claim(1, Direction::Inbound, "b", INC_1));
    assert_eq!(
        proceeds(arbiter.claim(2, Direction::Inbound, "b", INC_2)),
        [(1, DisconnectCause::Superseded)]
    );
    assert_eq!(claimed(&arbiter), [2]);

    // Also when the old session was outbound (and established).
    let mut arbiter = Arbiter::new("a");
    proceeds(arbiter.claim(1, Direction::Outbound, "b", INC_1));
    arbiter.established(1);
    assert_eq!(
        proceeds(arbiter.claim(2, Direction::Inbound, "b", INC_2)),
        [(1, DisconnectCause::Superseded)]
    );
    assert_eq!(claimed(&arbiter), [2]);
}

#[test]
fn an_outbound_session_with_a_new_incarnation_supersedes_the_old_once_established() {
    let mut arbiter = Arbiter::new("a");
    proceeds(arbiter.claim(1, Direction::Inbound, "b", INC_1));
    // The new incarnation is not yet proven: the old session stays for now.
    assert_eq!(
        proceeds(arbiter.claim(2, Direction::Outbound, "b", INC_2)),
        []
    );
    assert_eq!(claimed(&arbiter), [1, 2]);
    assert_eq!(
        causes(arbiter.established(2)),
        [(1, DisconnectCause::Superseded)]
    );
    assert_eq!(claimed(&arbiter), [2]);
}

#[test]
fn release_frees_the_peer_name() {
    let mut arbiter = Arbiter::new("a");
    proceeds(arbiter.claim(1, Direction::Outbound, "b", INC_1));
    arbiter.release(1);
    assert_eq!(claimed(&arbiter), [] as [SessionId; 0]);
    proceeds(arbiter.claim(2, Direction::Outbound, "b", INC_1));
    assert_eq!(causes(arbiter.established(2)), []);
    arbiter.release(2);
    proceeds(arbiter.claim(3, Direction::Inbound, "b", INC_1));
    // Releasing an unknown or already released session is harmless.
    arbiter.release(2);
    arbiter.release(99);
    assert_eq!(claimed(&arbiter), [3]);
}

#[test]
fn established_on_an_unknown_session_closes_nothing() {
    let mut arbiter = Arbiter::new("a");
    proceeds(arbiter.claim(1, Direction::Inbound, "b", INC_1));
    assert_eq!(causes(arbiter.established(7)), []);
    assert_eq!(claimed(&arbiter), [1]);
}

#[test]
fn two_established_sessions_keep_the_one_dialled_by_the_smaller_name() {
    // The claim rules prevent this state; `established` still resolves it
    // should a race produce it. Build it by hand.
    for (own, peer, loser) in [("a", "b", 2), ("b", "a", 1)] {
        let mut arbiter = Arbiter::new(own);
        for (sid, direction, established) in [
            (1, Direction::Outbound, false),
            (2, Direction::Inbound, true),
        ] {
            arbiter.claims.insert(
                sid,
                Claim {
                    peer: peer.to_owned(),
                    incarnation: INC_1,
                    direction,
                    established,
                },
            );
        }
        let close = arbiter.established(1);
        assert_eq!(
            causes(close.clone()),
            [(loser, DisconnectCause::SimultaneousConnect)],
            "own {own}"
        );
        assert!(close[0].1.detail.contains("dialled by a"), "{close:?}");
        assert_eq!(claimed(&arbiter), [3 - loser], "own {own}");
    }
}

// ------------------------------------------------------------ interleavings

/// The two sessions: `W` is dialled by node 0, `L` by node 1.
const SESSIONS: [&str; 2] = ["W", "L"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Msg {
    Hello,
    Challenge,
    Proof,
    Welcome,
    /// The sender ended the session (Goodbye, a status, or a reset stream).
    Abort,
}

/// Where one session is on one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    AwaitHello,
    AwaitChallenge,
    AwaitProof,
    AwaitWelcome,
    Established,
    Aborted,
}

struct Node {
    name: &'static str,
    incarnation: u64,
    arbiter: Arbiter,
    /// Indexed by session.
    phase: [Phase; 2],
}

/// The id of a session that predates the race (see [`Setup::stale_at`]).
const STALE_SID: SessionId = 99;

/// What the race starts from.
#[derive(Debug, Clone, Copy)]
struct Setup {
    /// Node 0 dials `W`, node 1 dials `L`.
    names: [&'static str; 2],
    /// This node still holds an established session with an earlier
    /// incarnation of the other (which restarted just before the race).
    stale_at: Option<usize>,
}

/// Two nodes, two sessions, and the in-flight messages of each session in
/// each direction (a stream delivers in order, streams race each other).
struct World {
    setup: Setup,
    nodes: [Node; 2],
    /// `queues[session][to_node]`.
    queues: [[VecDeque<Msg>; 2]; 2],
    /// Whether each session's dialer got past its claim and sent a Proof.
    dialer_proved: [bool; 2],
    /// Whether the stale session was closed.
    stale_closed: bool,
    trace: Vec<String>,
}

/// The node that dials `session`.
fn dialer(session: usize) -> usize {
    session
}

/// Session ids are node-local; distinct values make traces readable.
fn sid(node: usize, session: usize) -> SessionId {
    (10 * (node + 1) + session) as SessionId
}

impl World {
    fn new(setup: Setup) -> Self {
        let names = setup.names;
        let node = |i: usize| Node {
            name: names[i],
            incarnation: 100 + i as u64,
            arbiter: Arbiter::new(names[i]),
            phase: [0, 1].map(|s| {
                if dialer(s) == i {
                    Phase::AwaitChallenge
                } else {
                    Phase::AwaitHello
                }
            }),
        };
        let mut world = Self {
            setup,
            nodes: [node(0), node(1)],
            queues: Default::default(),
            dialer_proved: [false; 2],
            stale_closed: false,
            trace: Vec::new(),
        };
        if let Some(n) = setup.stale_at {
            let verdict =
                world.nodes[n]
                    .arbiter
                    .claim(STALE_SID, Direction::Inbound, names[1 - n], 7);
            assert_eq!(verdict, Verdict::Proceed(Vec::new()));
        }
        // Both dialers open their streams with a Hello at the same time.
        for s in 0..2 {
            world.send(s, 1 - dialer(s), Msg::Hello);
        }
        world
    }

    fn replay(setup: Setup, path: &[(usize, usize)]) -> Self {
        let mut world = Self::new(setup);
        for &(session, to) in path {
            world.deliver(session, to);
        }
        world
    }

    fn send(&mut self, session: usize, to: usize, msg: Msg) {
        self.queues[session][to].push_back(msg);
    }

    /// The deliverable events: the head of every non-empty stream direction.
    fn enabled(&self) -> Vec<(usize, usize)> {
        (0..2)
            .flat_map(|s| (0..2).map(move |n| (s, n)))
            .filter(|&(s, n)| !self.queues[s][n].is_empty())
            .collect()
    }

    fn trace(&self) -> String {
        self.trace.join(", ")
    }

    /// Ends `session` on `node`: it sends nothing more except the abort.
    fn abort(&mut self, node: usize, session: usize) {
        if self.nodes[node].phase[session] == Phase::Aborted {
            return;
        }
        self.nodes[node].phase[session] = Phase::Aborted;
        // The arbiter already dropped a refused or closed claim; the node
        // server releases again when the session reports it closed.
        self.nodes[node].arbiter.release(sid(node, session));
        self.send(session, 1 - node, Msg::Abort);
    }

    fn close_all(&mut self, node: usize, close: Vec<(SessionId, DisconnectReason)>) {
        for (closed, reason) in close {
            if closed == STALE_SID {
                assert_eq!(reason.cause, DisconnectCause::Superseded);
                self.stale_closed = true;
                continue;
            }
            let session = (0..2)
                .find(|&s| sid(node, s) == closed)
                .unwrap_or_else(|| panic!("closing unknown session {closed}: {}", self.trace()));
            self.abort(node, session);
        }
    }

    fn deliver(&mut self, session: usize, node: usize) {
        let msg = self.queues[session][node]
            .pop_front()
            .unwrap_or_else(|| panic!("nothing to deliver: {}", self.trace()));
        let peer = 1 - node;
        let (peer_name, peer_inc) = (self.nodes[peer].name, self.nodes[peer].incarnation);
        let me = sid(node, session);
        self.trace.push(format!(
            "{}<-{}:{msg:?}",
            self.nodes[node].name, SESSIONS[session]
        ));
        let phase = self.nodes[node].phase[session];
        match (phase, msg) {
            (_, Msg::Abort) => {
                self.nodes[node].phase[session] = Phase::Aborted;
                self.nodes[node].arbiter.release(me);
            }
            // An ended session ignores what was still in flight.
            (Phase::Aborted, _) => {}
            (Phase::AwaitHello, Msg::Hello) => {
                self.nodes[node].phase[session] = Phase::AwaitProof;
                self.send(session, peer, Msg::Challenge);
            }
            (Phase::AwaitChallenge, Msg::Challenge) => {
                match self.nodes[node]
                    .arbiter
                    .claim(me, Direction::Outbound, peer_name, peer_inc)
                {
                    Verdict::Refuse(_) => self.abort(node, session),
                    Verdict::Proceed(close) => {
                        self.close_all(node, close);
                        self.nodes[node].phase[session] = Phase::AwaitWelcome;
                        self.dialer_proved[session] = true;
                        self.send(session, peer, Msg::Proof);
                    }
                }
            }
            (Phase::AwaitProof, Msg::Proof) => {
                match self.nodes[node]
                    .arbiter
                    .claim(me, Direction::Inbound, peer_name, peer_inc)
                {
                    Verdict::Refuse(_) => self.abort(node, session),
                    Verdict::Proceed(close) => {
                        self.close_all(node, close);
                        self.nodes[node].phase[session] = Phase::Established;
                        self.send(session, peer, Msg::Welcome);
                    }
                }
            }
            (Phase::AwaitWelcome, Msg::Welcome) => {
                self.nodes[node].phase[session] = Phase::Established;
                let close = self.nodes[node].arbiter.established(me);
                self.close_all(node, close);
            }
            (phase, msg) => panic!(
                "{} got {msg:?} on {} in {phase:?}: {}",
                self.nodes[node].name,
                SESSIONS[session],
                self.trace()
            ),
        }
    }

    /// Asserts that a run that has gone quiet left exactly one session.
    /// Returns the survivor.
    fn check_quiet(&self) -> usize {
        let names = self.setup.names;
        let trace = self.trace();
        for (s, session) in SESSIONS.iter().enumerate() {
            let [p0, p1] = [self.nodes[0].phase[s], self.nodes[1].phase[s]];
            assert!(
                matches!(p0, Phase::Established | Phase::Aborted)
                    && matches!(p1, Phase::Established | Phase::Aborted),
                "{session} is stuck mid-handshake ({p0:?} / {p1:?}) after: {trace}"
            );
            assert_eq!(
                p0, p1,
                "the nodes disagree on {session} ({} {p0:?}, {} {p1:?}) after: {trace}",
                names[0], names[1]
            );
        }
        let survivors: Vec<usize> = (0..2)
            .filter(|&s| self.nodes[0].phase[s] == Phase::Established)
            .collect();
        assert!(
            !survivors.is_empty(),
            "both sessions were aborted, the nodes are left unconnected after: {trace}"
        );
        assert_eq!(survivors.len(), 1, "both sessions survived after: {trace}");
        let survivor = survivors[0];
        for (n, node) in self.nodes.iter().enumerate() {
            let table: Vec<_> = node
                .arbiter
                .claims
                .iter()
                .map(|(&sid, c)| (sid, c.established))
                .collect();
            assert_eq!(
                table,
                [(sid(n, survivor), true)],
                "{}'s arbiter does not hold exactly the survivor {} after: {trace}",
                node.name,
                SESSIONS[survivor]
            );
        }
        if self.setup.stale_at.is_some() {
            assert!(
                self.stale_closed,
                "the stale session was never closed after: {trace}"
            );
        }
        // Once both dialers are committed, the tie-break decides: the
        // session dialled by the smaller name survives.
        if self.dialer_proved == [true, true] {
            let smaller = if names[0] < names[1] { 0 } else { 1 };
            assert_eq!(
                survivor, smaller,
                "both dialers proved, yet the session dialled by {} survived after: {trace}",
                names[survivor]
            );
        }
        survivor
    }
}

#[derive(Debug, Default)]
struct Explored {
    runs: usize,
    survived: [usize; 2],
}

/// Depth-first over every order of the deliverable events. The world holds
/// arbiters (not `Clone`), so each branch replays its prefix from scratch;
/// a run has at most a dozen events.
fn explore(setup: Setup, path: &mut Vec<(usize, usize)>, explored: &mut Explored) {
    let world = World::replay(setup, path);
    assert!(
        path.len() <= 16,
        "a run does not terminate: {}",
        world.trace()
    );
    let enabled = world.enabled();
    if enabled.is_empty() {
        explored.runs += 1;
        explored.survived[world.check_quiet()] += 1;
        return;
    }
    for event in enabled {
        path.push(event);
        explore(setup, path, explored);
        path.pop();
    }
}

#[test]
fn every_interleaving_of_a_simultaneous_connect_keeps_exactly_one_session() {
    for names in [["a", "b"], ["b", "a"]] {
        let setup = Setup {
            names,
            stale_at: None,
        };
        let mut explored = Explored::default();
        explore(setup, &mut Vec::new(), &mut explored);
        assert!(
            explored.runs > 1,
            "{setup:?}: explored only {} run(s)",
            explored.runs
        );
        // Both outcomes are reachable: which session survives depends on the
        // race, but never differs between the nodes.
        assert!(
            explored.survived.iter().all(|&n| n > 0),
            "{setup:?}: one session never survives: {explored:?}"
        );
        assert_eq!(explored.survived.iter().sum::<usize>(), explored.runs);
    }
}

#[test]
fn every_interleaving_after_a_restart_replaces_the_stale_session_with_one_new_one() {
    for names in [["a", "b"], ["b", "a"]] {
        for stale_at in [0, 1] {
            let setup = Setup {
                names,
                stale_at: Some(stale_at),
            };
            let mut explored = Explored::default();
            explore(setup, &mut Vec::new(), &mut explored);
            assert!(
                explored.runs > 1,
                "{setup:?}: explored only {} run(s)",
                explored.runs
            );
            assert!(
                explored.survived.iter().all(|&n| n > 0),
                "{setup:?}: one session never survives: {explored:?}"
            );
        }
    }
}
