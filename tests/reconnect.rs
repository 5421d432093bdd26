//! Reconnecting on loopback: a lost peer is dialled again with backoff and
//! resynced, a restarted peer gets fresh proxies, a permanent refusal stops
//! the retries, an operator's disconnect is not undone, and a DNS name is
//! kept connected at every address it resolves to.

mod common;

use std::time::Duration;

use common::{
    CALL_TIMEOUT, COOKIE, Event, TestNode, WAIT,
    actors::{self, MyBasicMessageType},
    advertising, eventually, full_mesh, proxy, start_with,
};
use ractor::ActorRef;
use ractor_grpc::{ConnectionMode, NodeConfig, ReconnectConfig, TargetState};

/// Quick retries, so tests wait for events rather than for backoffs.
fn fast() -> ReconnectConfig {
    ReconnectConfig {
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(400),
        ..ReconnectConfig::default()
    }
}

/// A node named `name` listening on `port` (0: any), advertising actors
/// named `<prefix>-...`, retrying quickly.
async fn node_on(name: &str, prefix: &str, port: u16, cookie: &str) -> TestNode {
    let config = NodeConfig::new(name, cookie)
        .with_listen_addr(([127, 0, 0, 1], port).into())
        .with_reconnect(fast());
    start_with(advertising(config, prefix)).await
}

fn port_of(node: &TestNode) -> u16 {
    node.addr
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .expect("host:port")
}

/// A port nothing listens on (bound, then released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

async fn call1(remote: &ActorRef<MyBasicMessageType>) -> Result<Vec<String>, String> {
    ractor::call_t!(
        remote,
        MyBasicMessageType::Call1,
        CALL_TIMEOUT.as_millis() as u64,
        1,
        2
    )
    .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_peer_is_dialled_again_resynced_and_given_fresh_proxies() {
    let (_actor, _probe) = actors::spawn_basic("a-restart").await;
    let mut a = node_on("node-a", "a", 0, COOKIE).await;
    let port = port_of(&a);
    let mut b = node_on("node-b", "b", 0, COOKIE).await;
    ractor_grpc::connect(&b.actor, a.addr.clone())
        .await
        .expect("connect");
    let before = proxy::<MyBasicMessageType>(&b, "node-a", "a-restart").await;
    let old_incarnation = ractor_grpc::node_info(&a.actor)
        .await
        .expect("info")
        .incarnation;
    b.wait_for(WAIT, |e| matches!(e, Event::Ready(..))).await;

    a.stop().await;
    b.wait_for(
        WAIT,
        |e| matches!(e, Event::Disconnected(_, Some(p), _) if p == "node-a"),
    )
    .await;
    // It keeps trying while node-a is away.
    b.wait_for(WAIT, |e| matches!(e, Event::Reconnecting(_, n) if *n >= 2))
        .await;

    let a = node_on("node-a", "a", port, COOKIE).await;
    let seen = b
        .wait_for(WAIT, |e| matches!(e, Event::Ready(_, p) if p == "node-a"))
        .await;
    assert!(
        seen.iter()
            .any(|e| matches!(e, Event::Authenticated(_, p) if p == "node-a")),
        "{seen:?}"
    );
    let new_incarnation = ractor_grpc::node_info(&a.actor)
        .await
        .expect("info")
        .incarnation;
    assert_ne!(old_incarnation, new_incarnation);

    // The resync brought the actor back as a new proxy, not the old one.
    let after = proxy::<MyBasicMessageType>(&b, "node-a", "a-restart").await;
    assert_ne!(after.get_id(), before.get_id(), "a proxy was aliased");
    assert_eq!(
        call1(&after).await.expect("call through the new proxy"),
        vec!["got 1", "and 2", "after 0 casts"]
    );
    assert!(
        call1(&before).await.is_err(),
        "the old proxy must not reach the new incarnation"
    );
    let targets = ractor_grpc::list_targets(&b.actor).await.expect("targets");
    assert_eq!(targets.len(), 1, "{targets:?}");
    assert_eq!(targets[0].state, TargetState::Connected);
    assert_eq!(targets[0].peer.as_deref(), Some("node-a"));
    assert_eq!(targets[0].failures, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_connected_waits_for_a_peer_that_starts_later() {
    let port = free_port();
    let mut b = node_on("node-b", "b", 0, COOKIE).await;
    ractor_grpc::keep_connected(&b.actor, format!("127.0.0.1:{port}"))
        .await
        .expect("a well-formed target");
    b.wait_for(WAIT, |e| matches!(e, Event::Reconnecting(_, n) if *n >= 2))
        .await;
    let targets = ractor_grpc::list_targets(&b.actor).await.expect("targets");
    assert!(targets[0].last_error.is_some(), "{targets:?}");

    let _a = node_on("node-a", "a", port, COOKIE).await;
    b.wait_for(WAIT, |e| matches!(e, Event::Ready(_, p) if p == "node-a"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_cookie_stops_the_retries_and_says_so() {
    let a = node_on("node-a", "a", 0, "another cookie").await;
    let mut b = node_on("node-b", "b", 0, COOKIE).await;
    ractor_grpc::keep_connected(&b.actor, a.addr.clone())
        .await
        .expect("a well-formed target");
    let seen = b.wait_for(WAIT, |e| matches!(e, Event::GaveUp(..))).await;
    let Some(Event::GaveUp(addr, why)) = seen.last() else {
        unreachable!("wait_for returns the matching event last");
    };
    assert_eq!(addr, &a.addr);
    assert!(why.contains("bad-cookie"), "{why}");
    assert!(
        !seen.iter().any(|e| matches!(e, Event::Reconnecting(..))),
        "a permanent refusal is not retried: {seen:?}"
    );
    let targets = ractor_grpc::list_targets(&b.actor).await.expect("targets");
    assert_eq!(targets[0].state, TargetState::GaveUp);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_disconnect_is_not_undone_and_an_invalid_target_is_refused() {
    let a = node_on("node-a", "a", 0, COOKIE).await;
    let mut b = node_on("node-b", "b", 0, COOKIE).await;
    ractor_grpc::connect(&b.actor, a.addr.clone())
        .await
        .expect("connect");
    let targets = ractor_grpc::list_targets(&b.actor).await.expect("targets");
    assert_eq!(targets.len(), 1, "a dialled peer is kept: {targets:?}");
    assert!(
        ractor_grpc::disconnect(&b.actor, "node-a")
            .await
            .expect("disconnect")
    );
    b.wait_for(WAIT, |e| matches!(e, Event::Disconnected(..)))
        .await;
    // Nothing left to dial: the peer stays away until asked for again.
    assert!(
        ractor_grpc::list_targets(&b.actor)
            .await
            .expect("targets")
            .is_empty()
    );
    for bad in ["no port", "host:", ":4000", "host:notaport"] {
        let err = ractor_grpc::keep_connected(&b.actor, bad).await;
        assert!(
            matches!(err, Err(ractor_grpc::ConnectError::InvalidAddress { .. })),
            "{bad}: {err:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dns_name_is_kept_connected_at_the_addresses_it_resolves_to() {
    let a = node_on("node-a", "a", 0, COOKIE).await;
    let mut b = node_on("node-b", "b", 0, COOKIE).await;
    let name = format!("localhost:{}", port_of(&a));
    ractor_grpc::keep_connected(&b.actor, name.clone())
        .await
        .expect("a well-formed target");
    b.wait_for(WAIT, |e| matches!(e, Event::Ready(_, p) if p == "node-a"))
        .await;
    let targets = ractor_grpc::list_targets(&b.actor).await.expect("targets");
    let v4 = targets
        .iter()
        .find(|t| t.addr == a.addr)
        .unwrap_or_else(|| panic!("{} not among {targets:?}", a.addr));
    assert_eq!(v4.resolved_from.as_deref(), Some(name.as_str()));
    assert_eq!(v4.state, TargetState::Connected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transitive_mesh_heals_after_a_member_restarts() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("ractor_grpc=info")
        .with_test_writer()
        .try_init();
    let transitive = |name: &str, port: u16| {
        let config = NodeConfig::new(name, COOKIE)
            .with_listen_addr(([127, 0, 0, 1], port).into())
            .with_mode(ConnectionMode::Transitive)
            .with_reconnect(fast());
        start_with(advertising(config, &name[5..]))
    };
    let a = transitive("node-a", 0).await;
    let b = transitive("node-b", 0).await;
    let mut c = transitive("node-c", 0).await;
    let c_port = port_of(&c);
    ractor_grpc::connect(&b.actor, a.addr.clone())
        .await
        .expect("b to a");
    ractor_grpc::connect(&c.actor, a.addr.clone())
        .await
        .expect("c to a");
    {
        let nodes = [&a, &b, &c];
        assert!(eventually(WAIT, || full_mesh(&nodes)).await, "no mesh");
    }

    c.stop().await;
    let c = transitive("node-c", c_port).await;
    // b learnt of c in an introduction and dials it again; introductions
    // then bring a and c together.
    let nodes = [&a, &b, &c];
    assert!(
        eventually(WAIT, || full_mesh(&nodes)).await,
        "the mesh did not heal: {:?} {:?} {:?} {:?}",
        a.sessions().await,
        b.sessions().await,
        c.sessions().await,
        ractor_grpc::list_targets(&b.actor).await
    );
}
