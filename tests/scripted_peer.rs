//! The scripted peer (`common::peer`) against a real node: it completes the
//! handshake, is refused with a wrong cookie, stands in for a node whose
//! actors the real node casts to and calls, and calls the real node's actors.

mod common;

use common::{
    CALL_TIMEOUT, Event, WAIT,
    actors::{MyBasicMessageType, spawn_basic},
    peer::{self, ScriptedPeer, ready_peer},
};
use ractor::ActorRef;
use ractor_grpc::{
    CallError, DisconnectCause, NodeConfig, SessionState,
    pb::{self, CallErrorCode, envelope::Body},
};

/// A node that advertises only the actors whose names start with `prefix`
/// (ractor's registry is process-wide; tests run side by side).
async fn node(prefix: &'static str) -> common::TestNode {
    common::start_with(
        NodeConfig::new("node-a", common::COOKIE)
            .with_advertise_filter(move |c| c.get_name().is_some_and(|n| n.starts_with(prefix))),
    )
    .await
}

fn is_cast(e: &pb::Envelope) -> bool {
    matches!(e.body, Some(Body::Cast(_)))
}

fn is_call(e: &pb::Envelope) -> bool {
    matches!(e.body, Some(Body::Call(_)))
}

fn last_call(seen: &[pb::Envelope]) -> pb::Call {
    match seen.last().and_then(|e| e.body.clone()) {
        Some(Body::Call(c)) => c,
        other => panic!("expected a Call, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scripted_peer_completes_the_handshake_and_syncs() {
    let mut node = node("s1-").await;
    let (peer, snapshot) = ready_peer(&mut node, "scripted-1", vec![]).await;
    assert_eq!(peer.node_name(), "node-a");
    assert_eq!(peer.challenge.version, 1);
    assert_ne!(peer.challenge.incarnation, 0);
    // The node advertises nothing (no actor is named s1-...).
    assert!(snapshot.is_empty(), "{snapshot:?}");

    let sessions = node.sessions().await;
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    let s = &sessions[0];
    assert_eq!(s.peer_name.as_deref(), Some("scripted-1"));
    assert_eq!(s.state, SessionState::Ready);
    assert_eq!(s.direction, ractor_grpc::Direction::Inbound);
    assert_eq!(s.protocol_version, Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_cookie_is_refused_both_ways() {
    let mut node = node("s2-").await;
    let err = ScriptedPeer::dial(&node.addr, "intruder", "not-the-cookie")
        .await
        .expect_err("a wrong cookie must not authenticate");
    assert!(err.contains("Unauthenticated"), "{err}");
    assert!(err.contains("bad-cookie"), "{err}");
    assert!(!err.contains(common::COOKIE), "{err}");
    let events = node
        .wait_for(WAIT, |e| matches!(e, Event::Disconnected(..)))
        .await;
    let Some(Event::Disconnected(_, _, reason)) = events.last() else {
        panic!("{events:?}")
    };
    assert_eq!(reason.cause, DisconnectCause::BadCookie, "{reason:?}");
    assert!(!reason.by_peer, "the node refused: {reason:?}");
    assert!(
        !events.iter().any(|e| matches!(e, Event::Ready(..))),
        "{events:?}"
    );
    assert!(common::eventually(WAIT, || async { node.sessions().await.is_empty() }).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_casts_and_calls_the_scripted_peers_actor() {
    let mut node = node("s3-").await;
    let (mut peer, _) = ready_peer(&mut node, "scripted-3", vec![peer::spawned(7, "fake-7")]).await;

    let found = common::eventually(WAIT, || async {
        ractor_grpc::registry::where_is(&node.actor, "scripted-3", "fake-7")
            .await
            .expect("lookup")
            .is_some()
    })
    .await;
    assert!(found, "no proxy for fake-7 on node-a");
    let cell = ractor_grpc::registry::where_is(&node.actor, "scripted-3", "fake-7")
        .await
        .expect("lookup")
        .expect("the proxy");
    assert!(!cell.get_id().is_local(), "a proxy has a remote id");
    let remote: ActorRef<MyBasicMessageType> = ActorRef::from(cell);

    // A cast arrives as Cast{to: 7}; the bytes are the .proto's worked example 1.
    remote
        .cast(MyBasicMessageType::Cast1("hi".into(), 7))
        .expect("cast");
    let seen = peer.until(WAIT, is_cast).await;
    let Some(Body::Cast(c)) = seen.last().and_then(|e| e.body.clone()) else {
        panic!("{seen:?}")
    };
    assert_eq!((c.to, c.variant.as_str()), (7, "Cast1"));
    assert_eq!(c.args, [0x02, 0x68, 0x69, 0, 0, 0, 0, 0, 0, 0, 7]);
    assert_eq!(c.args, peer::args_of(&("hi".to_owned(), 7u64)));

    // A call arrives as Call{tag}; our CallReply is what the caller gets.
    let pending = {
        let remote = remote.clone();
        tokio::spawn(async move {
            ractor_grpc::call(
                &remote,
                |p| MyBasicMessageType::Call1(3, -2, p),
                Some(CALL_TIMEOUT),
            )
            .await
        })
    };
    let c = last_call(&peer.until(WAIT, is_call).await);
    assert_eq!((c.to, c.variant.as_str()), (7, "Call1"));
    assert_eq!(
        c.args,
        [0x03, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]
    );
    assert_eq!(c.timeout_ms, 20_000);
    let reply = vec!["a".to_owned(), "bc".to_owned()];
    peer.send(vec![peer::call_reply(c.tag, peer::args_of(&reply))])
        .await
        .expect("reply sent");
    let got = tokio::time::timeout(WAIT, pending)
        .await
        .expect("the call returns")
        .expect("task");
    assert_eq!(got, Ok(reply));

    // Our CallError is the caller's error.
    let pending = {
        let remote = remote.clone();
        tokio::spawn(async move {
            ractor_grpc::call(&remote, MyBasicMessageType::Stats, Some(CALL_TIMEOUT)).await
        })
    };
    let second = last_call(&peer.until(WAIT, is_call).await);
    assert_eq!(second.variant, "Stats");
    assert!(second.args.is_empty(), "{:?}", second.args);
    assert_ne!(second.tag, c.tag, "tags are unique among calls in flight");
    peer.send(vec![peer::call_error(
        second.tag,
        CallErrorCode::UnknownActor,
        "fake-7 is gone",
    )])
    .await
    .expect("error sent");
    let got = tokio::time::timeout(WAIT, pending)
        .await
        .expect("the call returns")
        .expect("task");
    match got {
        Err(CallError::UnknownActor(detail)) => {
            assert!(detail.contains("fake-7 is gone"), "{detail}");
        }
        other => panic!("expected UnknownActor, got {other:?}"),
    }
    let sessions = node.sessions().await;
    assert_eq!(sessions[0].counters.casts_sent, 1);
    assert_eq!(sessions[0].counters.calls_sent, 2);
    assert_eq!(sessions[0].counters.calls_in_flight, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_to_an_unknown_pid_gets_unknown_actor() {
    let mut node = node("s4-").await;
    let (mut peer, _) = ready_peer(&mut node, "scripted-4", vec![]).await;
    peer.send(vec![
        peer::cast(u64::MAX, "Cast1", peer::args_of(&("x".to_owned(), 1u64))),
        peer::call(5, u64::MAX, "Stats", vec![], 5_000),
    ])
    .await
    .expect("sent");
    let seen = peer
        .until(WAIT, |e| matches!(e.body, Some(Body::CallError(_))))
        .await;
    let Some(Body::CallError(err)) = seen.last().and_then(|e| e.body.clone()) else {
        panic!("{seen:?}")
    };
    assert_eq!(err.tag, 5);
    assert_eq!(err.code, CallErrorCode::UnknownActor as i32, "{err:?}");
    assert!(!err.detail.is_empty());
    // The cast has nobody to answer to: it is counted.
    let counted = common::eventually(WAIT, || async {
        let s = node.sessions().await;
        s.len() == 1 && s[0].counters.unknown_actor == 1 && s[0].counters.calls_received == 1
    })
    .await;
    assert!(counted, "{:?}", node.sessions().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scripted_peer_calls_the_nodes_advertised_actor() {
    let (actor, _) = spawn_basic("s5-basic").await;
    let pid = actor.get_id().pid();
    let mut node = node("s5-").await;
    let (mut peer, snapshot) = ready_peer(&mut node, "scripted-5", vec![]).await;
    let advertised = snapshot.iter().any(|e| {
        matches!(&e.body, Some(Body::Spawned(pb::ActorSpawned { actor: Some(a) }))
            if a.pid == pid && a.name == "s5-basic")
    });
    assert!(advertised, "pid {pid} not in the snapshot {snapshot:?}");

    let stats = |tag| peer::call(tag, pid, "Stats", vec![], 5_000);
    let is_answer = |tag: u64| {
        move |e: &pb::Envelope| match &e.body {
            Some(Body::CallReply(r)) => r.tag == tag,
            Some(Body::CallError(r)) => r.tag == tag,
            _ => false,
        }
    };
    let reply_of = |seen: Vec<pb::Envelope>| match seen.last().and_then(|e| e.body.clone()) {
        Some(Body::CallReply(r)) => {
            ractor_grpc::wire::from_bytes::<(u64, bool)>(&r.result).expect("a (u64, bool)")
        }
        other => panic!("expected a CallReply, got {other:?}"),
    };

    peer.send(vec![stats(1)]).await.expect("call sent");
    assert_eq!(reply_of(peer.until(WAIT, is_answer(1)).await), (0, true));

    // A cast then a call in one frame: delivered in order.
    peer.send(vec![
        peer::cast(pid, "Cast1", peer::args_of(&("from-peer".to_owned(), 1u64))),
        stats(2),
    ])
    .await
    .expect("sent");
    assert_eq!(reply_of(peer.until(WAIT, is_answer(2)).await), (1, true));
    let seen = ractor_grpc::call(&actor, MyBasicMessageType::Seen, Some(CALL_TIMEOUT)).await;
    assert_eq!(seen, Ok(vec![("from-peer".to_owned(), 1)]));
    actor.stop(None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn goodbye_ends_the_session_both_ways() {
    // The peer leaves: the node reports an orderly stop by the peer and ends
    // the stream cleanly.
    let mut node = node("s6-").await;
    let (mut peer, _) = ready_peer(&mut node, "scripted-6", vec![]).await;
    peer.send(vec![peer::goodbye(tonic::Code::Ok, "done", "stopped")])
        .await
        .expect("goodbye sent");
    peer.close();
    let events = node
        .wait_for(WAIT, |e| matches!(e, Event::Disconnected(..)))
        .await;
    let Some(Event::Disconnected(_, name, reason)) = events.last() else {
        panic!("{events:?}")
    };
    assert_eq!(name.as_deref(), Some("scripted-6"));
    assert_eq!(reason.cause, DisconnectCause::Stopped, "{reason:?}");
    assert!(reason.by_peer, "{reason:?}");
    let (rest, ended) = peer.finish(WAIT).await;
    assert!(rest.is_empty(), "{rest:?}");
    assert!(
        matches!(ended, Some(common::peer::Ended::Clean)),
        "{ended:?}"
    );

    // The node stops: the peer gets its Goodbye, closes its half as a node
    // would, and the stream ends cleanly.
    let (mut peer, _) = ready_peer(&mut node, "scripted-6b", vec![]).await;
    node.actor.stop(None);
    let seen = peer
        .until(WAIT, |e| matches!(e.body, Some(Body::Goodbye(_))))
        .await;
    let Some(Body::Goodbye(bye)) = seen.last().and_then(|e| e.body.clone()) else {
        panic!("{seen:?}")
    };
    assert_eq!(bye.code, tonic::Code::Ok as i32, "{bye:?}");
    assert_eq!(bye.cause, "stopped", "{bye:?}");
    peer.close();
    let (rest, ended) = peer.finish(WAIT).await;
    assert!(rest.is_empty(), "{rest:?}");
    assert!(
        matches!(ended, Some(common::peer::Ended::Clean)),
        "{ended:?}"
    );
    node.stop().await;
}
