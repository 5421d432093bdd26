//! Attacks on Session streams before authentication: garbage, early
//! frames, oversized messages, wrong cookies, half-open and silent streams,
//! replayed handshakes.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use prost::Message as _;
use ractor_grpc::pb::{self, envelope::Body};
use rand::{Rng, rngs::StdRng};
use tonic::Code;

use super::{
    COOKIE, HANDSHAKE, Tally, WAIT, add, count, end_within, futures_join, peer::peer_info,
};
use crate::common::{
    NodeProcess,
    wire::{self, cause, frame, outcome},
};

/// Garbage in valid gRPC framing on Session: seeded random bodies and a
/// few made to reach corners of the decoder. Each must end the stream with
/// INVALID_ARGUMENT/protocol-violation, unless it happens to decode as a
/// frame whose first envelope is a Goodbye (a clean end).
pub(super) async fn garbage_protobuf(addr: &str, streams: usize, rng: &mut StdRng) -> Tally {
    let mut bodies: Vec<(&str, Vec<u8>)> = vec![
        // A field Frame does not have: decodes as an empty frame.
        ("unknown field", vec![0x78, 0x01]),
        // An envelope whose body has a number this version does not know.
        ("unknown body", vec![0x0a, 0x03, 0x92, 0x03, 0x00]),
        // A length that runs past the end.
        ("truncated", vec![0x0a, 0x7f, 0x01]),
        // Groups nested past prost's recursion limit.
        ("deep groups", [0x7bu8].repeat(500)),
        // A varint that never ends.
        (
            "endless varint",
            [0x78u8].into_iter().chain([0xff; 20]).collect(),
        ),
        // Empty: zero bytes decode as an empty frame.
        ("empty", Vec::new()),
    ];
    for _ in 0..streams {
        let len = rng.random_range(1..2048);
        let mut b = vec![0u8; len];
        rng.fill(b.as_mut_slice());
        bodies.push(("random", b));
    }
    let mut tally = Tally::new();
    for (kind, body) in bodies {
        // Random bytes now and then decode as a real frame (prost skips
        // fields it does not know): then the node owes what that frame
        // earns. A Goodbye ends a session in any phase, cleanly.
        let first = pb::Frame::decode(body.as_slice())
            .ok()
            .and_then(|f| f.envelopes.into_iter().next())
            .and_then(|e| e.body);
        let (session, waited) = wire::open_paced(addr).await;
        add(&mut tally, "rate refusals waited out", waited);
        session.send(body.clone()).await;
        let (_, end) = session.finish(end_within()).await;
        let end = end.unwrap_or_else(|_| panic!("{kind}: no end in time; {body:02x?}"));
        match (first, end) {
            (Some(Body::Goodbye(_)), None) => {
                count(
                    &mut tally,
                    format!("{kind}, decoded as a Goodbye: a clean end"),
                );
            }
            (_, Some(status)) => {
                assert_eq!(
                    (status.code(), cause(&status)),
                    (Code::InvalidArgument, "protocol-violation"),
                    "{kind}: {status:?}; {body:02x?}"
                );
                count(&mut tally, outcome(&status));
            }
            (first, None) => panic!("{kind}: a clean end after {first:?}; {body:02x?}"),
        }
    }
    tally
}

/// Every envelope but Hello as the first frame, and a Cast while the node
/// waits for the Proof: each is INVALID_ARGUMENT/protocol-violation.
pub(super) async fn before_auth(addr: &str) -> Tally {
    let cast = || {
        Body::Cast(pb::Cast {
            to: 0,
            variant: "Ping".into(),
            args: Vec::new(),
            traceparent: String::new(),
        })
    };
    let firsts: Vec<(&str, Body)> = vec![
        ("Challenge", Body::Challenge(pb::Challenge::default())),
        ("Proof", Body::Proof(pb::Proof { proof: vec![1; 32] })),
        ("Welcome", Body::Welcome(pb::Welcome { proof: vec![1; 32] })),
        ("Ready", Body::Ready(pb::Ready {})),
        ("PeerList", Body::Peers(pb::PeerList::default())),
        (
            "Spawned",
            Body::Spawned(pb::ActorSpawned {
                actor: Some(pb::ActorRef::default()),
            }),
        ),
        (
            "Terminated",
            Body::Terminated(pb::ActorTerminated { pid: 1 }),
        ),
        ("PgJoined", Body::PgJoined(pb::PgJoined::default())),
        ("PgLeft", Body::PgLeft(pb::PgLeft::default())),
        ("Cast", cast()),
        (
            "Call",
            Body::Call(pb::Call {
                to: 0,
                variant: "Pong".into(),
                args: vec![0; 8],
                tag: 1,
                timeout_ms: 1000,
                traceparent: String::new(),
            }),
        ),
        ("CallReply", Body::CallReply(pb::CallReply::default())),
        ("CallError", Body::CallError(pb::CallError::default())),
        ("Ping", Body::Ping(pb::Ping { seq: 1 })),
        ("Pong", Body::Pong(pb::Pong { seq: 1 })),
    ];
    let mut tally = Tally::new();
    for (kind, body) in firsts {
        let (session, waited) = wire::open_paced(addr).await;
        add(&mut tally, "rate refusals waited out", waited);
        session.send(frame(vec![body])).await;
        let status = session.refused(end_within()).await;
        assert_eq!(
            (status.code(), cause(&status)),
            (Code::InvalidArgument, "protocol-violation"),
            "{kind} first: {status:?}"
        );
        count(&mut tally, format!("{kind} first: {}", outcome(&status)));
    }
    // After Hello and the node's Challenge, traffic instead of the Proof.
    let c = wire::challenged(addr, wire::hello("early-caster")).await;
    add(&mut tally, "rate refusals waited out", c.rate_refusals);
    c.session.send(frame(vec![cast()])).await;
    let status = c.session.refused(end_within()).await;
    assert_eq!(
        (status.code(), cause(&status)),
        (Code::InvalidArgument, "protocol-violation"),
        "a Cast instead of the Proof: {status:?}"
    );
    count(&mut tally, format!("Cast for Proof: {}", outcome(&status)));
    tally
}

/// A message one byte over the node's max message size, before and after
/// authentication: INVALID_ARGUMENT/protocol-violation, the stream ends.
pub(super) async fn oversized(addr: &str) -> Tally {
    let max = ractor_grpc::DEFAULT_MAX_MESSAGE_SIZE;
    let mut tally = Tally::new();
    // Before authentication: a well-formed frame, just too big.
    let mut reason = "x".repeat(max);
    let goodbye = |reason: String| {
        frame(vec![Body::Goodbye(pb::Goodbye {
            code: 0,
            reason,
            cause: "stopped".into(),
        })])
    };
    let over = goodbye(reason.clone()).len() - max;
    reason.truncate(max - over + 1);
    let body = goodbye(reason);
    assert_eq!(body.len(), max + 1);
    let (session, waited) = wire::open_paced(addr).await;
    add(&mut tally, "rate refusals waited out", waited);
    session.send(body).await;
    let status = session.refused(end_within()).await;
    assert_eq!(
        (status.code(), cause(&status)),
        (Code::InvalidArgument, "protocol-violation"),
        "an oversized frame before authentication: {status:?}"
    );
    count(&mut tally, format!("before auth: {}", outcome(&status)));

    // After authentication: a Cast whose arguments make the frame too big.
    let mut peer = wire::authenticate(addr, "big-sender", COOKIE).await;
    peer.send(vec![wire::envelope(Body::Ready(pb::Ready {}))])
        .await;
    peer.until(WAIT, wire::is_ready).await;
    let big = wire::frame(vec![Body::Cast(pb::Cast {
        to: 0,
        variant: "Ping".into(),
        args: vec![0; max],
        traceparent: String::new(),
    })]);
    assert!(big.len() > max);
    peer.session.send(big).await;
    let status = peer.session.refused(end_within()).await;
    assert_eq!(
        (status.code(), cause(&status)),
        (Code::InvalidArgument, "protocol-violation"),
        "an oversized frame after authentication: {status:?}"
    );
    count(&mut tally, format!("after auth: {}", outcome(&status)));
    tally
}

/// Sequential handshakes with a wrong cookie: each is refused
/// UNAUTHENTICATED/bad-cookie, and the message never holds the cookie.
pub(super) async fn wrong_cookies(addr: &str, n: usize) -> Tally {
    let mut tally = Tally::new();
    for i in 0..n {
        let c = wire::challenged(addr, wire::hello(&format!("intruder-{i}"))).await;
        add(&mut tally, "rate refusals waited out", c.rate_refusals);
        let proof = wire::dialer_proof("not-the-cookie", &c.hello, &c.challenge);
        c.session
            .send(frame(vec![Body::Proof(pb::Proof { proof })]))
            .await;
        let status = c.session.refused(end_within()).await;
        assert_eq!(
            (status.code(), cause(&status)),
            (Code::Unauthenticated, "bad-cookie"),
            "wrong cookie #{i}: {status:?}"
        );
        assert!(!status.message().contains(COOKIE), "{status:?}");
        count(&mut tally, outcome(&status));
    }
    tally
}

/// `n` clients at once, each trying (every 100 ms, for one handshake
/// deadline) to hold a Session stream open without sending anything. An
/// admitted stream must end DEADLINE_EXCEEDED/handshake-timeout; a refused
/// one RESOURCE_EXHAUSTED with no cause, for the source's rate or for the 64
/// streams in handshake, which must be reached.
///
/// No more than 64 may be admitted before the first of them can have ended:
/// none sends anything, so none ends before its deadline, counted from
/// (about) its admission. Later, a client learns of its stream's end only
/// after the node has freed its place, so counting streams open at once
/// from here would race.
pub(super) async fn half_open(addr: &str, n: usize) -> Tally {
    let admitted = Arc::new(Mutex::new(Vec::<Instant>::new()));
    let until = tokio::time::Instant::now() + HANDSHAKE;
    let clients = (0..n).map(|_| {
        let (addr, admitted) = (addr.to_owned(), admitted.clone());
        async move {
            let mut seen: Vec<String> = Vec::new();
            loop {
                match wire::try_open(&addr).await {
                    Ok(session) => {
                        admitted.lock().expect("admissions").push(Instant::now());
                        let (_, end) = session.finish(end_within()).await;
                        let end = match end {
                            Ok(Some(s)) => format!("admitted, then {}", outcome(&s)),
                            Ok(None) => "admitted, then a clean end".to_owned(),
                            Err(_) => "admitted, still open at the deadline".to_owned(),
                        };
                        seen.push(end);
                        return seen;
                    }
                    Err(s) => {
                        assert_eq!(s.code(), Code::ResourceExhausted, "{s:?}");
                        assert_eq!(cause(&s), "", "{s:?}");
                        let why = if wire::is_rate_refusal(&s) {
                            "refused: source rate"
                        } else if s.message().contains("at most 64") {
                            "refused: 64 in handshake"
                        } else {
                            panic!("an unexpected refusal: {s:?}")
                        };
                        seen.push(format!("{why} ({})", outcome(&s)));
                        if tokio::time::Instant::now() >= until {
                            return seen;
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        }
    });
    let results = futures_join(clients).await;
    let mut tally = Tally::new();
    for seen in results {
        for s in seen {
            count(&mut tally, s);
        }
    }
    for (what, n) in &tally {
        assert!(
            !what.starts_with("admitted")
                || what == "admitted, then DeadlineExceeded/handshake-timeout",
            "{n} half-open streams: {what}"
        );
    }
    // Half a second of margin for the node's timers starting a little
    // after the client sees its stream admitted.
    let admitted = admitted.lock().expect("admissions").clone();
    let first = admitted.iter().min().copied().expect("some were admitted");
    let window = HANDSHAKE - Duration::from_millis(500);
    let early = admitted.iter().filter(|t| **t < first + window).count();
    count(
        &mut tally,
        format!("admitted in the first {} ms: {early}", window.as_millis()),
    );
    assert!(early <= 64, "{early} streams admitted before any could end");
    assert!(
        tally.contains_key("refused: 64 in handshake (ResourceExhausted)"),
        "the cap of 64 streams in handshake was never reached: {tally:?}"
    );
    tally
}

/// Streams that stall: one that sends nothing, one that stops after its
/// Hello, one that authenticates and never sends its sync. Each ends
/// DEADLINE_EXCEEDED/handshake-timeout.
pub(super) async fn silent_streams(addr: &str) -> Tally {
    let started = Instant::now();
    let (nothing, waited) = wire::open_paced(addr).await;
    let after_hello = wire::challenged(addr, wire::hello("mute-after-hello")).await;
    let mut no_sync = wire::authenticate(addr, "mute-after-auth", COOKIE).await;
    let no_sync_end = async move {
        // Take the node's sync (it sends it at once), then wait for the end.
        let mut ended = None;
        while no_sync.next(end_within(), &mut ended).await.is_some() {}
        ended
    };
    let (a, b, c) = tokio::join!(
        nothing.finish(end_within()),
        after_hello.session.finish(end_within()),
        no_sync_end
    );
    let mut tally = Tally::new();
    add(
        &mut tally,
        "rate refusals waited out",
        waited + after_hello.rate_refusals,
    );
    for (kind, end) in [
        ("nothing sent", a.1.ok().flatten()),
        ("only a Hello", b.1.ok().flatten()),
        ("no sync", c.flatten()),
    ] {
        let status = end.unwrap_or_else(|| panic!("{kind}: no status in time"));
        assert_eq!(
            (status.code(), cause(&status)),
            (Code::DeadlineExceeded, "handshake-timeout"),
            "{kind}: {status:?}"
        );
        count(&mut tally, format!("{kind}: {}", outcome(&status)));
    }
    count(
        &mut tally,
        format!("all ended after {} ms", started.elapsed().as_millis()),
    );
    tally
}

/// Replays: an earlier handshake's Hello and Proof in a new stream, a fresh
/// Hello with the old Proof, the node's own Welcome proof reflected back,
/// and the old Proof once the first session is gone. Each is
/// UNAUTHENTICATED/bad-cookie.
pub(super) async fn replays(a: &NodeProcess) -> Tally {
    let mut tally = Tally::new();
    let mut first = wire::authenticate(&a.addr, "replayed", COOKIE).await;
    first
        .send(vec![wire::envelope(Body::Ready(pb::Ready {}))])
        .await;
    first.until(WAIT, wire::is_ready).await;
    let old_nonce = first.challenge.nonce.clone();
    let (first_hello, first_proof) = (first.hello.clone(), first.proof.clone());

    let refused = |c: wire::Challenged, proof: Vec<u8>, what: &'static str| async move {
        c.session
            .send(frame(vec![Body::Proof(pb::Proof { proof })]))
            .await;
        let status = c.session.refused(end_within()).await;
        assert_eq!(
            (status.code(), cause(&status)),
            (Code::Unauthenticated, "bad-cookie"),
            "{what}: {status:?}"
        );
        format!("{what}: {}", outcome(&status))
    };

    let c = wire::challenged(&a.addr, first.hello.clone()).await;
    assert_ne!(c.challenge.nonce, old_nonce, "the node reused its nonce");
    count(
        &mut tally,
        refused(c, first.proof.clone(), "same Hello, old Proof").await,
    );

    let c = wire::challenged(&a.addr, wire::hello("replayed")).await;
    count(
        &mut tally,
        refused(c, first.proof.clone(), "fresh Hello, old Proof").await,
    );

    // The acceptor's proof for the first handshake, sent back as a dialer's.
    let reflected = wire::proof(
        b"ractor_grpc/v1 acceptor proof",
        COOKIE.as_bytes(),
        &first.hello,
        &first.challenge,
    );
    let c = wire::challenged(&a.addr, first.hello.clone()).await;
    count(
        &mut tally,
        refused(c, reflected, "the node's own proof reflected").await,
    );

    // Once the first session is gone, its Proof is still worthless.
    drop(first);
    let deadline = Instant::now() + WAIT;
    while peer_info(a, "replayed").await.is_some() {
        assert!(Instant::now() < deadline, "node-a kept the dropped session");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let c = wire::challenged(&a.addr, first_hello).await;
    count(
        &mut tally,
        refused(c, first_proof, "old Hello and Proof, first session gone").await,
    );
    tally
}
