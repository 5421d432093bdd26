//! Property tests of the session machine against the scripted adversary of
//! [`harness`](super::harness): envelopes of every kind with random fields
//! (bad nonces, wrong versions, long names, our own name, empty frames,
//! steps out of order, Goodbyes, traffic before authentication), raw and
//! mutated frame bytes decoded as the reader decodes them, replays of the
//! peer's envelopes and of a recorded session, the machine's own proof
//! reflected, and the driver's inputs (claims either way, syncs, the peer's
//! Ready, ticks, the deadline, the stream's end, a close) in any order; both
//! directions, from the start or from a valid handshake prefix, against a
//! peer with the cookie or without it.
//!
//! Each case must keep every promise the harness checks (see its docs): no
//! panic; no claim by an acceptor and no authentication without the proof
//! a holder of the cookie makes for this very handshake; no traffic before
//! authentication; Ready only after both syncs; one Close, last, with a
//! reason the peer hears; nothing at all after it.
//!
//! The case count comes from `PROPTEST_CASES` (default [`CASES`], a few
//! seconds in a debug build); `scripts/fuzz.sh` runs a million:
//! `PROPTEST_CASES=1000000 cargo test --release --lib session::machine::props -- --nocapture`
//! (the statistics of what the runs reached are printed at the end).

use proptest::{
    collection::vec,
    option,
    prelude::*,
    strategy::Union,
    test_runner::{TestCaseError, TestRunner},
};

use super::harness::{Env, PEER_VERSIONS, Run, Setup, Step, play_frame, script_from_bytes, stats};
use crate::{
    auth::MAX_NAME_LEN,
    pb::{self, envelope::Body},
};

/// Cases of the scripted-adversary property in a default run.
const CASES: u32 = 1500;

fn config(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default);
    // Nothing is written to disk on failure; the failing script is printed.
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ------------------------------------------------------------ fields

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => Just("peer".to_owned()),
        1 => Just("node-under-test".to_owned()),
        1 => Just(String::new()),
        1 => (MAX_NAME_LEN - 2..MAX_NAME_LEN + 3).prop_map(|n| "n".repeat(n)),
        2 => "[a-z.:0-9]{1,8}",
        1 => any::<String>(),
    ]
}

fn nonce() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        2 => Just(vec![0xEE; 32]),
        3 => vec(any::<u8>(), 32),
        1 => vec(any::<u8>(), 0..40),
    ]
}

fn version() -> impl Strategy<Value = u32> {
    prop_oneof![4 => 0u32..4, 1 => Just(u32::MAX), 1 => any::<u32>()]
}

fn incarnation() -> impl Strategy<Value = u64> {
    prop_oneof![3 => Just(0xB), 1 => Just(0xA), 1 => any::<u64>()]
}

fn proof() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![3 => vec(any::<u8>(), 32), 1 => vec(any::<u8>(), 0..64)]
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..12)
}

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-zA-Z_]{1,8}",
        (250usize..300).prop_map(|n| "w".repeat(n)),
    ]
}

fn actor_ref() -> impl Strategy<Value = pb::ActorRef> {
    let arg = (word(), word()).prop_map(|(name, r#type)| pb::ArgumentDescription { name, r#type });
    let variant =
        (word(), any::<bool>(), vec(arg, 0..3), word()).prop_map(|(name, call, args, reply)| {
            pb::VariantDescription {
                name,
                call,
                args,
                reply,
            }
        });
    let description =
        (word(), vec(variant, 0..3)).prop_map(|(type_name, variants)| pb::MessageDescription {
            type_name,
            variants,
        });
    (any::<u64>(), word(), word(), option::of(description)).prop_map(
        |(pid, name, message_type, message)| pb::ActorRef {
            pid,
            name,
            message_type,
            message,
        },
    )
}

fn goodbye() -> impl Strategy<Value = pb::Goodbye> {
    let cause = prop_oneof![
        Just("stopped".to_owned()),
        Just("bad-cookie".to_owned()),
        Just("protocol-violation".to_owned()),
        word(),
    ];
    (-1i32..20, word(), cause).prop_map(|(code, reason, cause)| pb::Goodbye {
        code,
        reason,
        cause,
    })
}

fn peer_list() -> impl Strategy<Value = pb::PeerList> {
    let peer = (word(), word()).prop_map(|(name, listen_addr)| pb::KnownPeer { name, listen_addr });
    prop_oneof![
        8 => vec(peer, 0..4).prop_map(|peers| pb::PeerList { peers }),
        // Around the bound of MAX_PEER_LIST (1024) entries.
        1 => (1022usize..1027).prop_map(|n| pb::PeerList {
            peers: (0..n)
                .map(|i| pb::KnownPeer { name: format!("n{i}"), listen_addr: String::new() })
                .collect(),
        }),
    ]
}

// ------------------------------------------------------------ envelopes

/// Handshake envelopes, with fields near and past every limit.
fn handshake() -> impl Strategy<Value = Body> {
    let hello = (name(), nonce(), version(), version(), incarnation(), name()).prop_map(
        |(name, nonce, min_version, max_version, incarnation, listen_addr)| {
            Body::Hello(pb::Hello {
                name,
                nonce,
                min_version,
                max_version,
                incarnation,
                listen_addr,
            })
        },
    );
    let challenge = (name(), nonce(), version(), incarnation(), name()).prop_map(
        |(name, nonce, version, incarnation, listen_addr)| {
            Body::Challenge(pb::Challenge {
                name,
                nonce,
                version,
                incarnation,
                listen_addr,
            })
        },
    );
    prop_oneof![
        hello,
        challenge,
        proof().prop_map(|proof| Body::Proof(pb::Proof { proof })),
        proof().prop_map(|proof| Body::Welcome(pb::Welcome { proof })),
        Just(Body::Ready(pb::Ready {})),
        goodbye().prop_map(Body::Goodbye),
    ]
}

/// Adverts, traffic and heartbeats, with random fields.
fn traffic() -> impl Strategy<Value = Body> {
    // Trace context: none, a valid one, or junk (which must be ignored).
    let traceparent = prop_oneof![
        Just(String::new()),
        Just("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned()),
        word(),
    ];
    let call = (
        any::<u64>(),
        word(),
        bytes(),
        any::<u64>(),
        any::<u64>(),
        traceparent.clone(),
    )
        .prop_map(|(to, variant, args, tag, timeout_ms, traceparent)| {
            Body::Call(pb::Call {
                to,
                variant,
                args,
                tag,
                timeout_ms,
                traceparent,
            })
        });
    let pg_joined = (word(), word(), vec(actor_ref(), 0..3)).prop_map(|(scope, group, actors)| {
        Body::PgJoined(pb::PgJoined {
            scope,
            group,
            actors,
        })
    });
    let pg_left = (word(), word(), vec(any::<u64>(), 0..4))
        .prop_map(|(scope, group, pids)| Body::PgLeft(pb::PgLeft { scope, group, pids }));
    let cast = (any::<u64>(), word(), bytes(), traceparent).prop_map(
        |(to, variant, args, traceparent)| {
            Body::Cast(pb::Cast {
                to,
                variant,
                args,
                traceparent,
            })
        },
    );
    let answer = prop_oneof![
        (any::<u64>(), bytes())
            .prop_map(|(tag, result)| Body::CallReply(pb::CallReply { tag, result })),
        (any::<u64>(), any::<i32>(), word())
            .prop_map(|(tag, code, detail)| Body::CallError(pb::CallError { tag, code, detail })),
    ];
    let heartbeat = prop_oneof![
        (0u64..4).prop_map(|seq| Body::Ping(pb::Ping { seq })),
        (0u64..4).prop_map(|seq| Body::Pong(pb::Pong { seq })),
    ];
    prop_oneof![
        cast,
        call,
        answer,
        option::of(actor_ref()).prop_map(|actor| Body::Spawned(pb::ActorSpawned { actor })),
        any::<u64>().prop_map(|pid| Body::Terminated(pb::ActorTerminated { pid })),
        pg_joined,
        pg_left,
        peer_list().prop_map(Body::Peers),
        heartbeat,
    ]
}

/// Any envelope: every body kind, or none.
fn envelope() -> impl Strategy<Value = pb::Envelope> {
    prop_oneof![
        3 => handshake().prop_map(pb::Envelope::from),
        3 => traffic().prop_map(pb::Envelope::from),
        1 => Just(pb::Envelope { body: None }),
    ]
}

fn env() -> impl Strategy<Value = Env> {
    prop_oneof![
        6 => envelope().prop_map(Env::Raw),
        6 => Just(Env::Honest),
        1 => any::<usize>().prop_map(Env::Replay),
        1 => any::<usize>().prop_map(Env::Recorded),
        1 => Just(Env::Reflect),
    ]
}

/// Frame bytes: garbage, or a frame of real envelopes with a few bytes
/// flipped or cut.
fn frame_bytes() -> impl Strategy<Value = Vec<u8>> {
    let mutated = (
        vec(envelope(), 0..3),
        vec((any::<usize>(), any::<u8>()), 0..3),
        any::<usize>(),
    )
        .prop_map(|(envelopes, flips, cut)| {
            let mut bytes = prost::Message::encode_to_vec(&pb::Frame::from(envelopes));
            let len = bytes.len().max(1);
            for (at, xor) in flips {
                if let Some(b) = bytes.get_mut(at % len) {
                    *b ^= xor;
                }
            }
            if cut % 4 == 0 {
                bytes.truncate(cut / 4 % len);
            }
            bytes
        });
    prop_oneof![1 => vec(any::<u8>(), 0..48), 3 => mutated]
}

fn step() -> impl Strategy<Value = Step> {
    let tick = prop_oneof![0u16..1000, 2900u16..3200, any::<u16>()];
    let spliced = prop_oneof![
        vec(envelope(), 0..3)
            .prop_map(|envelopes| prost::Message::encode_to_vec(&pb::Frame::from(envelopes))),
        bytes(),
    ];
    let ended = option::of((0i32..17, option::of(any::<u8>())));
    Union::new_weighted(vec![
        (8, Just(Step::Auto).boxed()),
        (6, vec(env(), 0..4).prop_map(Step::Frame).boxed()),
        (2, frame_bytes().prop_map(Step::Bytes).boxed()),
        (1, spliced.prop_map(Step::Spliced).boxed()),
        (2, tick.prop_map(Step::Tick).boxed()),
        (1, Just(Step::Deadline).boxed()),
        (2, prop::bool::weighted(0.8).prop_map(Step::Claimed).boxed()),
        (1, (0u8..3).prop_map(Step::Sync).boxed()),
        (1, Just(Step::PeerReady).boxed()),
        (1, (0u8..3).prop_map(Step::Send).boxed()),
        (1, ended.prop_map(Step::Ended).boxed()),
        (1, Just(Step::Close).boxed()),
    ])
}

fn setup() -> impl Strategy<Value = Setup> {
    let versions = prop_oneof![
        4 => Just(PEER_VERSIONS[1]),
        1 => proptest::sample::select(PEER_VERSIONS.as_slice()),
    ];
    // Up to 13 honest steps: enough for a whole handshake and sync.
    let prefix = prop_oneof![1 => Just(0u8), 2 => 0u8..14];
    (
        any::<bool>(),
        prop::bool::weighted(0.8),
        versions,
        0u8..0xF0,
        prefix,
    )
        .prop_map(
            |(dialer, peer_knows_cookie, peer_versions, nonce, prefix)| Setup {
                dialer,
                peer_knows_cookie,
                peer_versions,
                nonce,
                prefix,
            },
        )
}

// ------------------------------------------------------------ properties

#[test]
fn the_session_machine_keeps_its_promises_against_any_script() {
    let mut runner = TestRunner::new(config(CASES));
    let result = runner.run(&(setup(), vec(step(), 0..24)), |(setup, steps)| {
        Run::play(setup, &steps).map_err(TestCaseError::fail)
    });
    // Shown with --nocapture: how deep the scripts went.
    eprintln!("session machine: {}", stats());
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn byte_scripts_keep_the_promises_too() {
    let mut runner = TestRunner::new(config(CASES / 4));
    let result = runner.run(&vec(any::<u8>(), 0..256), |data| {
        let (setup, steps) = script_from_bytes(&data);
        Run::play(setup, &steps).map_err(TestCaseError::fail)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn any_frame_bytes_in_any_state_keep_the_promises() {
    let mut runner = TestRunner::new(config(CASES / 8));
    let result = runner.run(&frame_bytes(), |bytes| {
        play_frame(&bytes).map_err(TestCaseError::fail)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

// ------------------------------------------------------------ controls

/// The harness's honest side completes a session, so the properties reach
/// the states after the handshake; without the cookie it never does.
#[test]
fn an_honest_prefix_reaches_ready_and_a_wrong_cookie_never_authenticates() {
    for dialer in [false, true] {
        for peer_knows_cookie in [true, false] {
            let setup = Setup {
                dialer,
                peer_knows_cookie,
                peer_versions: (1, 2),
                nonce: 1,
                prefix: 13,
            };
            let run = Run::start(setup).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(run.is_ready(), peer_knows_cookie, "{run:?}");
            assert_eq!(run.is_authenticated(), peer_knows_cookie, "{run:?}");
        }
    }
    // A byte script of honest steps only gets there too.
    let (setup, steps) = script_from_bytes(&[0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    let mut run = Run::start(setup).unwrap_or_else(|e| panic!("{e}"));
    for step in &steps {
        run.step(step).unwrap_or_else(|e| panic!("{e}"));
    }
    assert!(run.is_ready(), "{run:?}");
}

/// A peer without the cookie that replays a recorded session, or reflects
/// the machine's own proof, never gets in.
#[test]
fn replayed_and_reflected_proofs_are_refused() {
    for dialer in [false, true] {
        let setup = Setup {
            dialer,
            peer_knows_cookie: true,
            peer_versions: (1, 2),
            nonce: 2,
            prefix: 0,
        };
        let replay: Vec<Step> = (0..4)
            .flat_map(|i| [Step::Frame(vec![Env::Recorded(i)]), Step::Claimed(true)])
            .collect();
        let reflect = [
            Step::Frame(vec![Env::Recorded(0)]),
            Step::Claimed(true),
            Step::Frame(vec![Env::Reflect]),
            Step::Claimed(true),
        ];
        for script in [replay.as_slice(), &reflect] {
            let mut run = Run::start(setup.clone()).unwrap_or_else(|e| panic!("{e}"));
            for step in script {
                run.step(step).unwrap_or_else(|e| panic!("{e}"));
            }
            assert!(!run.is_authenticated(), "{run:?}");
            assert!(run.is_closed(), "{run:?}");
        }
    }
}
