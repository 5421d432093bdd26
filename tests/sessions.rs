//! In-process tests: several nodes on loopback in one test binary.

mod common;

use common::{Event, WAIT, peer, start};
use ractor_grpc::{
    ConnectError, ConnectionMode, Direction, DisconnectCause, NodeConfig, SessionState,
    pb::{self, envelope::Body},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_connection_is_refused() {
    let a = start("node-a").await;
    let err = ractor_grpc::connect(&a.actor, a.addr.clone())
        .await
        .expect_err("must fail");
    assert_eq!(err, ConnectError::SelfConnection);
    assert!(common::eventually(WAIT, || async { a.sessions().await.is_empty() }).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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
    let a_addr = a.addr.clone();
    a.stop().await;
    // The listener is closed too.
    assert!(
        tokio::net::TcpStream::connect(&a_addr).await.is_err(),
        "{a_addr} still accepts"
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_dial_leaves_exactly_one_session() {
    // Each round races two dials; bounded to keep the test short.
    for round in 0..15 {
        let a = start("node-a").await;
        let b = start("node-b").await;
        let (ra, rb) = tokio::join!(
            ractor_grpc::connect(&a.actor, b.addr.clone()),
            ractor_grpc::connect(&b.actor, a.addr.clone()),
        );
        // A dial that starts after the other one finished is told it is
        // already connected; a dial that races it returns the survivor.
        for (result, peer) in [(&ra, "node-b"), (&rb, "node-a")] {
            match result {
                Ok(s) => assert_eq!(s.peer_name.as_deref(), Some(peer)),
                Err(ConnectError::AlreadyConnected { peer: p }) => assert_eq!(p, peer),
                Err(e) => panic!("round {round}: dial to {peer}: {e}"),
            }
        }
        assert!(ra.is_ok() || rb.is_ok(), "round {round}: {ra:?} {rb:?}");
        let settled = common::eventually(WAIT, || async {
            a.sessions().await.len() == 1 && b.sessions().await.len() == 1
        })
        .await;
        let (sa, sb) = (a.sessions().await, b.sessions().await);
        assert!(settled, "round {round}: a {sa:?} b {sb:?}");
        assert_eq!(sa[0].state, SessionState::Ready);
        assert_eq!(sb[0].state, SessionState::Ready);
        // Both agree which stream survived: one side's outbound is the other's inbound.
        assert_ne!(sa[0].direction, sb[0].direction, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_connect_reports_already_connected() {
    let a = start("node-a").await;
    let b = start("node-b").await;
    ractor_grpc::connect(&a.actor, b.addr.clone())
        .await
        .expect("first");
    let again = ractor_grpc::connect(&a.actor, b.addr.clone()).await;
    assert_eq!(
        again,
        Err(ConnectError::AlreadyConnected {
            peer: "node-b".into()
        })
    );
    // Once b sees its side ready too, a dial back is refused the same way.
    assert!(
        common::eventually(WAIT, || async {
            b.sessions()
                .await
                .iter()
                .all(|s| s.state == SessionState::Ready)
        })
        .await
    );
    let reverse = ractor_grpc::connect(&b.actor, a.addr.clone()).await;
    assert_eq!(
        reverse,
        Err(ConnectError::AlreadyConnected {
            peer: "node-a".into()
        })
    );
    assert!(
        common::eventually(WAIT, || async {
            a.sessions().await.len() == 1 && b.sessions().await.len() == 1
        })
        .await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_connect_and_list_each_other() {
    let a = start("node-a").await;
    let b = start("node-b").await;
    let c = start("node-c").await;
    ractor_grpc::connect(&a.actor, b.addr.clone())
        .await
        .expect("a-b");
    ractor_grpc::connect(&b.actor, c.addr.clone())
        .await
        .expect("b-c");
    ractor_grpc::connect(&c.actor, a.addr.clone())
        .await
        .expect("c-a");
    for (node, expected) in [
        (&a, ["node-b", "node-c"]),
        (&b, ["node-a", "node-c"]),
        (&c, ["node-a", "node-b"]),
    ] {
        let mut names: Vec<String> = node
            .sessions()
            .await
            .into_iter()
            .filter_map(|s| s.peer_name)
            .collect();
        names.sort();
        assert_eq!(names, expected, "{}", node.name);
        let info = ractor_grpc::node_info(&node.actor).await.expect("info");
        assert_eq!(info.peer_count, 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_address_is_a_typed_error() {
    let a = start("node-a").await;
    // Bind and drop a listener to find a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let err = ractor_grpc::connect(&a.actor, format!("127.0.0.1:{port}"))
        .await
        .expect_err("must fail");
    assert!(matches!(err, ConnectError::Unreachable { .. }), "{err:?}");
    let err = ractor_grpc::connect(&a.actor, "not an address")
        .await
        .expect_err("must fail");
    assert!(
        matches!(
            err,
            ConnectError::InvalidAddress { .. } | ConnectError::Unreachable { .. }
        ),
        "{err:?}"
    );
}

async fn ready_peer_names(node: &common::TestNode) -> Vec<String> {
    let mut names: Vec<String> = node
        .sessions()
        .await
        .into_iter()
        .filter(|s| s.state == SessionState::Ready)
        .filter_map(|s| s.peer_name)
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transitive_nodes_form_a_full_mesh() {
    let config = |name: &str| {
        NodeConfig::new(name, common::COOKIE).with_mode(ractor_grpc::ConnectionMode::Transitive)
    };
    let nodes = [
        common::start_with(config("node-a")).await,
        common::start_with(config("node-b")).await,
        common::start_with(config("node-c")).await,
        common::start_with(config("node-d")).await,
    ];
    // A star around node-b: the others only know node-b.
    for i in [0, 2, 3] {
        ractor_grpc::connect(&nodes[i].actor, nodes[1].addr.clone())
            .await
            .expect("connect to b");
    }
    let all = ["node-a", "node-b", "node-c", "node-d"];
    for node in &nodes {
        let expected: Vec<&str> = all.iter().copied().filter(|n| *n != node.name).collect();
        let meshed =
            common::eventually(WAIT, || async { ready_peer_names(node).await == expected }).await;
        assert!(meshed, "{}: {:?}", node.name, node.sessions().await);
    }
    // Exactly one session per pair: 4 nodes × 3 peers, no leftovers.
    for node in &nodes {
        assert!(common::eventually(WAIT, || async { node.sessions().await.len() == 3 }).await);
    }
}

/// What node-b tells a scripted peer after node-c joins it, up to the
/// Spawned advert of an actor spawned once node-b saw node-c ready. That
/// advert travels behind any introduction node-b made (both go through the
/// peer's session in order), so the envelopes before it are all there is.
async fn told_before_a_marker(mode: ConnectionMode, tag: &str) -> Vec<pb::Envelope> {
    let prefix = format!("intro-{tag}");
    let config = NodeConfig::new("node-b", common::COOKIE).with_mode(mode);
    let mut b = common::start_with(common::advertising(config, &prefix)).await;
    let (mut watcher, _) = peer::ready_peer(&mut b, "watcher", vec![]).await;
    let c = start("node-c").await;
    ractor_grpc::connect(&c.actor, b.addr.clone())
        .await
        .expect("c-b");
    b.wait_for(WAIT, |e| matches!(e, Event::Ready(_, n) if n == "node-c"))
        .await;
    let marker = format!("{prefix}-marker");
    let (actor, _) = common::actors::spawn_basic(&marker).await;
    let seen = watcher
        .until(WAIT, |e| match &e.body {
            Some(Body::Spawned(s)) => s.actor.as_ref().is_some_and(|a| a.name == marker),
            _ => false,
        })
        .await;
    actor.stop(None);
    seen
}

fn peer_lists(seen: &[pb::Envelope]) -> Vec<Vec<String>> {
    seen.iter()
        .filter_map(|e| match &e.body {
            Some(Body::Peers(list)) => Some(list.peers.iter().map(|p| p.name.clone()).collect()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolated_nodes_do_not_introduce_their_peers() {
    let seen = told_before_a_marker(ConnectionMode::Isolated, "iso").await;
    assert_eq!(peer_lists(&seen), Vec::<Vec<String>>::new(), "{seen:?}");
    // The same steps in transitive mode do introduce node-c: the check above
    // looks where an introduction would be.
    let seen = told_before_a_marker(ConnectionMode::Transitive, "tra").await;
    assert_eq!(peer_lists(&seen), [["node-c"]], "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_disconnects_one_peer_and_both_sides_hear_it_was_on_purpose() {
    let mut a = start("node-a").await;
    let mut b = start("node-b").await;
    let c = start("node-c").await;
    ractor_grpc::connect(&a.actor, b.addr.clone())
        .await
        .expect("a-b");
    ractor_grpc::connect(&a.actor, c.addr.clone())
        .await
        .expect("a-c");
    assert_eq!(ractor_grpc::disconnect(&a.actor, "node-b").await, Ok(true));
    for (node, peer, by_peer) in [(&mut a, "node-b", false), (&mut b, "node-a", true)] {
        let events = node
            .wait_for(WAIT, |e| matches!(e, Event::Disconnected(..)))
            .await;
        let Some(Event::Disconnected(_, Some(name), reason)) = events.last() else {
            panic!("{events:?}")
        };
        assert_eq!(name, peer);
        assert_eq!(reason.cause, DisconnectCause::Stopped, "{reason}");
        assert_eq!(reason.by_peer, by_peer, "{reason}");
    }
    // The other session is untouched; a second request finds nothing.
    assert_eq!(ready_peer_names(&a).await, ["node-c"]);
    assert_eq!(ractor_grpc::disconnect(&a.actor, "node-b").await, Ok(false));
}

/// A free port on 127.0.0.1, found by binding and dropping a listener.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_dial_the_advertised_address_a_dns_name_included() {
    let transitive = |name: &str| {
        NodeConfig::new(name, common::COOKIE).with_mode(ractor_grpc::ConnectionMode::Transitive)
    };
    // node-a listens on 127.0.0.1 but tells peers "localhost:PORT". It is
    // isolated, so it dials nobody it is told about: whoever meets it, dials.
    let port = free_port();
    let advertised = format!("localhost:{port}");
    let a = common::start_with(
        NodeConfig::new("node-a", common::COOKIE)
            .with_listen_addr(format!("127.0.0.1:{port}").parse().expect("addr"))
            .with_advertise_addr(advertised.clone()),
    )
    .await;
    let info = ractor_grpc::node_info(&a.actor).await.expect("info");
    assert_eq!(info.advertise_addr, advertised);
    let b = common::start_with(transitive("node-b")).await;
    let c = common::start_with(transitive("node-c")).await;
    ractor_grpc::connect(&b.actor, c.addr.clone())
        .await
        .expect("b-c");
    // node-a dials node-b; node-b introduces node-a to node-c by the name
    // node-a advertised, and node-c dials that name.
    ractor_grpc::connect(&a.actor, b.addr.clone())
        .await
        .expect("a-b");
    let b_sees = b.sessions().await;
    let a_on_b = b_sees
        .iter()
        .find(|s| s.peer_name.as_deref() == Some("node-a"))
        .expect("node-a on node-b");
    assert_eq!(
        a_on_b.peer_listen_addr.as_deref(),
        Some(advertised.as_str())
    );
    let meshed = common::eventually(WAIT, || async {
        ready_peer_names(&c).await == ["node-a", "node-b"]
    })
    .await;
    assert!(meshed, "{:?}", c.sessions().await);
    let a_on_c = c
        .sessions()
        .await
        .into_iter()
        .find(|s| s.peer_name.as_deref() == Some("node-a"))
        .expect("node-a on node-c");
    assert_eq!(a_on_c.direction, Direction::Outbound, "node-c dialled");
    assert_eq!(
        a_on_c.peer_listen_addr.as_deref(),
        Some(advertised.as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_advertise_address_that_cannot_be_dialled_stops_the_node_from_starting() {
    for bad in ["0.0.0.0:4000", "no-port", "host:0"] {
        let config = NodeConfig::new("node-a", common::COOKIE).with_advertise_addr(bad);
        let started = ractor::Actor::spawn(None, ractor_grpc::NodeServer::new(config), ()).await;
        let err = started.expect_err("refused");
        assert!(
            err.to_string().contains("advertise address"),
            "{bad}: {err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_info_counts_the_tasks_of_its_runtime() {
    async fn tasks(node: &common::TestNode) -> u64 {
        ractor_grpc::node_info(&node.actor)
            .await
            .expect("info")
            .tasks as u64
    }
    let a = start("node-a").await;
    let before = tasks(&a).await;
    assert!(before > 0, "a running node has tasks");
    // A hundred tasks parked on the test's runtime, the node's too.
    let gate = std::sync::Arc::new(tokio::sync::Notify::new());
    let parked: Vec<_> = (0..100)
        .map(|_| tokio::spawn(gate.clone().notified_owned()))
        .collect();
    let during = tasks(&a).await;
    assert!(during >= before + 90, "{before} then {during}");
    for task in parked {
        task.abort();
    }
    let back = common::eventually(WAIT, || async { tasks(&a).await < during - 90 }).await;
    assert!(
        back,
        "the aborted tasks are still counted: {}",
        tasks(&a).await
    );
    // GetNodeInfo carries it too.
    let mut client = common::unary::client(&a.addr).await;
    let info = client
        .get_node_info(common::unary::bearer(
            pb::GetNodeInfoRequest {},
            &common::unary::token_for("node-a", ractor_grpc::TokenScope::Inspect),
        ))
        .await
        .expect("GetNodeInfo")
        .into_inner();
    assert!(info.tasks > 0, "{info:?}");
}
