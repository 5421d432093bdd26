//! In-process tests: several nodes on loopback in one test binary.

mod common;

use std::time::Duration;

use common::{Event, start};
use ractor_grpc::{ConnectError, Direction, DisconnectCause, NodeConfig, SessionState};

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn two_nodes_connect_with_events_in_order() {
    let mut a = start("node-a").await;
    let mut b = start("node-b").await;

    let session = ractor_grpc::connect(&a.actor, b.addr.clone())
        .await
        .expect("connect");
    assert_eq!(session.peer_name.as_deref(), Some("node-b"));
    assert_eq!(session.state, SessionState::Ready);
    assert_eq!(session.direction, Direction::Outbound);

    for node in [&mut a, &mut b] {
        let peer = if node.name == "node-a" {
            "node-b"
        } else {
            "node-a"
        };
        let events = node.wait_for(WAIT, |e| matches!(e, Event::Ready(..))).await;
        let id = match events[0] {
            Event::Opened(id) => id,
            ref other => panic!("first event {other:?}"),
        };
        assert_eq!(
            events,
            vec![
                Event::Opened(id),
                Event::Authenticated(id, peer.into()),
                Event::Ready(id, peer.into())
            ]
        );
    }
    let b_sessions = b.sessions().await;
    assert_eq!(b_sessions.len(), 1);
    assert_eq!(b_sessions[0].peer_name.as_deref(), Some("node-a"));
    assert_eq!(b_sessions[0].direction, Direction::Inbound);
    assert_eq!(b_sessions[0].state, SessionState::Ready);
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn wrong_cookie_is_unauthenticated_and_leaves_no_session() {
    let a = start("node-a").await;
    let b = common::start_with(NodeConfig::new("node-b", "another cookie")).await;
    let err = ractor_grpc::connect(&a.actor, b.addr.clone())
        .await
        .expect_err("must fail");
    assert_eq!(err, ConnectError::BadCookie);
    assert!(
        common::eventually(WAIT, || async {
            a.sessions().await.is_empty() && b.sessions().await.is_empty()
        })
        .await
    );
}

#[tokio::test]
async fn self_connection_is_refused() {
    let a = start("node-a").await;
    let err = ractor_grpc::connect(&a.actor, a.addr.clone())
        .await
        .expect_err("must fail");
    assert_eq!(err, ConnectError::SelfConnection);
    assert!(common::eventually(WAIT, || async { a.sessions().await.is_empty() }).await);
}

#[tokio::test]
async fn stopping_a_node_disconnects_its_peers() {
    let mut a = start("node-a").await;
    let mut b = start("node-b").await;
    let mut c = start("node-c").await;
    ractor_grpc::connect(&a.actor, b.addr.clone())
        .await
        .expect("a-b");
    ractor_grpc::connect(&c.actor, a.addr.clone())
        .await
        .expect("c-a");
    a.stop().await;
    for node in [&mut b, &mut c] {
        let events = node
            .wait_for(WAIT, |e| matches!(e, Event::Disconnected(..)))
            .await;
        let Some(Event::Disconnected(_, Some(peer), reason)) = events.last() else {
            unreachable!()
        };
        assert_eq!(peer, "node-a");
        assert_eq!(reason.cause, DisconnectCause::Stopped, "{reason}");
        assert!(reason.by_peer);
        assert!(node.sessions().await.is_empty());
    }
}
