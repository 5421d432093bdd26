//! A peer's advertised actors are records until something needs them: a
//! proxy (an actor, a task) is started for one only when it joins a pg
//! group, is looked up, or is addressed. Users cannot tell: the same
//! `ActorId` whichever way it is reached first.

mod common;

use common::{
    WAIT,
    actors::MyBasicMessageType,
    peer::{self, envelope, ready_peer},
};
use ractor::{ActorId, ActorRef};
use ractor_grpc::{
    NodeConfig,
    pb::{self, envelope::Body},
    registry::where_is,
};

/// Actors the scripted peer advertises.
const ADVERTISED: u64 = 1_000;

/// More tasks than the session itself runs (reader, writer, the stream's
/// connection, the session actor): one per advertised actor would be 1,000.
const SESSION_TASKS_AT_MOST: usize = 100;

fn pg_joined(group: &str, pids: &[u64]) -> pb::Envelope {
    envelope(Body::PgJoined(pb::PgJoined {
        scope: ractor::pg::DEFAULT_SCOPE.to_owned(),
        group: group.to_owned(),
        actors: pids
            .iter()
            .map(|&pid| pb::ActorRef {
                pid,
                name: format!("od-{pid}"),
                message_type: String::new(),
                message: None,
            })
            .collect(),
    }))
}

async fn node() -> common::TestNode {
    // Advertises nothing of its own: only the peer's actors matter here.
    common::start_with(NodeConfig::new("node-a", common::COOKIE).with_advertise_filter(|_| false))
        .await
}

async fn tasks(node: &common::TestNode) -> usize {
    ractor_grpc::node_info(&node.actor)
        .await
        .expect("node info")
        .tasks
}

fn pid_of(id: ActorId) -> Option<u64> {
    match id {
        ActorId::Remote { pid, .. } => Some(pid),
        ActorId::Local(_) => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_advertised_actors_cost_no_task_until_one_is_used() {
    let mut node = node().await;
    let before = tasks(&node).await;
    let adverts = (1..=ADVERTISED)
        .map(|pid| peer::spawned(pid, &format!("od-{pid}")))
        .collect();
    let (mut peer, _) = ready_peer(&mut node, "od-peer", adverts).await;

    let sessions = node.sessions().await;
    assert_eq!(
        sessions.first().map(|s| s.remote_actors),
        Some(1_000),
        "every advertised actor is known: {sessions:?}"
    );
    let after = tasks(&node).await;
    assert!(
        after.saturating_sub(before) <= SESSION_TASKS_AT_MOST,
        "tokio tasks went from {before} to {after} for {ADVERTISED} advertised actors"
    );

    // A lookup starts the proxy; a second one finds the same.
    let first = where_is(&node.actor, "od-peer", "od-500")
        .await
        .expect("lookup")
        .expect("od-500 is advertised");
    assert_eq!(pid_of(first.get_id()), Some(500));
    let again = where_is(&node.actor, "od-peer", "od-500")
        .await
        .expect("lookup")
        .expect("still advertised");
    assert_eq!(again.get_id(), first.get_id(), "one proxy per actor");

    // It works: a cast through it reaches the peer addressed to pid 500.
    let proxy: ActorRef<MyBasicMessageType> = first.into();
    proxy
        .cast(MyBasicMessageType::Cast1("lazy".into(), 1))
        .expect("cast");
    let seen = peer
        .until(WAIT, |e| matches!(e.body, Some(Body::Cast(_))))
        .await;
    let Some(Body::Cast(c)) = seen.last().and_then(|e| e.body.clone()) else {
        panic!("no cast arrived: {seen:?}")
    };
    assert_eq!((c.to, c.variant.as_str()), (500, "Cast1"));

    // An actor the peer withdraws is gone, started or not.
    peer.send(vec![peer::terminated(500), peer::terminated(501)])
        .await
        .expect("sent");
    let gone = common::eventually(WAIT, || async {
        let a = where_is(&node.actor, "od-peer", "od-500").await;
        let b = where_is(&node.actor, "od-peer", "od-501").await;
        matches!((a, b), (Ok(None), Ok(None)))
    })
    .await;
    assert!(gone, "withdrawn actors are still found");
    assert_eq!(
        node.sessions().await.first().map(|s| s.remote_actors),
        Some(998)
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pg_member_and_a_lookup_reach_the_same_proxy_whichever_came_first() {
    let mut node = node().await;
    let (mut peer, _) = ready_peer(
        &mut node,
        "od-peer2",
        vec![peer::spawned(7, "od-7"), peer::spawned(8, "od-8")],
    )
    .await;
    // od-8 is looked up before it joins a group; od-7 joins first.
    let looked_up = where_is(&node.actor, "od-peer2", "od-8")
        .await
        .expect("lookup")
        .expect("od-8");
    peer.send(vec![pg_joined("od-group", &[7, 8])])
        .await
        .expect("sent");
    let group = "od-group".to_owned();
    assert!(
        common::eventually(WAIT, || async {
            ractor::pg::get_members(&group).len() == 2
        })
        .await,
        "the group never had both members: {:?}",
        ractor::pg::get_members(&group)
    );
    let members = ractor::pg::get_members(&group);
    let member = |pid| {
        members
            .iter()
            .find(|c| pid_of(c.get_id()) == Some(pid))
            .map(ractor::ActorCell::get_id)
    };
    assert_eq!(
        member(8),
        Some(looked_up.get_id()),
        "the member is the proxy the lookup started"
    );
    let seven = where_is(&node.actor, "od-peer2", "od-7")
        .await
        .expect("lookup")
        .expect("od-7");
    assert_eq!(
        member(7),
        Some(seven.get_id()),
        "the lookup finds the member's proxy"
    );
    // When the session ends the members leave with their proxies.
    node.stop().await;
    assert!(
        common::eventually(WAIT, || async {
            ractor::pg::get_members(&group).is_empty()
        })
        .await,
        "proxies outlived their session"
    );
}
