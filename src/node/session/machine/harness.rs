//! A scripted adversary for the session machine, shared by its property
//! tests (`props`) and the cargo-fuzz target in `fuzz/` (through
//! `ractor_grpc::__fuzz`, feature `fuzz`).
//!
//! One machine under test faces a network the adversary owns. Behind it is
//! an honest peer: a second machine of the other direction whose driver is
//! played here, with the cluster's cookie or a wrong one. The adversary
//! forwards the peer's envelopes or not, replays them, replays a recorded
//! session, reflects the machine's own proof, injects any envelope or raw
//! bytes (decoded as the reader decodes them), and plays the machine's
//! driver too: claims answered either way, syncs, the peer's Ready taken,
//! ticks, the deadline, the stream's end, a local close, in any order.
//!
//! After every step the harness checks what the machine did against its
//! promises and returns the first one broken. The proof check is not taken
//! on trust: whenever the machine claims or authenticates a peer, the
//! harness computes, from the envelopes the machine received and the
//! cookie, the proof the peer had to send, and checks that it is the one
//! that arrived.

use std::{
    collections::VecDeque,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use prost::Message as _;
use tonic::{Code, Status, metadata::MetadataValue};

use super::{Action, MAX_PEER_LIST, SessionMachine};
use crate::{
    auth::{
        Cookie, Local, MAX_PROTOCOL_VERSION, MIN_PROTOCOL_VERSION, Nonce, PING_VERSION, Peer, Role,
        Transcript, prove,
    },
    node::{config::HeartbeatConfig, session::reader},
    pb::{self, envelope::Body},
    reason::{CAUSE_METADATA_KEY, DisconnectCause, DisconnectReason},
    transport::Farewell,
};

/// The cluster's cookie.
const COOKIE: &str = "the fuzzed cluster's cookie";
/// What a peer that does not know it uses instead.
const WRONG_COOKIE: &str = "a guess at the cookie";
const OUR_NAME: &str = "node-under-test";
const OUR_INCARNATION: u64 = 0xA;
const PEER_NAME: &str = "peer";
const PEER_INCARNATION: u64 = 0xB;
/// The nonces of the recorded session (no script's machine uses them).
const RECORDED_NONCES: (Nonce, Nonce) = ([0xFF; 32], [0xFE; 32]);
/// The honest peer's nonce.
const PEER_NONCE: Nonce = [0xEE; 32];
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
const HEARTBEAT: HeartbeatConfig = HeartbeatConfig {
    interval: Duration::from_secs(1),
    timeout: Duration::from_secs(3),
};

/// Version ranges the honest peer may speak: some overlap ours (1..=2),
/// one does not.
pub(crate) const PEER_VERSIONS: [(u32, u32); 5] = [(1, 1), (1, 2), (2, 2), (1, 3), (3, 3)];

/// Every cause, for statistics and for statuses that name one.
const CAUSES: [DisconnectCause; 12] = [
    DisconnectCause::Stopped,
    DisconnectCause::BadCookie,
    DisconnectCause::VersionMismatch,
    DisconnectCause::SelfConnection,
    DisconnectCause::DuplicateName,
    DisconnectCause::AlreadyConnected,
    DisconnectCause::SimultaneousConnect,
    DisconnectCause::Superseded,
    DisconnectCause::HandshakeTimeout,
    DisconnectCause::HeartbeatTimeout,
    DisconnectCause::ProtocolViolation,
    DisconnectCause::Transport,
];

/// How a script starts.
#[derive(Debug, Clone)]
pub(crate) struct Setup {
    /// The machine under test dials (the honest peer accepts), or accepts.
    pub(crate) dialer: bool,
    /// The honest peer knows the cookie.
    pub(crate) peer_knows_cookie: bool,
    /// The version range the honest peer speaks.
    pub(crate) peer_versions: (u32, u32),
    /// Every byte of the machine's nonce.
    pub(crate) nonce: u8,
    /// Honest steps ([`Step::Auto`]) before the script, to start deeper.
    pub(crate) prefix: u8,
}

/// One envelope the adversary puts in a frame.
#[derive(Debug, Clone)]
pub(crate) enum Env {
    /// This one, whatever it is.
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "byte scripts send raw envelopes as frame bytes")
    )]
    Raw(pb::Envelope),
    /// The honest peer's next envelope (left out if it has none).
    Honest,
    /// An envelope the honest peer sent before (its `n % count`th), again.
    Replay(usize),
    /// An envelope from a recorded honest session of the same two nodes
    /// with other nonces.
    Recorded(usize),
    /// The last proof the machine sent, sent back to it as the peer's.
    Reflect,
}

/// One step of a script.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    /// What the honest network and driver do next: answer the machine's
    /// claim, sync it, take the peer's Ready, or deliver the peer's
    /// envelopes (or the end of its stream).
    Auto,
    /// A frame of these envelopes.
    Frame(Vec<Env>),
    /// Bytes read off the stream, decoded as the reader does.
    Bytes(Vec<u8>),
    /// The honest peer's next envelope and these bytes in one frame's
    /// encoding (protobuf appends the envelopes the bytes hold).
    Spliced(Vec<u8>),
    /// The clock moves on this many milliseconds, and ticks.
    Tick(u16),
    /// The handshake deadline passes.
    Deadline,
    /// The node answers a claim: go on, or refuse.
    Claimed(bool),
    /// The node's snapshot of this many actors.
    Sync(u8),
    /// The driver takes the peer's Ready.
    PeerReady,
    /// The node sends this many adverts.
    Send(u8),
    /// The peer's half of the stream ends: cleanly, or with a status (its
    /// code, and the cause its trailer names, if any).
    Ended(Option<(i32, Option<u8>)>),
    /// The node closes the session.
    Close,
}

/// What the machine was given in one step, for the checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Input {
    Start,
    Frame,
    Tick,
    Deadline,
    Claimed(bool),
    Sync,
    PeerReady,
    Send,
    Ended,
    Close,
    Nothing,
}

/// What the machine under test has done so far.
#[derive(Debug, Default)]
struct Seen {
    hello: Option<pb::Hello>,
    challenge: Option<pb::Challenge>,
    /// The last proof it sent (in a Proof or a Welcome).
    proof: Option<Vec<u8>>,
    claim: Option<Peer>,
    claim_answered: bool,
    authenticated: Option<Peer>,
    /// The driver's sync was given (after authentication).
    synced: bool,
    sent_ready: bool,
    peer_ready_seen: bool,
    peer_ready_taken: bool,
    ready: bool,
    pings: u64,
    closed: Option<DisconnectReason>,
}

/// The honest peer: a machine of the other direction, its driver played
/// here (claims allowed, a snapshot of one actor, the Ready taken at once).
#[derive(Debug)]
struct Honest {
    machine: SessionMachine,
    outbox: VecDeque<pb::Envelope>,
    /// Everything it sent, for replays.
    sent: Vec<pb::Envelope>,
    /// How its stream ends, once it closed: cleanly or with a status.
    end: Option<Option<Status>>,
    closed: bool,
}

impl Honest {
    fn new(dialer: bool, local: Arc<Local>, nonce: Nonce) -> Self {
        let mut out = Vec::new();
        let machine = if dialer {
            SessionMachine::dial(local, nonce, HANDSHAKE_TIMEOUT, HEARTBEAT, &mut out)
        } else {
            SessionMachine::accept(local, nonce, HANDSHAKE_TIMEOUT, HEARTBEAT)
        };
        let mut peer = Self {
            machine,
            outbox: VecDeque::new(),
            sent: Vec::new(),
            end: None,
            closed: false,
        };
        peer.run(out);
        peer
    }

    fn run(&mut self, actions: Vec<Action>) {
        let mut work = VecDeque::from(actions);
        while let Some(action) = work.pop_front() {
            let mut more = Vec::new();
            match action {
                Action::Send(e) => {
                    self.sent.push(e.clone());
                    self.outbox.push_back(e);
                }
                Action::Claim(_) => self.machine.claimed(Ok(()), &mut more),
                Action::Authenticated(_) => self.machine.sync(vec![spawned(7)], &mut more),
                Action::PeerReady => self.machine.peer_ready(&mut more),
                Action::Close { farewell, .. } => {
                    self.closed = true;
                    self.end = Some(match farewell {
                        Some(Ok(frame)) => {
                            self.outbox.extend(frame.envelopes);
                            None
                        }
                        Some(Err(status)) => Some(status),
                        None => None,
                    });
                }
                _ => {}
            }
            work.extend(more);
        }
    }

    fn hear(&mut self, envelopes: Vec<pb::Envelope>, now: Instant) {
        if self.closed || envelopes.is_empty() {
            return;
        }
        let mut out = Vec::new();
        self.machine
            .on_frame(pb::Frame::from(envelopes), now, &mut out);
        self.run(out);
    }
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

fn our_local() -> Arc<Local> {
    Arc::new(Local {
        name: OUR_NAME.into(),
        incarnation: OUR_INCARNATION,
        listen_addr: "127.0.0.1:4000".into(),
        cookie: Cookie::from(COOKIE),
        min_version: MIN_PROTOCOL_VERSION,
        max_version: MAX_PROTOCOL_VERSION,
    })
}

fn peer_local(knows_cookie: bool, (min_version, max_version): (u32, u32)) -> Arc<Local> {
    Arc::new(Local {
        name: PEER_NAME.into(),
        incarnation: PEER_INCARNATION,
        listen_addr: "127.0.0.1:4001".into(),
        cookie: Cookie::from(if knows_cookie { COOKIE } else { WRONG_COOKIE }),
        min_version,
        max_version,
    })
}

/// What the peer sent in an honest session between the same two nodes with
/// other nonces, the node under test `dialer` or not.
fn recorded(dialer: bool) -> Vec<pb::Envelope> {
    let (ours, theirs) = RECORDED_NONCES;
    let mut us = Honest::new(dialer, our_local(), ours);
    let mut peer = Honest::new(!dialer, peer_local(true, (1, 2)), theirs);
    let now = Instant::now();
    for _ in 0..16 {
        let to_peer: Vec<_> = us.outbox.drain(..).collect();
        let to_us: Vec<_> = peer.outbox.drain(..).collect();
        if to_peer.is_empty() && to_us.is_empty() {
            break;
        }
        peer.hear(to_peer, now);
        us.hear(to_us, now);
    }
    peer.sent
}

/// A script's run: the machine under test, the honest peer, the clock, and
/// what the machine did.
#[derive(Debug)]
pub(crate) struct Run {
    setup: Setup,
    local: Arc<Local>,
    nonce: Nonce,
    machine: SessionMachine,
    peer: Honest,
    recorded: Option<Vec<pb::Envelope>>,
    now: Instant,
    /// Every envelope the machine was given, in order.
    received: Vec<pb::Envelope>,
    seen: Seen,
}

impl Run {
    /// Starts the machine under test and its peer, and plays the setup's
    /// honest prefix.
    pub(crate) fn start(setup: Setup) -> Result<Self, String> {
        let local = our_local();
        let nonce = [setup.nonce; 32];
        let peer = Honest::new(
            !setup.dialer,
            peer_local(setup.peer_knows_cookie, setup.peer_versions),
            PEER_NONCE,
        );
        let mut out = Vec::new();
        let machine = if setup.dialer {
            SessionMachine::dial(local.clone(), nonce, HANDSHAKE_TIMEOUT, HEARTBEAT, &mut out)
        } else {
            SessionMachine::accept(local.clone(), nonce, HANDSHAKE_TIMEOUT, HEARTBEAT)
        };
        let mut run = Self {
            local,
            nonce,
            machine,
            peer,
            recorded: None,
            now: Instant::now(),
            received: Vec::new(),
            seen: Seen::default(),
            setup,
        };
        run.check(Input::Start, out, false)?;
        for _ in 0..run.setup.prefix {
            run.step(&Step::Auto)?;
        }
        Ok(run)
    }

    /// Plays `setup` and `steps`, then ends the session (the deadline, a
    /// close), checking every step; counts what the run reached.
    pub(crate) fn play(setup: Setup, steps: &[Step]) -> Result<(), String> {
        let mut run = Self::start(setup)?;
        for (i, step) in steps.iter().enumerate() {
            run.step(step)
                .map_err(|e| format!("step {i} ({step:?}): {e}"))?;
        }
        run.step(&Step::Deadline)?;
        run.step(&Step::Close)?;
        run.count();
        Ok(())
    }

    #[cfg(test)]
    pub(crate) fn is_ready(&self) -> bool {
        self.seen.ready
    }

    #[cfg(test)]
    pub(crate) fn is_authenticated(&self) -> bool {
        self.seen.authenticated.is_some()
    }

    #[cfg(test)]
    pub(crate) fn is_closed(&self) -> bool {
        self.seen.closed.is_some()
    }

    /// Plays one step and checks what the machine did.
    pub(crate) fn step(&mut self, step: &Step) -> Result<(), String> {
        let was_closed = self.seen.closed.is_some();
        let mut out = Vec::new();
        let m = &mut self.machine;
        let input = match step {
            Step::Auto => self.auto(&mut out),
            Step::Frame(envs) => {
                let envelopes: Vec<_> = envs.iter().filter_map(|e| self.resolve(e)).collect();
                if envelopes.is_empty() && !envs.is_empty() {
                    Input::Nothing
                } else {
                    self.frame(Ok(pb::Frame::from(envelopes)), &mut out)
                }
            }
            Step::Bytes(bytes) => self.frame(decode(bytes), &mut out),
            Step::Spliced(bytes) => {
                let mut encoded =
                    pb::Frame::from(self.peer.outbox.pop_front().into_iter().collect::<Vec<_>>())
                        .encode_to_vec();
                encoded.extend_from_slice(bytes);
                self.frame(decode(&encoded), &mut out)
            }
            Step::Tick(ms) => {
                self.now += Duration::from_millis(u64::from(*ms));
                m.tick(self.now, &mut out);
                Input::Tick
            }
            Step::Deadline => {
                m.deadline(&mut out);
                Input::Deadline
            }
            Step::Claimed(ok) => {
                let verdict = if *ok {
                    Ok(())
                } else {
                    Err(DisconnectReason::local(
                        DisconnectCause::AlreadyConnected,
                        "refused by the script",
                    ))
                };
                m.claimed(verdict, &mut out);
                self.answer_claim();
                Input::Claimed(*ok)
            }
            Step::Sync(n) => {
                m.sync((0..u64::from(*n)).map(spawned).collect(), &mut out);
                self.seen.synced |= self.seen.authenticated.is_some();
                Input::Sync
            }
            Step::PeerReady => {
                m.peer_ready(&mut out);
                self.seen.peer_ready_taken |= self.seen.peer_ready_seen;
                Input::PeerReady
            }
            Step::Send(n) => {
                m.send((100..100 + u64::from(*n)).map(spawned).collect(), &mut out);
                Input::Send
            }
            Step::Ended(status) => {
                let next = match status {
                    None => Ok(None),
                    Some((code, cause)) => Err(status_of(*code, *cause)),
                };
                reader::take(m, next, self.now, &mut out);
                Input::Ended
            }
            Step::Close => {
                m.close(
                    DisconnectReason::local(DisconnectCause::Stopped, "closed by the script"),
                    &mut out,
                );
                Input::Close
            }
        };
        self.check(input, out, was_closed)
    }

    /// The honest network and drivers' next move.
    fn auto(&mut self, out: &mut Vec<Action>) -> Input {
        let m = &mut self.machine;
        if self.seen.claim.is_some() && !self.seen.claim_answered {
            m.claimed(Ok(()), out);
            self.answer_claim();
            return Input::Claimed(true);
        }
        if self.seen.authenticated.is_some() && !self.seen.synced {
            self.seen.synced = true;
            m.sync(vec![spawned(1), spawned(2)], out);
            return Input::Sync;
        }
        if self.seen.peer_ready_seen && !self.seen.peer_ready_taken {
            self.seen.peer_ready_taken = true;
            m.peer_ready(out);
            return Input::PeerReady;
        }
        if !self.peer.outbox.is_empty() {
            let envelopes: Vec<_> = self.peer.outbox.drain(..).collect();
            return self.frame(Ok(pb::Frame::from(envelopes)), out);
        }
        if let Some(end) = self.peer.end.take() {
            let next = end.map_or(Ok(None), Err);
            reader::take(m, next, self.now, out);
            return Input::Ended;
        }
        Input::Nothing
    }

    fn answer_claim(&mut self) {
        self.seen.claim_answered |= self.seen.claim.is_some();
    }

    /// A read of the stream, through the reader's own step.
    fn frame(&mut self, next: Result<pb::Frame, Status>, out: &mut Vec<Action>) -> Input {
        if let Ok(frame) = &next
            && !self.machine.is_closed()
        {
            self.received.extend(frame.envelopes.iter().cloned());
        }
        let next = next.map(Some);
        if reader::take(&mut self.machine, next, self.now, out) {
            Input::Ended
        } else {
            Input::Frame
        }
    }

    fn resolve(&mut self, env: &Env) -> Option<pb::Envelope> {
        match env {
            Env::Raw(e) => Some(e.clone()),
            Env::Honest => self.peer.outbox.pop_front(),
            Env::Replay(n) => (!self.peer.sent.is_empty())
                .then(|| self.peer.sent[n % self.peer.sent.len()].clone()),
            Env::Recorded(n) => {
                let dialer = self.setup.dialer;
                let recorded = self.recorded.get_or_insert_with(|| recorded(dialer));
                (!recorded.is_empty()).then(|| recorded[n % recorded.len()].clone())
            }
            Env::Reflect => {
                let proof = self.seen.proof.clone().unwrap_or_else(|| vec![0; 32]);
                Some(if self.setup.dialer {
                    Body::Welcome(pb::Welcome { proof }).into()
                } else {
                    Body::Proof(pb::Proof { proof }).into()
                })
            }
        }
    }

    // ------------------------------------------------------------ checks

    /// Checks the actions of one input, in order, and passes what the
    /// machine sent on to the honest peer.
    fn check(&mut self, input: Input, out: Vec<Action>, was_closed: bool) -> Result<(), String> {
        if was_closed && !out.is_empty() {
            return Err(format!("acted after its close: {out:?}"));
        }
        let count = out.len();
        let mut to_peer = Vec::new();
        for (i, action) in out.into_iter().enumerate() {
            match action {
                Action::Send(e) => {
                    self.check_send(input, &e)?;
                    to_peer.push(e);
                }
                Action::Claim(peer) => self.check_claim(input, peer)?,
                Action::Authenticated(peer) => self.check_authenticated(input, peer)?,
                Action::Advert(_) | Action::Deliver(_) => {
                    self.after_authentication(input, "delivered or advertised")?;
                }
                Action::Peers(peers) => {
                    self.after_authentication(input, "reported a PeerList")?;
                    if peers.len() > MAX_PEER_LIST {
                        return Err(format!("took a PeerList of {}", peers.len()));
                    }
                }
                Action::PeerReady => {
                    self.after_authentication(input, "saw the peer's Ready")?;
                    if std::mem::replace(&mut self.seen.peer_ready_seen, true) {
                        return Err("saw the peer's Ready twice".into());
                    }
                }
                Action::Ready => self.check_ready()?,
                Action::RoundTrip(_) => {
                    self.after_authentication(input, "measured a round trip")?;
                    if self.seen.pings == 0 {
                        return Err("a round trip without a Ping".into());
                    }
                }
                Action::Close { reason, farewell } => {
                    if i + 1 != count {
                        return Err("actions after its Close".into());
                    }
                    self.check_close(input, &reason, &farewell)?;
                    if let Some(Ok(frame)) = farewell {
                        to_peer.extend(frame.envelopes);
                    }
                    self.seen.closed = Some(reason);
                }
            }
        }
        if self.machine.is_closed() != self.seen.closed.is_some() {
            return Err(format!(
                "is_closed() says {} after {input:?}",
                self.machine.is_closed()
            ));
        }
        if input == Input::Deadline && !self.seen.ready && self.seen.closed.is_none() {
            return Err("neither ready nor closed after the deadline".into());
        }
        self.peer.hear(to_peer, self.now);
        Ok(())
    }

    fn after_authentication(&self, input: Input, what: &str) -> Result<(), String> {
        if self.seen.authenticated.is_none() {
            return Err(format!("{what} before authentication"));
        }
        if input != Input::Frame {
            return Err(format!("{what} on {input:?}, not on a frame"));
        }
        Ok(())
    }

    fn check_send(&mut self, input: Input, e: &pb::Envelope) -> Result<(), String> {
        let dialer = self.setup.dialer;
        let s = &mut self.seen;
        let ok = match &e.body {
            Some(Body::Hello(h)) => {
                let fresh = s.hello.replace(h.clone()).is_none();
                dialer
                    && fresh
                    && input == Input::Start
                    && h.nonce == self.nonce
                    && h.name == self.local.name
            }
            Some(Body::Challenge(c)) => {
                let fresh = s.challenge.replace(c.clone()).is_none();
                !dialer && fresh && input == Input::Frame && c.nonce == self.nonce
            }
            Some(Body::Proof(p)) => {
                let fresh = s.proof.replace(p.proof.clone()).is_none();
                dialer && fresh && input == Input::Claimed(true) && s.claim.is_some()
            }
            Some(Body::Welcome(w)) => {
                let fresh = s.proof.replace(w.proof.clone()).is_none();
                !dialer && fresh && input == Input::Claimed(true) && s.claim.is_some()
            }
            Some(Body::Goodbye(_)) => false,
            None => false,
            Some(Body::Ready(_)) => {
                let first = !std::mem::replace(&mut s.sent_ready, true);
                first && s.authenticated.is_some() && input == Input::Sync
            }
            Some(Body::Ping(_)) => {
                s.pings += 1;
                input == Input::Tick
                    && s.authenticated
                        .as_ref()
                        .is_some_and(|p| p.version >= PING_VERSION)
            }
            Some(Body::Pong(_)) => s.authenticated.is_some() && input == Input::Frame,
            // The snapshot, and the node's later adverts.
            Some(_) => {
                s.authenticated.is_some()
                    && (input == Input::Send || (input == Input::Sync && !s.sent_ready))
            }
        };
        if ok {
            Ok(())
        } else {
            Err(format!("sent {e:?} on {input:?} with {:?}", self.seen))
        }
    }

    /// The peer the machine names must be the one the handshake named, and
    /// never this node itself.
    fn check_identity(&self, peer: &Peer) -> Result<(), String> {
        if peer.name == self.local.name || peer.incarnation == self.local.incarnation {
            return Err(format!("took itself for a peer: {peer:?}"));
        }
        if !(self.local.min_version..=self.local.max_version).contains(&peer.version) {
            return Err(format!("agreed on a version it does not speak: {peer:?}"));
        }
        Ok(())
    }

    fn check_claim(&mut self, input: Input, peer: Peer) -> Result<(), String> {
        if input != Input::Frame || self.seen.claim.is_some() {
            return Err(format!("claim on {input:?} after {:?}", self.seen.claim));
        }
        self.check_identity(&peer)?;
        if self.setup.dialer {
            // The dialer claims on the acceptor's word, before any proof.
            let Some(Body::Challenge(c)) = self.received.first().and_then(|e| e.body.as_ref())
            else {
                return Err("claimed without a Challenge first".into());
            };
            if (c.name.as_str(), c.incarnation, c.version)
                != (peer.name.as_str(), peer.incarnation, peer.version)
            {
                return Err(format!("claimed {peer:?}, not who the Challenge named"));
            }
        } else {
            // The acceptor claims only a dialer that proved the cookie.
            self.check_dialer_proof(&peer)?;
        }
        self.seen.claim = Some(peer);
        Ok(())
    }

    fn check_authenticated(&mut self, input: Input, peer: Peer) -> Result<(), String> {
        if self.seen.authenticated.is_some() {
            return Err("authenticated twice".into());
        }
        self.check_identity(&peer)?;
        if self.seen.claim.as_ref() != Some(&peer) {
            return Err(format!(
                "authenticated {peer:?}, not the peer claimed ({:?})",
                self.seen.claim
            ));
        }
        if self.setup.dialer {
            if input != Input::Frame || self.seen.proof.is_none() {
                return Err(format!("authenticated on {input:?} before proving"));
            }
            self.check_acceptor_proof()?;
        } else {
            if input != Input::Claimed(true) || self.seen.proof.is_none() {
                return Err(format!("authenticated on {input:?} before welcoming"));
            }
            self.check_dialer_proof(&peer)?;
        }
        self.seen.authenticated = Some(peer);
        Ok(())
    }

    /// Acceptor: the first two envelopes received were a Hello and the
    /// Proof a holder of the cookie makes for it and our Challenge.
    fn check_dialer_proof(&self, peer: &Peer) -> Result<(), String> {
        let (Some(Body::Hello(h)), Some(Body::Proof(p)), Some(c)) = (
            self.received.first().and_then(|e| e.body.as_ref()),
            self.received.get(1).and_then(|e| e.body.as_ref()),
            self.seen.challenge.as_ref(),
        ) else {
            return Err(format!(
                "accepted {peer:?} without Hello, Challenge and Proof: {:?}",
                self.received.get(..2)
            ));
        };
        let t = Transcript {
            dialer_name: &h.name,
            acceptor_name: &self.local.name,
            dialer_nonce: &h.nonce,
            acceptor_nonce: &self.nonce,
            dialer_versions: (h.min_version, h.max_version),
            version: c.version,
            dialer_incarnation: h.incarnation,
            acceptor_incarnation: self.local.incarnation,
            dialer_listen_addr: &h.listen_addr,
            acceptor_listen_addr: &self.local.listen_addr,
        };
        if p.proof != prove(&Cookie::from(COOKIE), Role::Dialer, &t) {
            return Err(format!("accepted a wrong proof from {peer:?}"));
        }
        if (h.name.as_str(), h.incarnation) != (peer.name.as_str(), peer.incarnation) {
            return Err(format!("accepted {peer:?}, not who the Hello named"));
        }
        Ok(())
    }

    /// Dialer: the first two envelopes received were a Challenge and the
    /// Welcome a holder of the cookie makes for it and our Hello.
    fn check_acceptor_proof(&self) -> Result<(), String> {
        let l = &self.local;
        let (Some(Body::Challenge(c)), Some(Body::Welcome(w))) = (
            self.received.first().and_then(|e| e.body.as_ref()),
            self.received.get(1).and_then(|e| e.body.as_ref()),
        ) else {
            return Err(format!(
                "authenticated without Challenge and Welcome: {:?}",
                self.received.get(..2)
            ));
        };
        let t = Transcript {
            dialer_name: &l.name,
            acceptor_name: &c.name,
            dialer_nonce: &self.nonce,
            acceptor_nonce: &c.nonce,
            dialer_versions: (l.min_version, l.max_version),
            version: c.version,
            dialer_incarnation: l.incarnation,
            acceptor_incarnation: c.incarnation,
            dialer_listen_addr: &l.listen_addr,
            acceptor_listen_addr: &c.listen_addr,
        };
        if w.proof != prove(&Cookie::from(COOKIE), Role::Acceptor, &t) {
            return Err("accepted a wrong Welcome proof".into());
        }
        Ok(())
    }

    fn check_ready(&mut self) -> Result<(), String> {
        let s = &self.seen;
        if s.ready || s.authenticated.is_none() || !s.sent_ready || !s.peer_ready_taken {
            return Err(format!("ready with {s:?}"));
        }
        self.seen.ready = true;
        Ok(())
    }

    /// Once, last, with a reason, and the peer hears it (unless it ended
    /// the session): an acceptor's refusal as a status naming the cause,
    /// otherwise a Goodbye naming it.
    fn check_close(
        &self,
        input: Input,
        reason: &DisconnectReason,
        farewell: &Farewell,
    ) -> Result<(), String> {
        if reason.detail.is_empty() {
            return Err(format!("closed without a reason: {reason:?}"));
        }
        if reason.by_peer && !matches!(input, Input::Frame | Input::Ended) {
            return Err(format!("ended by the peer on {input:?}"));
        }
        let cause = reason.cause.as_str();
        let ok = match farewell {
            None => reason.by_peer,
            Some(_) if reason.by_peer => false,
            Some(Err(status)) => {
                !self.setup.dialer
                    && reason.cause != DisconnectCause::Stopped
                    && status.code() == reason.cause.code()
                    && status
                        .metadata()
                        .get(CAUSE_METADATA_KEY)
                        .is_some_and(|v| v.as_bytes() == cause.as_bytes())
            }
            Some(Ok(frame)) => {
                (self.setup.dialer || reason.cause == DisconnectCause::Stopped)
                    && matches!(
                        frame.envelopes.as_slice(),
                        [pb::Envelope { body: Some(Body::Goodbye(g)) }] if g.cause == cause
                    )
            }
        };
        if ok {
            Ok(())
        } else {
            Err(format!("closed for {reason:?} with farewell {farewell:?}"))
        }
    }

    fn count(&self) {
        let s = &self.seen;
        STATS.runs.fetch_add(1, Ordering::Relaxed);
        let reached = [
            (s.claim.is_some(), &STATS.claimed),
            (s.authenticated.is_some(), &STATS.authenticated),
            (s.ready, &STATS.ready),
        ];
        for (yes, counter) in reached {
            if yes {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }
        if let Some(reason) = &s.closed
            && let Some(i) = CAUSES.iter().position(|c| *c == reason.cause)
        {
            STATS.closes[i].fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Decodes a frame as the gRPC codec does: bytes that are not a `Frame`
/// fail the read with INTERNAL.
fn decode(bytes: &[u8]) -> Result<pb::Frame, Status> {
    pb::Frame::decode(bytes).map_err(|e| Status::internal(e.to_string()))
}

/// A status with this code, no message, and the cause trailer if given.
fn status_of(code: i32, cause: Option<u8>) -> Status {
    let mut status = Status::new(Code::from_i32(code), "");
    if let Some(i) = cause {
        let cause = CAUSES[usize::from(i) % CAUSES.len()];
        status.metadata_mut().insert(
            CAUSE_METADATA_KEY,
            MetadataValue::from_static(cause.as_str()),
        );
    }
    status
}

/// How far the runs got, over the whole process.
#[derive(Debug)]
struct Stats {
    runs: AtomicU64,
    claimed: AtomicU64,
    authenticated: AtomicU64,
    ready: AtomicU64,
    closes: [AtomicU64; CAUSES.len()],
}

static STATS: Stats = Stats {
    runs: AtomicU64::new(0),
    claimed: AtomicU64::new(0),
    authenticated: AtomicU64::new(0),
    ready: AtomicU64::new(0),
    closes: [const { AtomicU64::new(0) }; CAUSES.len()],
};

/// How far the runs of this process got: runs, claims, authentications,
/// ready sessions, and the causes of the closes.
#[cfg(test)]
pub(crate) fn stats() -> String {
    let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let closes: Vec<String> = CAUSES
        .iter()
        .zip(&STATS.closes)
        .filter(|(_, c)| n(c) > 0)
        .map(|(cause, c)| format!("{cause} {}", n(c)))
        .collect();
    format!(
        "{} runs: {} claimed, {} authenticated, {} ready; closed by {}",
        n(&STATS.runs),
        n(&STATS.claimed),
        n(&STATS.authenticated),
        n(&STATS.ready),
        closes.join(", ")
    )
}

// ------------------------------------------------------------ bytes

/// Reads a script from bytes: what the cargo-fuzz target plays.
#[derive(Debug)]
struct ByteScript<'a>(&'a [u8]);

impl ByteScript<'_> {
    fn byte(&mut self) -> u8 {
        let (&b, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        b
    }

    fn bytes(&mut self) -> Vec<u8> {
        let len = usize::from(self.byte());
        let (head, rest) = self.0.split_at(len.min(self.0.len()));
        self.0 = rest;
        head.to_vec()
    }

    fn step(&mut self) -> Step {
        match self.byte() % 16 {
            0..=2 => Step::Auto,
            3 | 4 => Step::Bytes(self.bytes()),
            5 => Step::Spliced(self.bytes()),
            6 => Step::Frame(vec![Env::Honest]),
            7 => Step::Frame(vec![match self.byte() % 3 {
                0 => Env::Replay(usize::from(self.byte())),
                1 => Env::Recorded(usize::from(self.byte())),
                _ => Env::Reflect,
            }]),
            8 => Step::Tick(u16::from_be_bytes([self.byte(), self.byte()])),
            9 => Step::Deadline,
            10 => Step::Claimed(!self.byte().is_multiple_of(4)),
            11 => Step::Sync(self.byte() % 4),
            12 => Step::PeerReady,
            13 => Step::Send(self.byte() % 4),
            14 => Step::Ended(match self.byte() {
                0..=127 => None,
                b => Some((i32::from(b % 17), b.is_multiple_of(2).then(|| self.byte()))),
            }),
            _ => Step::Close,
        }
    }
}

/// Most steps a byte script plays.
const MAX_BYTE_STEPS: usize = 64;

/// Reads `data` as a script: a setup from its first three bytes, then
/// steps. What the cargo-fuzz target `session` plays.
pub(crate) fn script_from_bytes(data: &[u8]) -> (Setup, Vec<Step>) {
    let mut script = ByteScript(data);
    let (flags, prefix, nonce) = (script.byte(), script.byte(), script.byte());
    let setup = Setup {
        dialer: flags & 1 == 1,
        peer_knows_cookie: flags & 2 == 0,
        peer_versions: PEER_VERSIONS[usize::from(flags >> 2) % PEER_VERSIONS.len()],
        nonce,
        prefix: prefix % 16,
    };
    let mut steps = Vec::new();
    while !script.0.is_empty() && steps.len() < MAX_BYTE_STEPS {
        steps.push(script.step());
    }
    (setup, steps)
}

/// How far into a session [`play_frame`] puts a frame: fresh, after the
/// first honest envelope, after the second, after the claim, and ready.
const FRAME_PREFIXES: [u8; 5] = [0, 1, 2, 3, 13];

/// Plays `bytes` as one frame read off the stream (decoded as the reader
/// decodes it) against an acceptor and a dialer at each of
/// [`FRAME_PREFIXES`]. What the cargo-fuzz target `frame` runs.
pub(crate) fn play_frame(bytes: &[u8]) -> Result<(), String> {
    for dialer in [false, true] {
        for prefix in FRAME_PREFIXES {
            let setup = Setup {
                dialer,
                peer_knows_cookie: true,
                peer_versions: (1, 2),
                nonce: 1,
                prefix,
            };
            Run::play(setup, &[Step::Bytes(bytes.to_vec())]).map_err(|e| {
                format!(
                    "{} after {prefix} honest steps: {e}",
                    if dialer { "dialer" } else { "acceptor" }
                )
            })?;
        }
    }
    Ok(())
}
