//! Limits against strangers: Session streams still in their handshake are
//! capped, and so is the handshake rate of one source address; over either,
//! new streams get RESOURCE_EXHAUSTED while authenticated sessions keep
//! working.

mod common;

use std::time::Duration;

use common::{
    CALL_TIMEOUT, COOKIE, WAIT,
    actors::{self, MyBasicMessageType},
    advertising, eventually, proxy,
    raw::{self, RawSession},
    start_with,
};
use ractor_grpc::{ConnectError, HandshakeLimits, NodeConfig};
use tonic::Code;

/// A node advertising actors named `<prefix>-...`, with these limits and a
/// handshake deadline long enough that strangers stay until dropped.
async fn node(name: &str, prefix: &str, limits: HandshakeLimits) -> common::TestNode {
    let config = NodeConfig::new(name, COOKIE)
        .with_handshake_limits(limits)
        .with_handshake_timeout(Duration::from_secs(30));
    start_with(advertising(config, prefix)).await
}

async fn call(remote: &ractor::ActorRef<MyBasicMessageType>) -> Vec<String> {
    ractor::call_t!(
        remote,
        MyBasicMessageType::Call1,
        CALL_TIMEOUT.as_millis() as u64,
        3,
        4
    )
    .expect("a call across the authenticated session")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_past_the_cap_are_refused_while_peers_keep_working() {
    let (_actor, _probe) = actors::spawn_basic("a-capped").await;
    let limits = HandshakeLimits {
        max_unauthenticated: 3,
        ..HandshakeLimits::default()
    };
    let a = node("node-a", "a", limits).await;
    let b = node("node-b", "b", HandshakeLimits::default()).await;
    ractor_grpc::connect(&b.actor, a.addr.clone())
        .await
        .expect("a peer connects before the strangers come");
    let remote = proxy::<MyBasicMessageType>(&b, "node-a", "a-capped").await;

    // Three strangers open Session streams and say nothing.
    let mut strangers: Vec<RawSession> = Vec::new();
    for _ in 0..3 {
        strangers.push(raw::open(&a.addr).await);
    }
    let refused = raw::try_open(&a.addr)
        .await
        .err()
        .expect("a fourth is refused");
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert!(refused.message().contains("at most 3"), "{refused:?}");
    // A node dialling now is told why, with a typed error.
    let c = node("node-c", "c", HandshakeLimits::default()).await;
    let err = ractor_grpc::connect(&c.actor, a.addr.clone())
        .await
        .expect_err("no room for another handshake");
    assert!(matches!(err, ConnectError::Overloaded { .. }), "{err:?}");

    // The authenticated session does not count and keeps working.
    assert_eq!(call(&remote).await, vec!["got 3", "and 4", "after 0 casts"]);

    // Once the strangers leave, their places free up.
    drop(strangers);
    let joined = eventually(WAIT, || async {
        ractor_grpc::connect(&c.actor, a.addr.clone()).await.is_ok()
    })
    .await;
    assert!(joined, "node-c never got in after the strangers left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_over_its_handshake_rate_is_refused() {
    let limits = HandshakeLimits {
        per_source_per_second: 1,
        per_source_burst: 2,
        ..HandshakeLimits::default()
    };
    let a = node("node-a", "a", limits).await;
    let _first = raw::open(&a.addr).await;
    let _second = raw::open(&a.addr).await;
    // The third within the same half second finds the bucket empty.
    let refused = raw::try_open(&a.addr).await.err().expect("over the rate");
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert!(refused.message().contains("127.0.0.1"), "{refused:?}");
    // The bucket refills: a second later one more is let in.
    let admitted = eventually(WAIT, || async { raw::try_open(&a.addr).await.is_ok() }).await;
    assert!(admitted, "the rate never let another handshake in");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_that_are_zero_are_refused_at_start() {
    let limits = HandshakeLimits {
        max_unauthenticated: 0,
        ..HandshakeLimits::default()
    };
    let config = NodeConfig::new("node-a", COOKIE).with_handshake_limits(limits);
    let err = ractor::Actor::spawn(None, ractor_grpc::NodeServer::new(config), ())
        .await
        .map(|(actor, _)| actor.stop(None))
        .expect_err("must not start");
    assert!(err.to_string().contains("handshake limits"), "{err}");
}
