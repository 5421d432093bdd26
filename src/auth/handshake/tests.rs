//! The handshake state machine driven without I/O: a bounded stepping harness
//! for whole exchanges, then hand-written, replayed and garbage inputs.

use std::collections::{HashSet, VecDeque};

use hmac::{Hmac, Mac};
use prost::Message;
use rand::{Rng, SeedableRng, rngs::StdRng};
use sha2::Sha256;

use super::*;
use crate::auth::Cookie;

const COOKIE: &str = "the cluster cookie";
const DIALER_NONCE: Nonce = [1u8; 32];
const ACCEPTOR_NONCE: Nonce = [2u8; 32];

// ------------------------------------------------------------ fixtures

fn local(name: &str, incarnation: u64, cookie: &str, versions: (u32, u32)) -> Arc<Local> {
    Arc::new(Local {
        name: name.to_owned(),
        incarnation,
        listen_addr: format!("127.0.0.1:{}", 4000 + incarnation),
        cookie: Cookie::from(cookie),
        min_version: versions.0,
        max_version: versions.1,
    })
}

fn node_a() -> Arc<Local> {
    local("node-a", 0xA, COOKIE, (1, 1))
}

fn node_b() -> Arc<Local> {
    local("node-b", 0xB, COOKIE, (1, 1))
}

/// What `local` looks like to a peer that finished a handshake at `version`.
fn peer_of(local: &Local, version: u32) -> Peer {
    Peer {
        name: local.name.clone(),
        incarnation: local.incarnation,
        listen_addr: local.listen_addr.clone(),
        version,
    }
}

fn env(body: Body) -> pb::Envelope {
    pb::Envelope { body: Some(body) }
}

/// The Hello `node_a()` sends with `DIALER_NONCE`, to be bent by a test.
fn valid_hello() -> pb::Hello {
    let (_, hello) = AwaitChallenge::start(node_a(), DIALER_NONCE);
    match hello.body {
        Some(Body::Hello(h)) => h,
        other => panic!("start must produce a Hello, got {other:?}"),
    }
}

/// The Challenge `node_b()` answers `valid_hello()` with, to be bent by a test.
fn valid_challenge() -> pb::Challenge {
    let (_, challenge) = AwaitHello::new(node_b(), ACCEPTOR_NONCE)
        .on_envelope(env(Body::Hello(valid_hello())))
        .expect("the valid Hello is accepted");
    match challenge.body {
        Some(Body::Challenge(c)) => c,
        other => panic!("AwaitHello must produce a Challenge, got {other:?}"),
    }
}

/// `node_b()` as acceptor, having answered `valid_hello()`.
fn await_proof() -> AwaitProof {
    AwaitHello::new(node_b(), ACCEPTOR_NONCE)
        .on_envelope(env(Body::Hello(valid_hello())))
        .expect("the valid Hello is accepted")
        .0
}

/// `node_a()` as dialer, having proved itself to `node_b()`.
fn await_welcome() -> AwaitWelcome {
    let (dialer, _) = AwaitChallenge::start(node_a(), DIALER_NONCE);
    dialer
        .on_envelope(env(Body::Challenge(valid_challenge())))
        .expect("the valid Challenge is accepted")
        .prove()
        .0
}

/// The transcript of a handshake between `node_a()` (dialing) and `node_b()`.
fn a_to_b_transcript() -> Transcript<'static> {
    Transcript {
        dialer_name: "node-a",
        acceptor_name: "node-b",
        dialer_nonce: &DIALER_NONCE,
        acceptor_nonce: &ACCEPTOR_NONCE,
        dialer_versions: (1, 1),
        version: 1,
        dialer_incarnation: 0xA,
        acceptor_incarnation: 0xB,
        dialer_listen_addr: "127.0.0.1:4010",
        acceptor_listen_addr: "127.0.0.1:4011",
    }
}

// ------------------------------------------------------------ harness

/// Which way an envelope travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Towards {
    Acceptor,
    Dialer,
}

/// Where one side of a driven handshake ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Authenticated(Peer),
    Failed(HandshakeError),
    /// The exchange went quiet while this side still expected the named envelope.
    Waiting(&'static str),
}

impl Outcome {
    fn error(&self) -> &HandshakeError {
        match self {
            Self::Failed(e) => e,
            other => panic!("expected a failed handshake, got {other:?}"),
        }
    }
}

enum Dialer {
    AwaitChallenge(AwaitChallenge),
    AwaitWelcome(AwaitWelcome),
    Done(Outcome),
}

impl Dialer {
    /// Takes one envelope; returns what to send back.
    fn step(self, envelope: pb::Envelope) -> (Self, Option<pb::Envelope>) {
        match self {
            Self::AwaitChallenge(s) => match s.on_envelope(envelope) {
                // A real driver consults the arbiter here; the harness proceeds.
                Ok(received) => {
                    let (next, proof) = received.prove();
                    (Self::AwaitWelcome(next), Some(proof))
                }
                Err(e) => (Self::Done(Outcome::Failed(e)), None),
            },
            Self::AwaitWelcome(s) => match s.on_envelope(envelope) {
                Ok(auth) => (Self::Done(Outcome::Authenticated(auth.peer)), None),
                Err(e) => (Self::Done(Outcome::Failed(e)), None),
            },
            // A finished side sends nothing more and ignores what arrives.
            done @ Self::Done(_) => (done, None),
        }
    }

    fn outcome(self) -> Outcome {
        match self {
            Self::AwaitChallenge(_) => Outcome::Waiting("Challenge"),
            Self::AwaitWelcome(_) => Outcome::Waiting("Welcome"),
            Self::Done(o) => o,
        }
    }
}

enum Acceptor {
    AwaitHello(AwaitHello),
    AwaitProof(AwaitProof),
    Done(Outcome),
}

impl Acceptor {
    /// Takes one envelope; returns what to send back.
    fn step(self, envelope: pb::Envelope) -> (Self, Option<pb::Envelope>) {
        match self {
            Self::AwaitHello(s) => match s.on_envelope(envelope) {
                Ok((next, challenge)) => (Self::AwaitProof(next), Some(challenge)),
                Err(e) => (Self::Done(Outcome::Failed(e)), None),
            },
            Self::AwaitProof(s) => match s.on_envelope(envelope) {
                // A real driver consults the arbiter here; the harness proceeds.
                Ok(verified) => {
                    let (auth, welcome) = verified.welcome();
                    (Self::Done(Outcome::Authenticated(auth.peer)), Some(welcome))
                }
                Err(e) => (Self::Done(Outcome::Failed(e)), None),
            },
            done @ Self::Done(_) => (done, None),
        }
    }

    fn outcome(self) -> Outcome {
        match self {
            Self::AwaitHello(_) => Outcome::Waiting("Hello"),
            Self::AwaitProof(_) => Outcome::Waiting("Proof"),
            Self::Done(o) => o,
        }
    }
}

/// How a driven handshake ended, and every envelope delivered on the way.
#[derive(Debug)]
struct Driven {
    dialer: Outcome,
    acceptor: Outcome,
    delivered: Vec<(Towards, pb::Envelope)>,
}

impl Driven {
    /// The first delivered envelope of this kind.
    fn first(&self, kind_name: &str) -> &pb::Envelope {
        self.delivered
            .iter()
            .map(|(_, e)| e)
            .find(|e| kind(e) == kind_name)
            .unwrap_or_else(|| panic!("no {kind_name} was delivered: {:?}", self.delivered))
    }
}

/// Two sides of one handshake and the nonces they draw.
struct Pair {
    dialer: Arc<Local>,
    dialer_nonce: Nonce,
    acceptor: Arc<Local>,
    acceptor_nonce: Nonce,
}

impl Pair {
    /// The handshake has four envelopes; anything longer is a bug in the harness
    /// or the state machine.
    const MAX_STEPS: usize = 8;

    fn new(dialer: Arc<Local>, acceptor: Arc<Local>) -> Self {
        Self {
            dialer,
            dialer_nonce: DIALER_NONCE,
            acceptor,
            acceptor_nonce: ACCEPTOR_NONCE,
        }
    }

    fn drive(self) -> Driven {
        self.drive_with(|_, e| e)
    }

    /// Delivers envelopes one at a time until both sides are quiet, passing
    /// each through `tamper` (a man in the middle) first. Panics if the
    /// exchange does not settle within `MAX_STEPS` deliveries.
    fn drive_with(self, mut tamper: impl FnMut(Towards, pb::Envelope) -> pb::Envelope) -> Driven {
        let (dialer, hello) = AwaitChallenge::start(self.dialer, self.dialer_nonce);
        let mut dialer = Dialer::AwaitChallenge(dialer);
        let mut acceptor =
            Acceptor::AwaitHello(AwaitHello::new(self.acceptor, self.acceptor_nonce));
        let mut to_acceptor = VecDeque::from([hello]);
        let mut to_dialer = VecDeque::new();
        let mut delivered = Vec::new();
        for _ in 0..Self::MAX_STEPS {
            let (towards, envelope) = if let Some(e) = to_acceptor.pop_front() {
                (Towards::Acceptor, e)
            } else if let Some(e) = to_dialer.pop_front() {
                (Towards::Dialer, e)
            } else {
                return Driven {
                    dialer: dialer.outcome(),
                    acceptor: acceptor.outcome(),
                    delivered,
                };
            };
            let envelope = tamper(towards, envelope);
            delivered.push((towards, envelope.clone()));
            match towards {
                Towards::Acceptor => {
                    let (next, reply) = acceptor.step(envelope);
                    acceptor = next;
                    to_dialer.extend(reply);
                }
                Towards::Dialer => {
                    let (next, reply) = dialer.step(envelope);
                    dialer = next;
                    to_acceptor.extend(reply);
                }
            }
        }
        panic!(
            "the handshake did not settle within {} steps: {delivered:?}",
            Self::MAX_STEPS
        );
    }
}

// ------------------------------------------------------------ happy path

#[test]
fn a_dials_b_and_both_sides_authenticate_the_other() {
    let driven = Pair::new(node_a(), node_b()).drive();
    assert_eq!(driven.dialer, Outcome::Authenticated(peer_of(&node_b(), 1)));
    assert_eq!(
        driven.acceptor,
        Outcome::Authenticated(peer_of(&node_a(), 1))
    );
    let kinds: Vec<_> = driven
        .delivered
        .iter()
        .map(|(to, e)| (*to, kind(e)))
        .collect();
    assert_eq!(
        kinds,
        [
            (Towards::Acceptor, "Hello"),
            (Towards::Dialer, "Challenge"),
            (Towards::Acceptor, "Proof"),
            (Towards::Dialer, "Welcome"),
        ]
    );
}

#[test]
fn b_dials_a_and_both_sides_authenticate_the_other() {
    let driven = Pair::new(node_b(), node_a()).drive();
    assert_eq!(driven.dialer, Outcome::Authenticated(peer_of(&node_a(), 1)));
    assert_eq!(
        driven.acceptor,
        Outcome::Authenticated(peer_of(&node_b(), 1))
    );
}

#[test]
fn hello_and_challenge_carry_each_sides_identity() {
    assert_eq!(
        valid_hello(),
        pb::Hello {
            name: "node-a".into(),
            nonce: DIALER_NONCE.to_vec(),
            min_version: 1,
            max_version: 1,
            incarnation: 0xA,
            listen_addr: node_a().listen_addr.clone(),
        }
    );
    assert_eq!(
        valid_challenge(),
        pb::Challenge {
            name: "node-b".into(),
            nonce: ACCEPTOR_NONCE.to_vec(),
            version: 1,
            incarnation: 0xB,
            listen_addr: node_b().listen_addr.clone(),
        }
    );
}

#[test]
fn both_commit_points_name_the_peer_before_anything_is_sent() {
    let (dialer, hello) = AwaitChallenge::start(node_a(), DIALER_NONCE);
    let (acceptor, challenge) = AwaitHello::new(node_b(), ACCEPTOR_NONCE)
        .on_envelope(hello)
        .expect("hello accepted");
    let received = dialer.on_envelope(challenge).expect("challenge accepted");
    assert_eq!(received.peer(), &peer_of(&node_b(), 1));
    let (dialer, proof) = received.prove();
    let verified = acceptor.on_envelope(proof).expect("proof accepted");
    assert_eq!(verified.peer(), &peer_of(&node_a(), 1));
    let (acceptor_auth, welcome) = verified.welcome();
    let dialer_auth = dialer.on_envelope(welcome).expect("welcome accepted");
    assert_eq!(acceptor_auth.peer, peer_of(&node_a(), 1));
    assert_eq!(dialer_auth.peer, peer_of(&node_b(), 1));
}

// ------------------------------------------------------------ wrong cookie

#[test]
fn a_dialer_with_the_wrong_cookie_fails_at_the_acceptor() {
    let dialer = local("node-a", 0xA, "not the cookie", (1, 1));
    let driven = Pair::new(dialer, node_b()).drive();
    assert_eq!(driven.acceptor, Outcome::Failed(HandshakeError::BadProof));
    assert_eq!(driven.acceptor.error().cause(), DisconnectCause::BadCookie);
    // The refusing acceptor sends no Welcome, so the dialer learns nothing.
    assert_eq!(driven.dialer, Outcome::Waiting("Welcome"));
}

#[test]
fn an_acceptor_with_the_wrong_cookie_refuses_the_honest_dialers_proof() {
    let acceptor = local("node-b", 0xB, "not the cookie", (1, 1));
    let driven = Pair::new(node_a(), acceptor).drive();
    assert_eq!(driven.acceptor, Outcome::Failed(HandshakeError::BadProof));
    assert_eq!(driven.dialer, Outcome::Waiting("Welcome"));
}

#[test]
fn a_welcome_forged_with_another_cookie_fails_at_the_dialer() {
    // The forger sees the whole transcript; only the cookie differs.
    let forged = prove(
        &Cookie::from("not the cookie"),
        Role::Acceptor,
        &a_to_b_transcript(),
    );
    let driven = Pair::new(node_a(), node_b()).drive_with(|to, e| match e.body {
        Some(Body::Welcome(_)) if to == Towards::Dialer => env(Body::Welcome(pb::Welcome {
            proof: forged.clone(),
        })),
        _ => e,
    });
    assert_eq!(driven.dialer, Outcome::Failed(HandshakeError::BadProof));
    assert_eq!(driven.dialer.error().cause(), DisconnectCause::BadCookie);
}

#[test]
fn a_man_in_the_middle_welcome_with_random_proof_fails_at_the_dialer() {
    let mut rng = StdRng::seed_from_u64(7);
    for _ in 0..16 {
        let proof: Vec<u8> = (0..32).map(|_| rng.random::<u8>()).collect();
        let driven = Pair::new(node_a(), node_b()).drive_with(|to, e| match e.body {
            Some(Body::Welcome(_)) if to == Towards::Dialer => env(Body::Welcome(pb::Welcome {
                proof: proof.clone(),
            })),
            _ => e,
        });
        assert_eq!(
            driven.dialer,
            Outcome::Failed(HandshakeError::BadProof),
            "random proof {proof:02x?}"
        );
    }
}

// ------------------------------------------------------------ versions

#[test]
fn disjoint_version_ranges_are_refused_by_the_acceptor() {
    let dialer = local("node-a", 0xA, COOKIE, (2, 3));
    let driven = Pair::new(dialer, node_b()).drive();
    assert_eq!(
        driven.acceptor,
        Outcome::Failed(HandshakeError::VersionMismatch {
            ours_min: 1,
            ours_max: 1,
            theirs_min: 2,
            theirs_max: 3,
        })
    );
    assert_eq!(
        driven.acceptor.error().cause(),
        DisconnectCause::VersionMismatch
    );
    assert_eq!(driven.dialer, Outcome::Waiting("Challenge"));

    // And the other way round: the dialer is too old for the acceptor.
    let acceptor = local("node-b", 0xB, COOKIE, (2, 3));
    let driven = Pair::new(node_a(), acceptor).drive();
    assert!(
        matches!(
            driven.acceptor,
            Outcome::Failed(HandshakeError::VersionMismatch { .. })
        ),
        "{driven:?}"
    );
}

#[test]
fn a_challenge_choosing_a_version_outside_the_dialers_range_is_refused() {
    for version in [0, 2, u32::MAX] {
        let (dialer, _) = AwaitChallenge::start(node_a(), DIALER_NONCE);
        let challenge = pb::Challenge {
            version,
            ..valid_challenge()
        };
        let err = dialer
            .on_envelope(env(Body::Challenge(challenge)))
            .expect_err("version outside 1..=1");
        assert_eq!(
            err,
            HandshakeError::VersionMismatch {
                ours_min: 1,
                ours_max: 1,
                theirs_min: version,
                theirs_max: version,
            }
        );
        assert_eq!(err.cause(), DisconnectCause::VersionMismatch);
    }
}

#[test]
fn overlapping_version_ranges_agree_on_the_highest_common_version() {
    for (dialer, acceptor, expected) in [
        ((1, 3), (2, 5), 3),
        ((2, 5), (1, 3), 3),
        ((1, 2), (2, 4), 2),
        ((3, 3), (1, 9), 3),
        ((1, 9), (4, 6), 6),
    ] {
        let d = local("node-a", 0xA, COOKIE, dialer);
        let a = local("node-b", 0xB, COOKIE, acceptor);
        let driven = Pair::new(d.clone(), a.clone()).drive();
        assert_eq!(
            driven.dialer,
            Outcome::Authenticated(peer_of(&a, expected)),
            "dialer {dialer:?} acceptor {acceptor:?}"
        );
        assert_eq!(
            driven.acceptor,
            Outcome::Authenticated(peer_of(&d, expected)),
            "dialer {dialer:?} acceptor {acceptor:?}"
        );
    }
}

#[test]
fn a_man_in_the_middle_cannot_downgrade_the_version() {
    let dialer = local("node-a", 0xA, COOKIE, (1, 3));
    let acceptor = local("node-b", 0xB, COOKIE, (1, 3));
    let driven = Pair::new(dialer, acceptor).drive_with(|to, e| match e.body {
        Some(Body::Hello(h)) if to == Towards::Acceptor => env(Body::Hello(pb::Hello {
            max_version: 1,
            ..h
        })),
        _ => e,
    });
    // Both sides speak 3. Rewriting the Hello must not leave them on 1.
    for (side, outcome) in [("dialer", &driven.dialer), ("acceptor", &driven.acceptor)] {
        assert!(
            !matches!(outcome, Outcome::Authenticated(p) if p.version < 3),
            "the {side} was downgraded: {outcome:?}"
        );
    }
}

#[test]
fn a_man_in_the_middle_cannot_rewrite_any_hello_or_challenge_field() {
    type Tamper = fn(Towards, pb::Envelope) -> pb::Envelope;
    let tampers: [(&str, Tamper); 4] = [
        ("Hello.incarnation", |to, e| match e.body {
            Some(Body::Hello(h)) if to == Towards::Acceptor => env(Body::Hello(pb::Hello {
                incarnation: 0xEE,
                ..h
            })),
            _ => e,
        }),
        ("Hello.listen_addr", |to, e| match e.body {
            Some(Body::Hello(h)) if to == Towards::Acceptor => env(Body::Hello(pb::Hello {
                listen_addr: "192.0.2.1:1".into(),
                ..h
            })),
            _ => e,
        }),
        ("Challenge.incarnation", |to, e| match e.body {
            Some(Body::Challenge(c)) if to == Towards::Dialer => {
                env(Body::Challenge(pb::Challenge {
                    incarnation: 0xEE,
                    ..c
                }))
            }
            _ => e,
        }),
        ("Challenge.listen_addr", |to, e| match e.body {
            Some(Body::Challenge(c)) if to == Towards::Dialer => {
                env(Body::Challenge(pb::Challenge {
                    listen_addr: "192.0.2.1:1".into(),
                    ..c
                }))
            }
            _ => e,
        }),
    ];
    for (field, tamper) in tampers {
        let driven = Pair::new(node_a(), node_b()).drive_with(tamper);
        let refused = [&driven.dialer, &driven.acceptor]
            .into_iter()
            .any(|o| matches!(o, Outcome::Failed(HandshakeError::BadProof)));
        assert!(refused, "rewriting {field} went unnoticed: {driven:?}");
        assert!(
            !matches!(
                (&driven.dialer, &driven.acceptor),
                (Outcome::Authenticated(_), Outcome::Authenticated(_))
            ),
            "{field}"
        );
    }
}

// ------------------------------------------------------------ wrong envelopes

fn every_other_body() -> Vec<pb::Envelope> {
    vec![
        env(Body::Hello(valid_hello())),
        env(Body::Challenge(valid_challenge())),
        env(Body::Proof(pb::Proof { proof: vec![0; 32] })),
        env(Body::Welcome(pb::Welcome { proof: vec![0; 32] })),
        env(Body::Ready(pb::Ready {})),
        env(Body::Goodbye(pb::Goodbye {
            code: 0,
            reason: "bye".into(),
            cause: "stopped".into(),
        })),
        pb::Envelope { body: None },
    ]
}

#[test]
fn an_acceptor_accepts_only_hello_as_the_first_envelope() {
    for envelope in every_other_body() {
        let got = kind(&envelope);
        if got == "Hello" {
            continue;
        }
        let err = AwaitHello::new(node_b(), ACCEPTOR_NONCE)
            .on_envelope(envelope)
            .map(|_| ())
            .expect_err(got);
        assert_eq!(
            err,
            HandshakeError::Unexpected {
                expected: "Hello",
                got
            }
        );
        assert_eq!(err.cause(), DisconnectCause::ProtocolViolation);
    }
}

#[test]
fn each_waiting_state_refuses_every_other_kind() {
    for envelope in every_other_body() {
        let got = kind(&envelope);
        if got != "Challenge" {
            let err = AwaitChallenge::start(node_a(), DIALER_NONCE)
                .0
                .on_envelope(envelope.clone())
                .map(|_| ())
                .expect_err(got);
            assert_eq!(
                err,
                HandshakeError::Unexpected {
                    expected: "Challenge",
                    got
                }
            );
        }
        if got != "Proof" {
            let err = await_proof()
                .on_envelope(envelope.clone())
                .map(|_| ())
                .expect_err(got);
            assert_eq!(
                err,
                HandshakeError::Unexpected {
                    expected: "Proof",
                    got
                }
            );
        }
        if got != "Welcome" {
            let err = await_welcome()
                .on_envelope(envelope.clone())
                .map(|_| ())
                .expect_err(got);
            assert_eq!(
                err,
                HandshakeError::Unexpected {
                    expected: "Welcome",
                    got
                }
            );
        }
    }
}

#[test]
fn a_welcome_before_the_challenge_is_unexpected() {
    let (dialer, _) = AwaitChallenge::start(node_a(), DIALER_NONCE);
    let err = dialer
        .on_envelope(env(Body::Welcome(pb::Welcome { proof: vec![0; 32] })))
        .map(|_| ())
        .expect_err("Welcome skips the Challenge");
    assert_eq!(
        err,
        HandshakeError::Unexpected {
            expected: "Challenge",
            got: "Welcome"
        }
    );
}

#[test]
fn an_envelope_without_a_body_is_unexpected_everywhere() {
    let empty = || pb::Envelope { body: None };
    let unexpected = |expected| HandshakeError::Unexpected {
        expected,
        got: "an empty envelope",
    };
    let results = [
        (
            "Hello",
            AwaitHello::new(node_b(), ACCEPTOR_NONCE)
                .on_envelope(empty())
                .map(|_| ()),
        ),
        (
            "Challenge",
            AwaitChallenge::start(node_a(), DIALER_NONCE)
                .0
                .on_envelope(empty())
                .map(|_| ()),
        ),
        ("Proof", await_proof().on_envelope(empty()).map(|_| ())),
        ("Welcome", await_welcome().on_envelope(empty()).map(|_| ())),
    ];
    for (expected, result) in results {
        assert_eq!(result, Err(unexpected(expected)));
    }
}

#[test]
fn a_dialer_sending_ready_instead_of_its_proof_is_refused() {
    let driven = Pair::new(node_a(), node_b()).drive_with(|to, e| match e.body {
        Some(Body::Proof(_)) if to == Towards::Acceptor => env(Body::Ready(pb::Ready {})),
        _ => e,
    });
    assert_eq!(
        driven.acceptor,
        Outcome::Failed(HandshakeError::Unexpected {
            expected: "Proof",
            got: "Ready"
        })
    );
}

// ------------------------------------------------------------ replay, reflection

#[test]
fn a_proof_replayed_into_a_handshake_with_a_fresh_nonce_is_refused() {
    let first = Pair::new(node_a(), node_b()).drive();
    assert!(matches!(first.acceptor, Outcome::Authenticated(_)));
    let hello = first.first("Hello").clone();
    let proof = first.first("Proof").clone();

    // Control: the same acceptor nonce would accept the recording, so the
    // refusal below is due to the fresh nonce alone.
    let (same, _) = AwaitHello::new(node_b(), ACCEPTOR_NONCE)
        .on_envelope(hello.clone())
        .expect("recorded hello");
    assert!(same.on_envelope(proof.clone()).is_ok());

    // The attacker replays the dialer's Hello and Proof verbatim.
    let (fresh, _) = AwaitHello::new(node_b(), [3u8; 32])
        .on_envelope(hello)
        .expect("recorded hello");
    assert_eq!(
        fresh.on_envelope(proof).map(|_| ()),
        Err(HandshakeError::BadProof)
    );
}

#[test]
fn a_welcome_proof_reflected_as_a_dialer_proof_is_refused() {
    let first = Pair::new(node_a(), node_b()).drive();
    let Some(Body::Welcome(welcome)) = first.first("Welcome").body.clone() else {
        panic!("no Welcome body");
    };
    // Same transcript (same names and nonces); only the role differs.
    let err = await_proof()
        .on_envelope(env(Body::Proof(pb::Proof {
            proof: welcome.proof,
        })))
        .map(|_| ())
        .expect_err("the acceptor's own proof is not a dialer proof");
    assert_eq!(err, HandshakeError::BadProof);
}

#[test]
fn a_dialer_proof_reflected_as_a_welcome_is_refused() {
    let first = Pair::new(node_a(), node_b()).drive();
    let Some(Body::Proof(proof)) = first.first("Proof").body.clone() else {
        panic!("no Proof body");
    };
    let err = await_welcome()
        .on_envelope(env(Body::Welcome(pb::Welcome { proof: proof.proof })))
        .map(|_| ())
        .expect_err("the dialer's own proof is not an acceptor proof");
    assert_eq!(err, HandshakeError::BadProof);
}

// ------------------------------------------------------------ malformed, identity

fn hello_result(hello: pb::Hello) -> Result<(), HandshakeError> {
    AwaitHello::new(node_b(), ACCEPTOR_NONCE)
        .on_envelope(env(Body::Hello(hello)))
        .map(|_| ())
}

fn challenge_result(challenge: pb::Challenge) -> Result<(), HandshakeError> {
    AwaitChallenge::start(node_a(), DIALER_NONCE)
        .0
        .on_envelope(env(Body::Challenge(challenge)))
        .map(|_| ())
}

fn assert_malformed(result: Result<(), HandshakeError>, case: &str) {
    let err = result.expect_err(case);
    assert!(
        matches!(err, HandshakeError::Malformed { .. }),
        "{case}: {err:?}"
    );
    assert_eq!(err.cause(), DisconnectCause::ProtocolViolation, "{case}");
}

#[test]
fn malformed_hellos_are_refused() {
    let cases = [
        (
            "empty name",
            pb::Hello {
                name: String::new(),
                ..valid_hello()
            },
        ),
        (
            "256-byte name",
            pb::Hello {
                name: "n".repeat(256),
                ..valid_hello()
            },
        ),
        (
            "31-byte nonce",
            pb::Hello {
                nonce: vec![1; 31],
                ..valid_hello()
            },
        ),
        (
            "33-byte nonce",
            pb::Hello {
                nonce: vec![1; 33],
                ..valid_hello()
            },
        ),
        (
            "empty nonce",
            pb::Hello {
                nonce: Vec::new(),
                ..valid_hello()
            },
        ),
        (
            "min_version above max_version",
            pb::Hello {
                min_version: 2,
                max_version: 1,
                ..valid_hello()
            },
        ),
    ];
    for (case, hello) in cases {
        assert_malformed(hello_result(hello), case);
    }
}

#[test]
fn malformed_challenges_are_refused() {
    let cases = [
        (
            "empty name",
            pb::Challenge {
                name: String::new(),
                ..valid_challenge()
            },
        ),
        (
            "256-byte name",
            pb::Challenge {
                name: "n".repeat(256),
                ..valid_challenge()
            },
        ),
        (
            "31-byte nonce",
            pb::Challenge {
                nonce: vec![2; 31],
                ..valid_challenge()
            },
        ),
        (
            "33-byte nonce",
            pb::Challenge {
                nonce: vec![2; 33],
                ..valid_challenge()
            },
        ),
    ];
    for (case, challenge) in cases {
        assert_malformed(challenge_result(challenge), case);
    }
}

#[test]
fn a_255_byte_name_is_the_longest_accepted() {
    let long = "n".repeat(MAX_NAME_LEN);
    assert_eq!(
        hello_result(pb::Hello {
            name: long.clone(),
            ..valid_hello()
        }),
        Ok(())
    );
    assert_eq!(
        challenge_result(pb::Challenge {
            name: long.clone(),
            ..valid_challenge()
        }),
        Ok(())
    );
    // And a full handshake between two such nodes authenticates.
    let d = local(&long, 1, COOKIE, (1, 1));
    let a = local(&"m".repeat(MAX_NAME_LEN), 2, COOKIE, (1, 1));
    let driven = Pair::new(d.clone(), a.clone()).drive();
    assert_eq!(driven.dialer, Outcome::Authenticated(peer_of(&a, 1)));
    assert_eq!(driven.acceptor, Outcome::Authenticated(peer_of(&d, 1)));
}

#[test]
fn a_node_dialling_itself_is_a_self_connection() {
    // The same process on both ends: same name, same incarnation.
    let driven = Pair::new(node_a(), node_a()).drive();
    assert_eq!(
        driven.acceptor,
        Outcome::Failed(HandshakeError::SelfConnection)
    );
    assert_eq!(
        driven.acceptor.error().cause(),
        DisconnectCause::SelfConnection
    );
    // The incarnation decides, even under another name.
    assert_eq!(
        hello_result(pb::Hello {
            name: "alias".into(),
            incarnation: 0xB,
            ..valid_hello()
        }),
        Err(HandshakeError::SelfConnection)
    );
    assert_eq!(
        challenge_result(pb::Challenge {
            incarnation: 0xA,
            ..valid_challenge()
        }),
        Err(HandshakeError::SelfConnection)
    );
}

#[test]
fn another_process_with_the_same_name_is_a_duplicate() {
    let twin = local("node-b", 0xB2, COOKIE, (1, 1));
    let driven = Pair::new(twin, node_b()).drive();
    assert_eq!(
        driven.acceptor,
        Outcome::Failed(HandshakeError::DuplicateName("node-b".into()))
    );
    assert_eq!(
        driven.acceptor.error().cause(),
        DisconnectCause::DuplicateName
    );
    assert_eq!(
        challenge_result(pb::Challenge {
            name: "node-a".into(),
            ..valid_challenge()
        }),
        Err(HandshakeError::DuplicateName("node-a".into()))
    );
}

// ------------------------------------------------------------ garbage

/// Feeds one envelope to a fresh state of every kind: each must answer
/// without panicking, and only the kind it waits for may succeed.
fn feed_everywhere(envelope: &pb::Envelope) {
    let got = kind(envelope);
    let results = [
        (
            "Hello",
            AwaitHello::new(node_b(), ACCEPTOR_NONCE)
                .on_envelope(envelope.clone())
                .is_ok(),
        ),
        (
            "Challenge",
            AwaitChallenge::start(node_a(), DIALER_NONCE)
                .0
                .on_envelope(envelope.clone())
                .is_ok(),
        ),
        ("Proof", await_proof().on_envelope(envelope.clone()).is_ok()),
        (
            "Welcome",
            await_welcome().on_envelope(envelope.clone()).is_ok(),
        ),
    ];
    for (expected, ok) in results {
        assert!(
            !ok || got == expected,
            "a state waiting for {expected} accepted {envelope:?}"
        );
    }
}

/// Decodes `bytes` as a frame; feeds every envelope of it everywhere.
/// Returns whether it decoded.
fn decode_and_feed(bytes: &[u8]) -> bool {
    let Ok(frame) = pb::Frame::decode(bytes) else {
        return false;
    };
    for envelope in &frame.envelopes {
        feed_everywhere(envelope);
    }
    true
}

/// Real frames: each handshake step, the other kinds, and a batch.
fn real_frames() -> Vec<pb::Frame> {
    let driven = Pair::new(node_a(), node_b()).drive();
    let handshake: Vec<pb::Envelope> = driven.delivered.into_iter().map(|(_, e)| e).collect();
    let mut frames: Vec<pb::Frame> = handshake
        .iter()
        .chain(&every_other_body())
        .map(|e| pb::Frame::from(vec![e.clone()]))
        .collect();
    frames.push(pb::Frame::from(handshake));
    frames
}

#[test]
fn truncated_real_frames_never_panic() {
    let mut decoded = 0;
    let mut accepted_whole = 0;
    for frame in real_frames() {
        let bytes = frame.encode_to_vec();
        assert_eq!(
            pb::Frame::decode(bytes.as_slice()).expect("whole frame"),
            frame
        );
        for len in 0..=bytes.len() {
            if decode_and_feed(&bytes[..len]) {
                decoded += 1;
            }
        }
        accepted_whole += 1;
    }
    assert_eq!(accepted_whole, real_frames().len());
    // The empty prefix alone decodes (to an empty frame), so more must have.
    assert!(
        decoded > real_frames().len(),
        "only {decoded} prefixes decoded"
    );
}

#[test]
fn random_and_mutated_bytes_never_panic() {
    let mut rng = StdRng::seed_from_u64(0x5eed);
    let mut decoded = 0;
    for _ in 0..2_000 {
        let len = rng.random_range(0..64);
        let bytes: Vec<u8> = (0..len).map(|_| rng.random::<u8>()).collect();
        if decode_and_feed(&bytes) {
            decoded += 1;
        }
    }
    // Flipping a few bytes of real frames reaches deeper into the decoder
    // and the checks than uniform noise does.
    let frames: Vec<Vec<u8>> = real_frames().iter().map(Message::encode_to_vec).collect();
    for i in 0..2_000 {
        let mut bytes = frames[i % frames.len()].clone();
        for _ in 0..rng.random_range(1..4) {
            let at = rng.random_range(0..bytes.len());
            bytes[at] = rng.random::<u8>();
        }
        if decode_and_feed(&bytes) {
            decoded += 1;
        }
    }
    assert!(decoded > 0, "nothing decoded: the test fed nothing");
}

// ------------------------------------------------------------ proofs

#[test]
fn dialer_and_acceptor_proofs_differ_for_the_same_transcript() {
    let cookie = Cookie::from(COOKIE);
    let t = a_to_b_transcript();
    let dialer = prove(&cookie, Role::Dialer, &t);
    let acceptor = prove(&cookie, Role::Acceptor, &t);
    assert_eq!(dialer.len(), 32);
    assert_eq!(acceptor.len(), 32);
    assert_ne!(dialer, acceptor);
    assert!(verify(&cookie, Role::Dialer, &t, &dialer));
    assert!(!verify(&cookie, Role::Acceptor, &t, &dialer));
    assert!(!verify(&cookie, Role::Dialer, &t, &acceptor));
}

#[test]
fn changing_any_field_of_the_transcript_changes_the_proof() {
    let cookie = Cookie::from(COOKIE);
    let base = a_to_b_transcript();
    let mut other_dialer_nonce = DIALER_NONCE;
    other_dialer_nonce[31] ^= 1;
    let mut other_acceptor_nonce = ACCEPTOR_NONCE;
    other_acceptor_nonce[0] ^= 0x80;
    let variants = [
        (
            "dialer name",
            Transcript {
                dialer_name: "node-c",
                ..base
            },
        ),
        (
            "acceptor name",
            Transcript {
                acceptor_name: "node-c",
                ..base
            },
        ),
        (
            "names swapped",
            Transcript {
                dialer_name: base.acceptor_name,
                acceptor_name: base.dialer_name,
                ..base
            },
        ),
        // The length prefixes keep the boundary between the names.
        (
            "name boundary moved",
            Transcript {
                dialer_name: "node-an",
                acceptor_name: "ode-b",
                ..base
            },
        ),
        (
            "dialer nonce",
            Transcript {
                dialer_nonce: &other_dialer_nonce,
                ..base
            },
        ),
        (
            "acceptor nonce",
            Transcript {
                acceptor_nonce: &other_acceptor_nonce,
                ..base
            },
        ),
        (
            "nonces swapped",
            Transcript {
                dialer_nonce: base.acceptor_nonce,
                acceptor_nonce: base.dialer_nonce,
                ..base
            },
        ),
        ("version", Transcript { version: 2, ..base }),
        (
            "offered minimum version",
            Transcript {
                dialer_versions: (0, 1),
                ..base
            },
        ),
        (
            "offered maximum version",
            Transcript {
                dialer_versions: (1, 3),
                ..base
            },
        ),
        (
            "dialer incarnation",
            Transcript {
                dialer_incarnation: 0xAA,
                ..base
            },
        ),
        (
            "acceptor incarnation",
            Transcript {
                acceptor_incarnation: 0xBB,
                ..base
            },
        ),
        (
            "dialer listen address",
            Transcript {
                dialer_listen_addr: "127.0.0.1:9",
                ..base
            },
        ),
        (
            "acceptor listen address",
            Transcript {
                acceptor_listen_addr: "",
                ..base
            },
        ),
    ];
    for role in [Role::Dialer, Role::Acceptor] {
        let proof = prove(&cookie, role, &base);
        let mut seen = HashSet::from([proof.clone()]);
        for (field, t) in &variants {
            let changed = prove(&cookie, role, t);
            assert!(
                seen.insert(changed),
                "{role:?}: changing the {field} collides"
            );
            assert!(
                !verify(&cookie, role, t, &proof),
                "{role:?}: a proof survives a changed {field}"
            );
        }
        assert_ne!(
            prove(&Cookie::from("another cookie"), role, &base),
            proof,
            "{role:?}: the cookie is not covered"
        );
    }
}

#[test]
fn verify_rejects_short_long_and_empty_proofs() {
    let cookie = Cookie::from(COOKIE);
    let t = a_to_b_transcript();
    for role in [Role::Dialer, Role::Acceptor] {
        let proof = prove(&cookie, role, &t);
        assert!(verify(&cookie, role, &t, &proof));
        assert!(!verify(&cookie, role, &t, &proof[..31]), "31-byte prefix");
        assert!(!verify(&cookie, role, &t, &[]), "empty proof");
        let mut long = proof.clone();
        long.push(0);
        assert!(!verify(&cookie, role, &t, &long), "33 bytes");
        let mut flipped = proof.clone();
        flipped[31] ^= 1;
        assert!(!verify(&cookie, role, &t, &flipped), "last bit flipped");
    }
}

#[test]
fn proofs_follow_the_formula_in_cluster_proto() {
    // Recomputed here from the comment at the top of cluster.proto, so a
    // change to the MAC that breaks other implementations fails this test.
    let t = a_to_b_transcript();
    for (role, label) in [
        (Role::Dialer, "ractor_grpc/v1 dialer proof"),
        (Role::Acceptor, "ractor_grpc/v1 acceptor proof"),
    ] {
        let mut mac = Hmac::<Sha256>::new_from_slice(COOKIE.as_bytes()).expect("any key length");
        mac.update(label.as_bytes());
        mac.update(&6u32.to_be_bytes());
        mac.update(b"node-a");
        mac.update(&6u32.to_be_bytes());
        mac.update(b"node-b");
        mac.update(&DIALER_NONCE);
        mac.update(&ACCEPTOR_NONCE);
        mac.update(&1u32.to_be_bytes()); // Hello.min_version
        mac.update(&1u32.to_be_bytes()); // Hello.max_version
        mac.update(&1u32.to_be_bytes()); // Challenge.version
        mac.update(&0xAu64.to_be_bytes());
        mac.update(&0xBu64.to_be_bytes());
        mac.update(&14u32.to_be_bytes());
        mac.update(b"127.0.0.1:4010");
        mac.update(&14u32.to_be_bytes());
        mac.update(b"127.0.0.1:4011");
        let expected = mac.finalize().into_bytes().to_vec();
        assert_eq!(prove(&Cookie::from(COOKIE), role, &t), expected, "{role:?}");
    }
}

#[test]
fn errors_read_short_and_lower_case() {
    let errors = [
        HandshakeError::BadProof,
        HandshakeError::VersionMismatch {
            ours_min: 1,
            ours_max: 1,
            theirs_min: 2,
            theirs_max: 3,
        },
        HandshakeError::SelfConnection,
        HandshakeError::DuplicateName("x".into()),
        HandshakeError::Unexpected {
            expected: "Hello",
            got: "Ready",
        },
        HandshakeError::Malformed {
            what: "Hello",
            detail: "empty node name",
        },
    ];
    for e in errors {
        let text = e.to_string();
        assert!(!text.ends_with('.'), "{text:?}");
        assert!(text.starts_with(|c: char| c.is_lowercase()), "{text:?}");
    }
}
