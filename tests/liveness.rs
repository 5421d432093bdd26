//! The heartbeat across a real session: Pings and their round trips, an idle
//! session that stays up, and a peer that goes silent (the scripted peer
//! stops answering but keeps its connection, so HTTP/2 keepalive alone would
//! never notice) declared down with its proxies and calls.

mod common;

use std::time::Duration;

use common::{
    CALL_TIMEOUT, Event, WAIT,
    actors::MyBasicMessageType,
    peer::{self, ScriptedPeer},
    proxy,
};
use ractor::ActorRef;
use ractor_grpc::{
    CallErrorKind, DisconnectCause, HeartbeatConfig, NodeConfig,
    pb::{self, envelope::Body},
};

const HEARTBEAT: HeartbeatConfig = HeartbeatConfig {
    interval: Duration::from_millis(200),
    timeout: Duration::from_secs(1),
};

fn config(name: &str) -> NodeConfig {
    NodeConfig::new(name, common::COOKIE)
        .with_heartbeat(HEARTBEAT)
        .with_advertise_filter(|_| false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_nodes_ping_each_other_measure_the_round_trip_and_stay_up() {
    let mut a = common::start_with(config("node-a")).await;
    let b = common::start_with(config("node-b")).await;
    ractor_grpc::connect(&b.actor, a.addr.clone())
        .await
        .expect("connect");
    for node in [&a, &b] {
        let measured = common::eventually(WAIT, || async {
            node.sessions().await[0].round_trip.is_some()
        })
        .await;
        assert!(measured, "{}: {:?}", node.name, node.sessions().await);
        let info = node.sessions().await[0].to_owned();
        let rtt = info.round_trip.expect("measured");
        assert!(rtt.last > Duration::ZERO && rtt.smoothed > Duration::ZERO);
    }
    // Idle for three timeouts: the Pings keep the session up.
    tokio::time::sleep(HEARTBEAT.timeout * 3).await;
    let events: Vec<Event> = std::iter::from_fn(|| a.events.try_recv().ok()).collect();
    assert!(
        !events.iter().any(|e| matches!(e, Event::Disconnected(..))),
        "{events:?}"
    );
    assert_eq!(a.sessions().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_goes_silent_is_declared_down_with_its_proxies_and_calls() {
    let mut node = common::start_with(config("node-a")).await;
    let mut peer = ScriptedPeer::dial_version(&node.addr, "silent", common::COOKIE, 2)
        .await
        .expect("handshake at version 2");
    peer.sync(vec![peer::spawned(5, "fake-5")])
        .await
        .expect("sync");
    peer.their_sync(WAIT).await;
    node.wait_for(WAIT, |e| matches!(e, Event::Ready(_, n) if n == "silent"))
        .await;
    // The node pings; the peer answers the first Ping, then falls silent.
    let seen = peer
        .until(WAIT, |e| matches!(e.body, Some(Body::Ping(_))))
        .await;
    let Some(Body::Ping(ping)) = seen.last().and_then(|e| e.body.clone()) else {
        panic!("{seen:?}")
    };
    peer.send(vec![Body::Pong(pb::Pong { seq: ping.seq }).into()])
        .await
        .expect("pong");
    let remote: ActorRef<MyBasicMessageType> = proxy(&node, "silent", "fake-5").await;
    let call = tokio::spawn(async move {
        ractor_grpc::call(&remote, MyBasicMessageType::Stats, Some(CALL_TIMEOUT)).await
    });
    let events = node
        .wait_for(WAIT, |e| matches!(e, Event::Disconnected(..)))
        .await;
    let Some(Event::Disconnected(_, Some(name), reason)) = events.last() else {
        panic!("{events:?}")
    };
    assert_eq!(name, "silent");
    assert_eq!(reason.cause, DisconnectCause::HeartbeatTimeout, "{reason}");
    assert!(!reason.by_peer);
    let err = tokio::time::timeout(WAIT, call)
        .await
        .expect("the call ends")
        .expect("task")
        .expect_err("nobody answered");
    assert_eq!(err.kind(), CallErrorKind::Disconnected, "{err}");
    assert!(
        ractor_grpc::registry::where_is(&node.actor, "silent", "fake-5")
            .await
            .expect("lookup")
            .is_none()
    );
    assert!(node.sessions().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_peer_gets_no_ping() {
    let mut node = common::start_with(config("node-a")).await;
    let (mut peer, _) = peer::ready_peer(&mut node, "old-peer", vec![]).await;
    assert_eq!(peer.challenge.version, 1);
    // A whole timeout and more: nothing arrives, and the session stays.
    let mut seen = Vec::new();
    while let Some(e) = peer.next_envelope(HEARTBEAT.timeout * 2).await {
        seen.push(e);
    }
    assert!(seen.is_empty(), "{seen:?}");
    assert_eq!(node.sessions().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heartbeat_that_cannot_work_is_refused_at_start() {
    for (interval, timeout) in [(200, 500), (1000, 1000)] {
        let config = NodeConfig::new("node-a", common::COOKIE).with_heartbeat(HeartbeatConfig {
            interval: Duration::from_millis(interval),
            timeout: Duration::from_millis(timeout),
        });
        let started = ractor::Actor::spawn(None, ractor_grpc::NodeServer::new(config), ()).await;
        let err = started.expect_err("refused");
        assert!(err.to_string().contains("heartbeat"), "{err}");
    }
}
