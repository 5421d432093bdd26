//! In-process remote actors: two or three nodes on loopback in one test
//! binary. ractor's registries are process-wide, so each node advertises only
//! the actors whose names start with its own prefix (an advertise filter).

mod common;

use std::time::Duration;

use common::{
    CALL_TIMEOUT, WAIT,
    actors::{Kv, KvStore, MyBasicMessageType, spawn_basic},
    node, pair, proxy, remote_basic,
};
use ractor::{Actor, ActorId, ActorRef, rpc::CallResult};
use ractor_grpc::{ConnectionMode, NodeConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cast_and_call_the_issue_example_across_nodes() {
    // Advertised before connect: part of the sync, so visible right away.
    let (store, _, _a, _b, remote) = remote_basic("a-basic-1").await;
    remote
        .cast(MyBasicMessageType::Cast1("hello".into(), 7))
        .expect("cast");
    let reply = remote
        .call(
            |port| MyBasicMessageType::Call1(3, -2, port),
            Some(CALL_TIMEOUT),
        )
        .await
        .expect("call sent");
    let CallResult::Success(reply) = reply else {
        panic!("call failed: {reply:?}")
    };
    assert_eq!(reply, ["got 3", "and -2", "after 1 casts"]);
    let stats = ractor_grpc::call(&remote, MyBasicMessageType::Stats, Some(CALL_TIMEOUT)).await;
    assert_eq!(stats, Ok((1, true)));
    let seen = ractor_grpc::call(&remote, MyBasicMessageType::Seen, Some(CALL_TIMEOUT)).await;
    assert_eq!(seen, Ok(vec![("hello".to_owned(), 7)]));
    store.stop(None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_casts_arrive_complete_and_in_order() {
    let (store, _, _a, b, remote) = remote_basic("a-basic-2").await;
    for n in 0..10_000u64 {
        remote
            .cast(MyBasicMessageType::Cast1("x".into(), n))
            .expect("cast");
    }
    // The call travels behind the casts on the same proxy and stream.
    let stats = ractor_grpc::call(&remote, MyBasicMessageType::Stats, Some(CALL_TIMEOUT)).await;
    assert_eq!(stats, Ok((10_000, true)));
    let sessions = b.sessions().await;
    assert_eq!(sessions[0].counters.casts_sent, 10_000);
    assert_eq!(sessions[0].counters.refused, 0);
    store.stop(None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn struct_variants_and_generic_enums_work_across_nodes() {
    let (kv, _) = Actor::spawn(Some("a-kv".into()), KvStore, ())
        .await
        .expect("spawn kv");
    let (_a, b) = pair().await;
    let remote: ActorRef<Kv<Vec<u32>>> = proxy(&b, "node-a", "a-kv").await;
    remote
        .cast(Kv::Put {
            key: "k".into(),
            value: vec![1, 2, 3],
        })
        .expect("cast");
    let got = ractor_grpc::call(
        &remote,
        |reply| Kv::Get {
            key: "k".into(),
            reply,
            note: 9,
        },
        Some(CALL_TIMEOUT),
    )
    .await;
    assert_eq!(got, Ok(Some(vec![1, 2, 3])));
    let missing = ractor_grpc::call(
        &remote,
        |reply| Kv::Get {
            key: "nope".into(),
            reply,
            note: 0,
        },
        Some(CALL_TIMEOUT),
    )
    .await;
    assert_eq!(missing, Ok(None));
    assert_eq!(
        ractor_grpc::call(&remote, Kv::Len, Some(CALL_TIMEOUT)).await,
        Ok(1)
    );
    kv.stop(None);
}

fn remote_members(scope: &str, group: &str) -> Vec<ActorId> {
    ractor::pg::get_scoped_members(&scope.to_owned(), &group.to_owned())
        .into_iter()
        .map(|c| c.get_id())
        .filter(|id| !id.is_local())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_join_and_leave_in_a_named_scope_are_mirrored() {
    let (worker, _) = spawn_basic("a-worker-6").await;
    let (_a, b) = pair().await;
    let (scope, group) = ("scope-six", "workers");
    assert!(remote_members(scope, group).is_empty());
    ractor::pg::join_scoped(scope.into(), group.into(), vec![worker.get_cell()]);
    assert!(common::eventually(WAIT, || async { remote_members(scope, group).len() == 1 }).await);
    // node-b reports the member as node-a's.
    let listed = common::eventually(WAIT, || async {
        ractor_grpc::list_groups(&b.actor)
            .await
            .expect("groups")
            .iter()
            .any(|g| {
                g.scope == scope
                    && g.group == group
                    && g.members
                        .iter()
                        .any(|m| m.node == "node-a" && m.name.as_deref() == Some("a-worker-6"))
            })
    })
    .await;
    assert!(listed, "{:?}", ractor_grpc::list_groups(&b.actor).await);
    // The member found through pg is usable as a typed ActorRef.
    let cell = ractor::pg::get_scoped_members(&scope.to_owned(), &group.to_owned())
        .into_iter()
        .find(|c| !c.get_id().is_local())
        .expect("remote member");
    let remote: ActorRef<MyBasicMessageType> = ActorRef::from(cell);
    remote
        .cast(MyBasicMessageType::Cast1("via pg".into(), 0))
        .expect("cast");
    assert_eq!(
        ractor_grpc::call(&remote, MyBasicMessageType::Stats, Some(CALL_TIMEOUT)).await,
        Ok((1, true))
    );

    ractor::pg::leave_scoped(scope.into(), group.into(), vec![worker.get_cell()]);
    assert!(common::eventually(WAIT, || async { remote_members(scope, group).is_empty() }).await);
    worker.stop(None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_actors_are_found_by_name() {
    let (x, _) = spawn_basic("a-named-7").await;
    let (y, _) = spawn_basic("c-named-7").await;
    let a = node("node-a", "a", ConnectionMode::Isolated).await;
    let b = node("node-b", "b", ConnectionMode::Isolated).await;
    let c = node("node-c", "c", ConnectionMode::Isolated).await;
    ractor_grpc::connect(&b.actor, a.addr.clone())
        .await
        .expect("b-a");
    ractor_grpc::connect(&b.actor, c.addr.clone())
        .await
        .expect("b-c");
    let _: ActorRef<MyBasicMessageType> = proxy(&b, "node-a", "a-named-7").await;
    assert!(
        ractor_grpc::registry::where_is(&b.actor, "node-a", "c-named-7")
            .await
            .expect("lookup")
            .is_none()
    );
    assert!(
        ractor_grpc::registry::where_is(&b.actor, "node-c", "c-named-7")
            .await
            .expect("lookup")
            .is_some()
    );
    assert!(
        ractor_grpc::registry::where_is(&b.actor, "node-a", "missing")
            .await
            .expect("lookup")
            .is_none()
    );
    let all = ractor_grpc::registry::where_is_all(&b.actor, "a-named-7")
        .await
        .expect("lookup");
    assert_eq!(all.len(), 1);
    assert_eq!(
        (all[0].peer.as_str(), all[0].name.as_deref()),
        ("node-a", Some("a-named-7"))
    );
    // ListActors on node-a shows what it advertises.
    let actors = ractor_grpc::list_actors(&a.actor).await.expect("actors");
    assert!(
        actors
            .iter()
            .any(|l| l.name.as_deref() == Some("a-named-7"))
    );
    assert!(
        actors
            .iter()
            .all(|l| l.name.as_deref().is_some_and(|n| n.starts_with("a-")))
    );
    x.stop(None);
    y.stop(None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_transitive_nodes_see_every_members_and_lose_a_stopped_nodes() {
    let (scope, group) = ("scope-mesh", "everyone");
    let mut actors = Vec::new();
    for p in ["a", "b", "c"] {
        let (actor, _) = spawn_basic(&format!("{p}-mesh-8")).await;
        ractor::pg::join_scoped(scope.into(), group.into(), vec![actor.get_cell()]);
        actors.push(actor);
    }
    let mut a = node("node-a", "a", ConnectionMode::Transitive).await;
    let b = node("node-b", "b", ConnectionMode::Transitive).await;
    let c = node("node-c", "c", ConnectionMode::Transitive).await;
    ractor_grpc::connect(&a.actor, b.addr.clone())
        .await
        .expect("a-b");
    ractor_grpc::connect(&c.actor, b.addr.clone())
        .await
        .expect("c-b");
    let nodes_in_group = |n: &common::TestNode| {
        let actor = n.actor.clone();
        async move {
            let groups = ractor_grpc::list_groups(&actor).await.expect("groups");
            let mut nodes: Vec<String> = groups
                .into_iter()
                .filter(|g| g.scope == scope && g.group == group)
                .flat_map(|g| g.members.into_iter().map(|m| m.node))
                .collect();
            nodes.sort();
            nodes.dedup();
            nodes
        }
    };
    // Each node lists its own three local actors under its own name, and the
    // two other nodes' members under theirs.
    for n in [&a, &b, &c] {
        let ok = common::eventually(WAIT, || async { nodes_in_group(n).await.len() == 3 }).await;
        assert!(ok, "{}: {:?}", n.name, nodes_in_group(n).await);
    }
    a.stop().await;
    for n in [&b, &c] {
        let gone = common::eventually(WAIT, || async {
            !nodes_in_group(n).await.contains(&"node-a".to_owned())
        })
        .await;
        assert!(gone, "{}: {:?}", n.name, nodes_in_group(n).await);
    }
    for actor in actors {
        actor.stop(None);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_peer_gets_new_proxies_without_aliasing() {
    let (store, _) = spawn_basic("a-basic-9").await;
    let mut a = node("node-a", "a", ConnectionMode::Isolated).await;
    let b = node("node-b", "b", ConnectionMode::Isolated).await;
    ractor_grpc::connect(&b.actor, a.addr.clone())
        .await
        .expect("connect");
    let old: ActorRef<MyBasicMessageType> = proxy(&b, "node-a", "a-basic-9").await;
    let old_id = old.get_id();
    a.stop().await;
    // The old proxy stops with the session.
    assert!(
        common::eventually(WAIT, || async {
            old.get_status() == ractor::ActorStatus::Stopped
        })
        .await
    );
    let a2 = node("node-a", "a", ConnectionMode::Isolated).await;
    ractor_grpc::connect(&b.actor, a2.addr.clone())
        .await
        .expect("reconnect");
    let new: ActorRef<MyBasicMessageType> = proxy(&b, "node-a", "a-basic-9").await;
    assert_ne!(new.get_id(), old_id, "a new session never reuses a node id");
    let (
        ActorId::Remote {
            node_id: old_node,
            pid: old_pid,
        },
        ActorId::Remote {
            node_id: new_node,
            pid: new_pid,
        },
    ) = (old_id, new.get_id())
    else {
        panic!("proxies have remote ids")
    };
    assert_ne!(old_node, 0);
    assert_ne!(new_node, 0);
    assert_ne!(old_node, new_node);
    assert_eq!(old_pid, new_pid, "same actor, same pid on its node");
    assert_eq!(
        ractor_grpc::call(&new, MyBasicMessageType::Stats, Some(CALL_TIMEOUT)).await,
        Ok((0, true))
    );
    // Sending through the old proxy fails at once instead of reaching anyone.
    assert!(
        old.cast(MyBasicMessageType::Cast1("stale".into(), 1))
            .is_err()
    );
    store.stop(None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_or_grouped_mode_hides_anonymous_actors_until_they_join_a_group() {
    let (anon, _) = Actor::spawn(None, common::actors::BasicActor::default(), ())
        .await
        .expect("spawn");
    let (named, _) = spawn_basic("a-named-10").await;
    let a = common::start_with(
        NodeConfig::new("node-a", common::COOKIE)
            .with_advertise(ractor_grpc::registry::AdvertiseMode::NamedOrGrouped)
            .with_advertise_filter(|cell| cell.get_name().is_none_or(|n| n.starts_with("a-"))),
    )
    .await;
    let b = node("node-b", "b", ConnectionMode::Isolated).await;
    ractor_grpc::connect(&b.actor, a.addr.clone())
        .await
        .expect("connect");
    let anon_pid = anon.get_id().pid();
    let advertised = |pid: u64| {
        let a = a.actor.clone();
        async move {
            ractor_grpc::list_actors(&a)
                .await
                .expect("actors")
                .iter()
                .any(|l| l.pid == pid)
        }
    };
    assert!(advertised(named.get_id().pid()).await);
    assert!(
        !advertised(anon_pid).await,
        "an anonymous, ungrouped actor stays private"
    );
    let sessions = b.sessions().await;
    assert_eq!(sessions[0].remote_actors, 1, "{sessions:?}");

    ractor::pg::join_scoped("scope-ten".into(), "g".into(), vec![anon.get_cell()]);
    assert!(common::eventually(WAIT, || advertised(anon_pid)).await);
    assert!(
        common::eventually(WAIT, || async {
            remote_members("scope-ten", "g").len() == 1
        })
        .await
    );
    anon.stop(None);
    named.stop(None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_never_evicts_a_local_actor_of_the_same_name() {
    // "a-dup-11" lives here; node-b (same process) also advertises an actor
    // whose proxy would carry that name if proxies were registered by name.
    let (local, _) = spawn_basic("a-dup-11").await;
    let a = node("node-a", "a", ConnectionMode::Isolated).await;
    let mut b = node("node-b", "a", ConnectionMode::Isolated).await;
    ractor_grpc::connect(&a.actor, b.addr.clone())
        .await
        .expect("connect");
    let proxied: ActorRef<MyBasicMessageType> = proxy(&a, "node-b", "a-dup-11").await;
    b.stop().await;
    assert!(
        common::eventually(WAIT, || async {
            proxied.get_status() == ractor::ActorStatus::Stopped
        })
        .await
    );
    let found = ractor::registry::where_is("a-dup-11").expect("the local actor keeps its name");
    assert_eq!(found.get_id(), local.get_id());
    local.stop(None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_without_a_practical_timeout_works() {
    let (store, _, _a, _b, remote) = remote_basic("a-basic-12").await;
    for _ in 0..2 {
        let got = ractor_grpc::call(
            &remote,
            |p| MyBasicMessageType::Call1(1, 2, p),
            Some(Duration::MAX),
        )
        .await;
        assert_eq!(
            got.as_deref(),
            Ok(&[
                "got 1".to_owned(),
                "and 2".to_owned(),
                "after 0 casts".to_owned()
            ][..])
        );
    }
    let got = ractor_grpc::call(&remote, MyBasicMessageType::Stats, None).await;
    assert_eq!(got, Ok((0, true)));
    store.stop(None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_larger_than_the_queue_waits_and_arrives_whole_and_in_order() {
    let (store, _, _a, b, remote) = remote_basic("a-basic-14").await;
    // 64 MiB of casts against the default 32 MiB queue limit, with `send`,
    // which waits for room (plain casts past the limit would be refused
    // and counted: tests/backpressure.rs and integration/tests/backpressure.rs).
    let chunk = "y".repeat(64 * 1024);
    let count = 1024u64;
    for n in 0..count {
        ractor_grpc::send(&remote, MyBasicMessageType::Cast1(chunk.clone(), n))
            .await
            .expect("send");
    }
    let stats = ractor_grpc::call(&remote, MyBasicMessageType::Stats, Some(CALL_TIMEOUT)).await;
    assert_eq!(stats, Ok((count, true)));
    // The reply came behind every cast: the queue has given back all it held.
    let counters = b.sessions().await[0].counters;
    assert_eq!(
        (
            counters.casts_sent,
            counters.refused,
            counters.overflowed,
            counters.queued_bytes,
            counters.calls_in_flight
        ),
        (count, 0, 0, 0, 0)
    );
    store.stop(None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callers_timeout_travels_with_the_call() {
    let (store, _, _a, _b, remote) = remote_basic("a-basic-15").await;
    let seen = ractor_grpc::call(
        &remote,
        MyBasicMessageType::TimeoutSeen,
        Some(Duration::from_millis(7_250)),
    )
    .await;
    assert_eq!(seen, Ok(7_250));
    let seen = ractor_grpc::call(&remote, MyBasicMessageType::TimeoutSeen, None).await;
    assert_eq!(seen, Ok(0), "no timeout stays no timeout");
    store.stop(None);
}
