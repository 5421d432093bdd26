//! An authenticated peer that misbehaves: casts to unknown pids,
//! undecodable payloads.

use std::time::{Duration, Instant};

use ractor_grpc::pb::{self, CallErrorCode, envelope::Body};
use tonic::Code;

use super::{COOKIE, Tally, WAIT, add, count};
use crate::common::{NodeProcess, wire};

/// The peer named `name` in node-a's sessions.
pub(super) async fn peer_info(a: &NodeProcess, name: &str) -> Option<pb::PeerInfo> {
    a.list_peers().await.into_iter().find(|p| p.name == name)
}

/// Polls node-a's sessions (at most `within`) until `name`'s passes `check`.
async fn peer_until(
    a: &NodeProcess,
    name: &str,
    within: Duration,
    check: impl Fn(&pb::PeerInfo) -> bool,
) -> Option<pb::PeerInfo> {
    let deadline = Instant::now() + within;
    loop {
        let p = peer_info(a, name).await;
        if p.as_ref().is_some_and(&check) || Instant::now() >= deadline {
            return p;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn call(tag: u64, to: u64, variant: &str, args: Vec<u8>) -> pb::Envelope {
    wire::envelope(Body::Call(pb::Call {
        to,
        variant: variant.into(),
        args,
        tag,
        timeout_ms: 5000,
        traceparent: String::new(),
    }))
}

fn cast(to: u64, variant: &str, args: Vec<u8>) -> pb::Envelope {
    wire::envelope(Body::Cast(pb::Cast {
        to,
        variant: variant.into(),
        args,
        traceparent: String::new(),
    }))
}

/// Reads until the answer (reply or error) to call `tag`.
async fn answer(peer: &mut wire::Authenticated, tag: u64) -> Body {
    let seen = peer
        .until(WAIT, |e| match &e.body {
            Some(Body::CallReply(r)) => r.tag == tag,
            Some(Body::CallError(r)) => r.tag == tag,
            _ => false,
        })
        .await;
    seen.last().and_then(|e| e.body.clone()).expect("an answer")
}

fn error_code(body: &Body) -> Option<CallErrorCode> {
    match body {
        Body::CallError(e) => CallErrorCode::try_from(e.code).ok(),
        _ => None,
    }
}

/// An authenticated peer misbehaves: casts to pids node-a does not
/// advertise (dropped, counted in `unknown_actor`), a call to one
/// (CALL_ERROR_CODE_UNKNOWN_ACTOR), casts to `pong` that do not decode
/// (counted in `undecodable`), and calls to it that do not
/// (CALL_ERROR_CODE_UNDECODABLE). The session stays up, `pong` still
/// answers on it, and a Goodbye ends it cleanly.
pub(super) async fn misbehaving_peer(a: &NodeProcess, unknown_casts: usize) -> Tally {
    let mut tally = Tally::new();
    let name = "misbehaver";
    let mut peer = wire::authenticate(&a.addr, name, COOKIE).await;
    peer.send(vec![wire::envelope(Body::Ready(pb::Ready {}))])
        .await;
    let sync = peer.until(WAIT, wire::is_ready).await;
    let pong = wire::advertised_pid(&sync, "pong").expect("node-a advertises pong");
    let ready = peer_until(a, name, WAIT, |p| p.state == pb::SessionState::Ready as i32).await;
    assert!(ready.is_some(), "node-a never showed {name} ready");

    // Unknown pids, in frames of 100, then a call to one.
    let unknown = |i: usize| u64::MAX - i as u64;
    for chunk in (0..unknown_casts).collect::<Vec<_>>().chunks(100) {
        let casts = chunk
            .iter()
            .map(|&i| cast(unknown(i), "Ping", Vec::new()))
            .collect();
        peer.send(casts).await;
    }
    peer.send(vec![call(
        1,
        unknown(0),
        "Pong",
        7u64.to_be_bytes().to_vec(),
    )])
    .await;
    let got = answer(&mut peer, 1).await;
    assert_eq!(
        error_code(&got),
        Some(CallErrorCode::UnknownActor),
        "{got:?}"
    );
    count(&mut tally, "call to an unknown pid: UNKNOWN_ACTOR");
    let seen = peer_until(a, name, WAIT, |p| p.unknown_actor == unknown_casts as u64).await;
    let seen = seen.map_or(0, |p| p.unknown_actor);
    assert_eq!(seen, unknown_casts as u64, "node-a's unknown_actor count");
    add(
        &mut tally,
        "casts to unknown pids counted in unknown_actor",
        seen as u32,
    );

    // Undecodable payloads to pong.
    let bad_casts = vec![
        // Ping(string, u64) with a string length past the end.
        cast(pong, "Ping", vec![0x7f, b'x']),
        // Trailing bytes after a valid Ping.
        cast(
            pong,
            "Ping",
            [vec![0x01, b'x'], vec![0; 8], vec![0xee]].concat(),
        ),
        // A variant pong does not have.
        cast(pong, "NoSuchVariant", vec![]),
        // An rpc variant sent as a Cast.
        cast(pong, "Pong", 7u64.to_be_bytes().to_vec()),
    ];
    let bad_casts_sent = bad_casts.len() as u64;
    peer.send(bad_casts).await;
    let bad_calls = [
        (10, "Pong", vec![1, 2, 3]),
        (11, "NoSuchVariant", vec![]),
        (12, "Ping", vec![]),
    ];
    for (tag, variant, args) in bad_calls {
        peer.send(vec![call(tag, pong, variant, args)]).await;
        let got = answer(&mut peer, tag).await;
        assert_eq!(
            error_code(&got),
            Some(CallErrorCode::Undecodable),
            "{variant}: {got:?}"
        );
        count(&mut tally, "undecodable call: UNDECODABLE");
    }
    let seen = peer_until(a, name, WAIT, |p| p.undecodable == bad_casts_sent).await;
    let seen = seen.map_or(0, |p| p.undecodable);
    assert_eq!(seen, bad_casts_sent, "node-a's undecodable count");
    add(
        &mut tally,
        "undecodable casts counted in undecodable",
        seen as u32,
    );

    // pong still answers on this session.
    peer.send(vec![call(20, pong, "Pong", 41u64.to_be_bytes().to_vec())])
        .await;
    let got = answer(&mut peer, 20).await;
    assert!(
        matches!(&got, Body::CallReply(r) if r.result == 42u64.to_be_bytes()),
        "{got:?}"
    );
    count(&mut tally, "a good call after it all: answered");

    // An orderly Goodbye: the node ends the stream with OK, the session goes.
    peer.send(vec![wire::envelope(Body::Goodbye(pb::Goodbye {
        code: 0,
        reason: "done".into(),
        cause: "stopped".into(),
    }))])
    .await;
    let mut ended = None;
    while peer.next(WAIT, &mut ended).await.is_some() {}
    match ended {
        Some(None) => count(&mut tally, "Goodbye: a clean end"),
        Some(Some(s)) if s.code() == Code::Ok => count(&mut tally, "Goodbye: status OK"),
        other => panic!("after our Goodbye node-a ended the stream with {other:?}"),
    }
    tally
}
