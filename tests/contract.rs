//! What the contract text of `proto/ractor_grpc/v1/cluster.proto` says about
//! behaviour the message definitions do not show, each checked against a
//! real node: a variant the callee cannot take, pid 0, two calls with one
//! tag, traffic before Ready, a listen address, an envelope body the node does
//! not know, the old session of a restarted peer, and the two ends of a
//! Goodbye.

mod common;

use std::sync::{Arc, Mutex};

use common::{
    CALL_TIMEOUT, COOKIE, Event, TestNode, WAIT,
    actors::{MyBasicMessageType, spawn_basic},
    peer::{self, Ended, ScriptedPeer, ready_peer},
    remote_basic,
};
use prost::Message as _;
use ractor::{ActorRef, RpcReplyPort};
use ractor_grpc::{
    CallErrorKind, DisconnectCause, NodeConfig, RactorClusterMessage, SessionState,
    pb::{self, envelope::Body},
};
use tonic::Code;
use tracing_subscriber::fmt::MakeWriter;

/// A node that advertises only the actors whose names start with `prefix`
/// (ractor's registry is process-wide; tests run side by side).
async fn node(prefix: &'static str) -> TestNode {
    common::start_with(
        NodeConfig::new("node-a", COOKIE)
            .with_advertise_filter(move |c| c.get_name().is_some_and(|n| n.starts_with(prefix))),
    )
    .await
}

/// The pid the node advertised for its actor `name` in `snapshot`.
fn pid_of(snapshot: &[pb::Envelope], name: &str) -> u64 {
    snapshot
        .iter()
        .find_map(|e| match &e.body {
            Some(Body::Spawned(s)) => s.actor.as_ref().filter(|a| a.name == name).map(|a| a.pid),
            Some(Body::PgJoined(j)) => j.actors.iter().find(|a| a.name == name).map(|a| a.pid),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{name} is not in the snapshot {snapshot:?}"))
}

fn is_answer(e: &pb::Envelope) -> bool {
    matches!(e.body, Some(Body::CallReply(_) | Body::CallError(_)))
}

/// The status the node ended the stream with, with its cause trailer.
fn status_of(ended: Option<&Ended>) -> (Code, String, String) {
    match ended {
        Some(Ended::Status(s)) => {
            let cause = s
                .metadata()
                .get("ractor-grpc-cause")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            (s.code(), cause.to_owned(), s.message().to_owned())
        }
        other => panic!("expected a status, got {other:?}"),
    }
}

/// Log lines, kept for a test to read (the tests of this file that log
/// share it: a subscriber is process-wide).
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Log {
    /// Captures this process's warnings from now on.
    fn warnings() -> Self {
        let log = Self::default();
        let _ = tracing_subscriber::fmt()
            .with_writer(log.clone())
            .with_max_level(tracing::Level::WARN)
            .with_ansi(false)
            .try_init();
        log
    }

    fn lines(&self) -> Vec<String> {
        let bytes = self.0.lock().expect("log").clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl std::io::Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Log {
    type Writer = Self;

    fn make_writer(&'a self) -> Self {
        self.clone()
    }
}

/// What a sender whose idea of the callee's type is wrong puts on the wire:
/// variants named like [`MyBasicMessageType`]'s but of the other kind, and
/// variants that type does not have.
#[derive(Debug, RactorClusterMessage)]
pub enum Mismatched {
    /// An rpc in `MyBasicMessageType`, sent as a cast.
    Stats,
    /// A cast in `MyBasicMessageType`, sent as a call.
    #[rpc]
    Cast1(RpcReplyPort<u64>),
    /// Not a variant of `MyBasicMessageType`.
    Unheard,
    /// Not a variant of `MyBasicMessageType`.
    #[rpc]
    Unasked(RpcReplyPort<u64>),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_variant_the_callee_cannot_take_fails_a_call_and_is_counted_for_a_cast() {
    let log = Log::warnings();
    let (actor, _, a, b, remote) = remote_basic("a-contract-1").await;
    let wrong: ActorRef<Mismatched> = ActorRef::from(remote.get_cell());
    let undecodable = || async { a.sessions().await[0].counters.undecodable };

    // A cast has no tag, so nothing can answer it: an rpc variant sent as a
    // Cast, and an unknown variant, are dropped at the callee's node, which
    // counts each (ListPeers' `undecodable`) and logs it.
    wrong.cast(Mismatched::Stats).expect("cast");
    assert!(
        common::eventually(WAIT, || async { undecodable().await == 1 }).await,
        "the rpc variant sent as a cast was not counted"
    );
    wrong.cast(Mismatched::Unheard).expect("cast");
    assert!(
        common::eventually(WAIT, || async { undecodable().await == 2 }).await,
        "the unknown cast variant was not counted"
    );

    // A call is answered: CALL_ERROR_CODE_UNDECODABLE, saying which.
    let err = ractor_grpc::call(&wrong, Mismatched::Cast1, Some(CALL_TIMEOUT))
        .await
        .expect_err("no reply");
    assert_eq!(err.kind(), CallErrorKind::Undecodable, "{err}");
    assert!(
        err.detail().contains("a cast variant sent as a call"),
        "{err}"
    );
    let err = ractor_grpc::call(&wrong, Mismatched::Unasked, Some(CALL_TIMEOUT))
        .await
        .expect_err("no reply");
    assert_eq!(err.kind(), CallErrorKind::Undecodable, "{err}");
    assert!(err.detail().contains("unknown variant"), "{err}");

    // Each is a warning at the callee's node that names the variant.
    let lines = log.lines();
    for (variant, why) in [
        ("Stats", "a call variant sent as a cast"),
        ("Unheard", "unknown variant"),
        ("Cast1", "a cast variant sent as a call"),
        ("Unasked", "unknown variant"),
    ] {
        assert!(
            lines.iter().any(|l| l.contains(" WARN ")
                && l.contains("MyBasicMessageType")
                && l.contains(&format!("variant=\"{variant}\""))
                && l.contains(why)),
            "no warning for {variant} ({why}) in {lines:#?}"
        );
    }

    // The actor took none of them, and still answers what it knows.
    let stats = ractor_grpc::call(&remote, MyBasicMessageType::Stats, Some(CALL_TIMEOUT)).await;
    assert_eq!(stats, Ok((0, true)));
    assert_eq!(undecodable().await, 2);
    // The sender saw both casts leave, and nothing refused.
    let sent = b.sessions().await[0].counters;
    assert_eq!((sent.casts_sent, sent.refused), (2, 0), "{sent:?}");
    actor.stop(None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pid_0_is_an_ordinary_actor_id() {
    // proto3 leaves a field that is 0 out: Cast{to: 0} has no `to` on the wire.
    let cast = pb::Cast {
        to: 0,
        variant: "V".into(),
        args: vec![],
        traceparent: String::new(),
    };
    assert_eq!(cast.encode_to_vec(), [0x12, 0x01, b'V']);

    let mut node = node("c2-").await;
    let (mut peer, _) = ready_peer(&mut node, "scripted-c2", vec![peer::spawned(0, "zero")]).await;
    assert!(
        common::eventually(WAIT, || async {
            ractor_grpc::registry::where_is(&node.actor, "scripted-c2", "zero")
                .await
                .expect("lookup")
                .is_some()
        })
        .await,
        "no proxy for the actor with pid 0"
    );
    let cell = ractor_grpc::registry::where_is(&node.actor, "scripted-c2", "zero")
        .await
        .expect("lookup")
        .expect("the proxy");
    let remote: ActorRef<MyBasicMessageType> = ActorRef::from(cell);

    remote
        .cast(MyBasicMessageType::Cast1("hi".into(), 1))
        .expect("cast");
    let seen = peer
        .until(WAIT, |e| matches!(e.body, Some(Body::Cast(_))))
        .await;
    let Some(Body::Cast(c)) = seen.last().and_then(|e| e.body.clone()) else {
        panic!("{seen:?}")
    };
    assert_eq!((c.to, c.variant.as_str()), (0, "Cast1"));

    let pending = {
        let remote = remote.clone();
        tokio::spawn(async move {
            ractor_grpc::call(&remote, MyBasicMessageType::Stats, Some(CALL_TIMEOUT)).await
        })
    };
    let seen = peer
        .until(WAIT, |e| matches!(e.body, Some(Body::Call(_))))
        .await;
    let Some(Body::Call(call)) = seen.last().and_then(|e| e.body.clone()) else {
        panic!("{seen:?}")
    };
    assert_eq!(call.to, 0);
    peer.send(vec![peer::call_reply(
        call.tag,
        peer::args_of(&(3u64, true)),
    )])
    .await
    .expect("reply sent");
    assert_eq!(pending.await.expect("task"), Ok((3, true)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_calls_with_one_tag_in_flight_are_both_delivered_and_answered() {
    let (actor, _) = spawn_basic("c3-basic").await;
    let mut node = node("c3-").await;
    let (mut peer, snapshot) = ready_peer(&mut node, "scripted-c3", vec![]).await;
    let pid = pid_of(&snapshot, "c3-basic");

    // Nothing refuses the second: the callee does not track tags.
    let stats = peer::call(5, pid, "Stats", vec![], 0);
    peer.send(vec![stats.clone(), stats]).await.expect("sent");
    for n in 0..2 {
        let seen = peer.until(WAIT, is_answer).await;
        let answer = seen.last().and_then(|e| e.body.clone());
        let Some(Body::CallReply(reply)) = answer else {
            panic!("answer {n}: {answer:?}")
        };
        assert_eq!(reply.tag, 5);
        assert_eq!(reply.result, peer::args_of(&(0u64, true)));
    }
    assert_eq!(node.sessions().await[0].state, SessionState::Ready);
    actor.stop(None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traffic_is_delivered_and_answered_before_both_sides_are_ready() {
    let (actor, _) = spawn_basic("c4-basic").await;
    let mut node = node("c4-").await;
    let mut peer = ScriptedPeer::dial(&node.addr, "scripted-c4", COOKIE)
        .await
        .expect("the handshake completes");
    // The node's snapshot and Ready arrive; ours is not sent.
    let snapshot = peer.their_sync(WAIT).await;
    let pid = pid_of(&snapshot, "c4-basic");
    peer.send(vec![
        peer::cast(pid, "Cast1", peer::args_of(&("early".to_owned(), 1u64))),
        peer::call(1, pid, "Stats", vec![], 0),
    ])
    .await
    .expect("sent");
    let seen = peer.until(WAIT, is_answer).await;
    let answer = seen.last().and_then(|e| e.body.clone());
    let Some(Body::CallReply(reply)) = answer else {
        panic!("{answer:?}")
    };
    // The cast came first, and was delivered.
    assert_eq!(reply.result, peer::args_of(&(1u64, true)));
    assert_eq!(
        node.sessions().await[0].state,
        SessionState::Authenticated,
        "the session is not ready yet"
    );
    peer.sync(vec![]).await.expect("sync sent");
    node.wait_for(
        WAIT,
        |e| matches!(e, Event::Ready(_, n) if n == "scripted-c4"),
    )
    .await;
    actor.stop(None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listen_address_is_checked_for_its_length_only() {
    let mut node = node("c5-").await;
    // Taken as given: not parsed, not dialled, not compared with the source.
    let odd = "not an address";
    let mut peer = ScriptedPeer::dial_with(&node.addr, "scripted-c5", COOKIE, 1, odd)
        .await
        .expect("accepted");
    peer.sync(vec![]).await.expect("sync sent");
    node.wait_for(
        WAIT,
        |e| matches!(e, Event::Ready(_, n) if n == "scripted-c5"),
    )
    .await;
    let sessions = node.sessions().await;
    assert_eq!(sessions[0].peer_listen_addr.as_deref(), Some(odd));

    let longest = "a".repeat(255);
    ScriptedPeer::dial_with(&node.addr, "scripted-c5b", COOKIE, 1, &longest)
        .await
        .expect("255 bytes are accepted");
    let err = ScriptedPeer::dial_with(&node.addr, "scripted-c5c", COOKIE, 1, &"a".repeat(256))
        .await
        .expect_err("256 bytes are refused");
    assert!(err.contains("InvalidArgument"), "{err}");
    assert!(err.contains("protocol-violation"), "{err}");
    assert!(err.contains("listen address"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_envelope_body_the_node_does_not_know_is_a_protocol_violation() {
    // Envelope field 50 (no body has that number): protobuf skips an unknown
    // field, so the envelope decodes with no body at all.
    let bytes = [0x0a, 0x03, 0x92, 0x03, 0x00];
    let frame = pb::Frame::decode(&bytes[..]).expect("decodes");
    assert_eq!(frame.envelopes, vec![pb::Envelope { body: None }]);

    let mut node = node("c6-").await;
    let (mut peer, _) = ready_peer(&mut node, "scripted-c6", vec![]).await;
    peer.send(frame.envelopes).await.expect("sent");
    let (_, ended) = peer.finish(WAIT).await;
    let (code, cause, message) = status_of(ended);
    assert_eq!(
        (code, cause.as_str()),
        (Code::InvalidArgument, "protocol-violation"),
        "{message}"
    );
    assert!(message.contains("empty envelope"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_peer_replaces_its_old_session_which_ends_aborted() {
    let mut node = node("c7-").await;
    let (mut old, _) = ready_peer(&mut node, "scripted-c7", vec![]).await;
    // The same name, a new incarnation (the scripted peer draws one).
    let mut new = ScriptedPeer::dial(&node.addr, "scripted-c7", COOKIE)
        .await
        .expect("the new incarnation is welcomed");
    assert_ne!(new.incarnation, old.incarnation);
    let (_, ended) = old.finish(WAIT).await;
    let (code, cause, message) = status_of(ended);
    assert_eq!(
        (code, cause.as_str()),
        (Code::Aborted, "superseded"),
        "{message}"
    );
    new.sync(vec![]).await.expect("sync sent");
    node.wait_for(
        WAIT,
        |e| matches!(e, Event::Ready(_, n) if n == "scripted-c7"),
    )
    .await;
    assert_eq!(node.sessions().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_goodbye_the_node_sends_nothing_and_ends_its_half_cleanly() {
    let mut node = node("c8-").await;
    let (mut peer, _) = ready_peer(&mut node, "scripted-c8", vec![]).await;
    peer.send(vec![peer::goodbye(Code::Ok, "done", "stopped")])
        .await
        .expect("sent");
    let (seen, ended) = peer.finish(WAIT).await;
    assert!(seen.is_empty(), "{seen:?}");
    assert!(matches!(ended, Some(Ended::Clean)), "{ended:?}");
    let events = node
        .wait_for(WAIT, |e| matches!(e, Event::Disconnected(..)))
        .await;
    let Some(Event::Disconnected(_, _, reason)) = events.last() else {
        panic!("{events:?}")
    };
    assert_eq!(reason.cause, DisconnectCause::Stopped, "{reason:?}");
    assert!(reason.by_peer, "{reason:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_node_says_goodbye_with_ok_and_stopped_then_ends_cleanly() {
    let mut node = node("c9-").await;
    let (mut peer, _) = ready_peer(&mut node, "scripted-c9", vec![]).await;
    node.stop().await;
    let (seen, ended) = peer.finish(WAIT).await;
    let last = seen.last().and_then(|e| e.body.clone());
    let Some(Body::Goodbye(goodbye)) = last else {
        panic!("{seen:?}")
    };
    assert_eq!(
        (goodbye.code, goodbye.cause.as_str()),
        (0, "stopped"),
        "{goodbye:?}"
    );
    assert_eq!(goodbye.reason, "node stopping");
    assert!(matches!(ended, Some(Ended::Clean)), "{ended:?}");
}
