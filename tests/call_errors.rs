//! Every `CallError` a caller can see, each for its cause, across a real
//! session: real nodes where the cause is real (a slow, dropping, stopping or
//! disconnecting callee; a message too large; a gone proxy), and the scripted
//! peer where one side must say something exact (every wire code, a reply
//! that does not decode, a call to a pid nobody advertises).

mod common;

use std::time::{Duration, Instant};

use common::{
    CALL_TIMEOUT, WAIT,
    actors::{Kv, KvStore, MyBasicMessageType, Probe, Stranger, spawn_basic},
    peer::{self, ready_peer},
    proxy, remote_basic,
};
use ractor::{Actor, ActorRef, rpc::CallResult};
use ractor_grpc::{
    CallError, CallErrorKind, NodeConfig,
    pb::{CallErrorCode, envelope::Body},
};

/// A timeout far below how long the slow callee takes.
const SHORT: Duration = Duration::from_millis(200);
/// How long the slow callee sleeps.
const SLOW_MS: u64 = 3_000;

/// Starts a long `Slow` call to `remote` and returns once the callee behind
/// `probe` is handling it; the task ends with the call's outcome.
async fn slow_call_under_way(
    remote: &ActorRef<MyBasicMessageType>,
    probe: &Probe,
) -> tokio::task::JoinHandle<Result<u64, CallError>> {
    let remote = remote.clone();
    let call = tokio::spawn(async move {
        ractor_grpc::call(
            &remote,
            |p| MyBasicMessageType::Slow(30_000, p),
            Some(CALL_TIMEOUT),
        )
        .await
    });
    tokio::time::timeout(WAIT, probe.slow_started.notified())
        .await
        .expect("the call reached the callee");
    call
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_callee_is_a_timeout_every_time_never_a_drop() {
    let (store, _, _a, _b, remote) = remote_basic("a-slow-1").await;
    // The callee-side and caller-side timers used to race: this ended as
    // Dropped in about half of the runs.
    for round in 0..10 {
        let got = ractor_grpc::call(
            &remote,
            |p| MyBasicMessageType::Slow(SLOW_MS, p),
            Some(SHORT),
        )
        .await;
        assert_eq!(got, Err(CallError::Timeout), "round {round}");
        // ractor's own call says Timeout too, not SenderError.
        let plain = remote
            .call(|p| MyBasicMessageType::Slow(SLOW_MS, p), Some(SHORT))
            .await
            .expect("sent");
        assert!(
            matches!(plain, CallResult::Timeout),
            "round {round}: {plain:?}"
        );
    }
    store.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callee_dropping_its_port_is_dropped_at_once() {
    let (store, _, _a, _b, remote) = remote_basic("a-drop-2").await;
    let err = ractor_grpc::call(&remote, MyBasicMessageType::Ignore, Some(CALL_TIMEOUT)).await;
    let err = err.expect_err("no reply");
    assert_eq!(err.kind(), CallErrorKind::Dropped, "{err}");
    assert!(err.detail().contains("dropped the reply port"), "{err}");
    // Through ractor's own call the same failure is a SenderError, not a timeout.
    let plain = remote
        .call(MyBasicMessageType::Ignore, Some(CALL_TIMEOUT))
        .await
        .expect("sent");
    assert!(matches!(plain, CallResult::SenderError), "{plain:?}");
    store.stop(None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_the_callee_cannot_decode_is_undecodable() {
    let (store, _, a, _b, remote) = remote_basic("a-undecodable-3").await;
    let stranger: ActorRef<Stranger> = ActorRef::from(remote.get_cell());
    let err = ractor_grpc::call(&stranger, Stranger::Ask, Some(CALL_TIMEOUT)).await;
    let err = err.expect_err("no reply");
    assert_eq!(err.kind(), CallErrorKind::Undecodable, "{err}");
    assert!(err.detail().contains("Ask"), "{err}");
    // An undecodable cast is dropped, counted, and the actor keeps running.
    stranger.cast(Stranger::Hello("?".into())).expect("cast");
    let stats = ractor_grpc::call(&remote, MyBasicMessageType::Stats, Some(CALL_TIMEOUT)).await;
    assert_eq!(stats, Ok((0, true)));
    assert_eq!(a.sessions().await[0].counters.undecodable, 1);
    store.stop(None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callee_stopping_mid_call_is_actor_stopped() {
    let (store, probe, _a, _b, remote) = remote_basic("a-stops-4").await;
    let started = Instant::now();
    let pending = slow_call_under_way(&remote, &probe).await;
    store.kill();
    let err = pending.await.expect("task").expect_err("no reply");
    assert_eq!(err.kind(), CallErrorKind::ActorStopped, "{err}");
    assert!(
        started.elapsed() < CALL_TIMEOUT,
        "it did not wait for the timeout"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callees_node_stopping_mid_call_is_disconnected() {
    let (store, probe, mut a, _b, remote) = remote_basic("a-gone-5").await;
    let started = Instant::now();
    let pending = slow_call_under_way(&remote, &probe).await;
    a.stop().await;
    let err = pending.await.expect("task").expect_err("no reply");
    assert_eq!(err.kind(), CallErrorKind::Disconnected, "{err}");
    assert!(err.detail().contains("node-a"), "{err}");
    assert!(
        started.elapsed() < CALL_TIMEOUT,
        "it did not wait for the timeout"
    );
    // Once the proxy is gone, a call is refused here: the actor is not running.
    assert!(
        common::eventually(WAIT, || async {
            remote.get_status() == ractor::ActorStatus::Stopped
        })
        .await
    );
    let err = ractor_grpc::call(&remote, MyBasicMessageType::Stats, Some(CALL_TIMEOUT)).await;
    assert_eq!(err, Err(CallError::NotRunning));
    store.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_or_a_reply_larger_than_the_session_allows_is_too_large() {
    let (store, _) = spawn_basic("a-big-6").await;
    let (kv, _) = Actor::spawn(Some("a-kv-6".into()), KvStore, ())
        .await
        .expect("spawn kv");
    let limit = 16 * 1024;
    let a = common::start_with(
        NodeConfig::new("node-a", common::COOKIE)
            .with_max_message_size(limit)
            .with_advertise_filter(|cell| cell.get_name().is_some_and(|n| n.starts_with("a-"))),
    )
    .await;
    let b = common::start_with(
        NodeConfig::new("node-b", common::COOKIE)
            .with_max_message_size(limit)
            .with_advertise_filter(|_| false),
    )
    .await;
    ractor_grpc::connect(&b.actor, a.addr.clone())
        .await
        .expect("connect");
    let huge = "x".repeat(4 * limit);
    // The call itself is too large: refused here, at once.
    let remote_kv: ActorRef<Kv<Vec<u32>>> = proxy(&b, "node-a", "a-kv-6").await;
    let err = ractor_grpc::call(
        &remote_kv,
        |reply| Kv::Get {
            key: huge.clone(),
            reply,
            note: 0,
        },
        Some(CALL_TIMEOUT),
    )
    .await;
    assert_eq!(err.map_err(|e| e.kind()), Err(CallErrorKind::TooLarge));
    // The reply is too large: the callee's node says so.
    let remote: ActorRef<MyBasicMessageType> = proxy(&b, "node-a", "a-big-6").await;
    let err = ractor_grpc::call(
        &remote,
        |p| MyBasicMessageType::Big(4 * limit as u64, p),
        Some(CALL_TIMEOUT),
    )
    .await
    .expect_err("no reply fits");
    assert_eq!(err.kind(), CallErrorKind::TooLarge, "{err}");
    assert!(err.detail().contains("reply"), "{err}");
    // An oversized cast is counted as refused; the session stays up and the
    // next message still arrives.
    remote
        .cast(MyBasicMessageType::Cast1(huge, 0))
        .expect("cast is accepted locally");
    remote
        .cast(MyBasicMessageType::Cast1("small".into(), 1))
        .expect("cast");
    let stats = ractor_grpc::call(&remote, MyBasicMessageType::Stats, Some(CALL_TIMEOUT)).await;
    assert_eq!(stats, Ok((1, true)));
    let sessions = b.sessions().await;
    assert_eq!(sessions.len(), 1);
    assert_eq!(
        sessions[0].counters.refused, 2,
        "one call, one cast: {:?}",
        sessions[0].counters
    );
    kv.stop(None);
    store.stop(None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cast_variant_cannot_be_called() {
    let (store, _, _a, _b, remote) = remote_basic("a-cast-7").await;
    let err = ractor_grpc::call::<_, u64, _>(
        &remote,
        |_| MyBasicMessageType::Cast1("not a call".into(), 0),
        Some(CALL_TIMEOUT),
    )
    .await;
    assert_eq!(err, Err(CallError::NotRemotable));
    store.stop(None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_to_a_stopped_actor_fails_without_waiting() {
    let (store, _, _a, b, remote) = remote_basic("a-stopped-8").await;
    store.stop_and_wait(None, None).await.expect("stopped");
    let started = Instant::now();
    let err = ractor_grpc::call(
        &remote,
        |p| MyBasicMessageType::Call1(1, 1, p),
        Some(CALL_TIMEOUT),
    )
    .await;
    // The call reached node-a before the proxy heard of the stop (unknown
    // actor), or the proxy stopped with the call in its mailbox (actor
    // stopped), or it had already stopped (not running).
    assert!(
        matches!(
            err,
            Err(CallError::UnknownActor(_) | CallError::ActorStopped(_) | CallError::NotRunning)
        ),
        "{err:?}"
    );
    assert!(started.elapsed() < CALL_TIMEOUT);
    // The proxy goes away on node-b.
    assert!(
        common::eventually(WAIT, || async {
            ractor_grpc::registry::where_is(&b.actor, "node-a", "a-stopped-8")
                .await
                .expect("lookup")
                .is_none()
        })
        .await
    );
}

/// The scripted peer stands in for the callee's node and answers each call
/// with one wire code; the caller sees the kind that code names, with the
/// detail the peer sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_wire_code_reaches_the_caller_as_its_kind() {
    let mut node = common::start_with(
        NodeConfig::new("node-a", common::COOKIE).with_advertise_filter(|_| false),
    )
    .await;
    let (mut peer, _) = ready_peer(&mut node, "callee-9", vec![peer::spawned(9, "fake-9")]).await;
    let remote: ActorRef<MyBasicMessageType> = proxy(&node, "callee-9", "fake-9").await;
    let is_call = |e: &ractor_grpc::pb::Envelope| matches!(e.body, Some(Body::Call(_)));
    let cases = [
        (
            CallErrorCode::UnknownActor as i32,
            CallErrorKind::UnknownActor,
        ),
        (
            CallErrorCode::Undecodable as i32,
            CallErrorKind::Undecodable,
        ),
        (CallErrorCode::Dropped as i32, CallErrorKind::Dropped),
        (
            CallErrorCode::ActorStopped as i32,
            CallErrorKind::ActorStopped,
        ),
        (CallErrorCode::Timeout as i32, CallErrorKind::Timeout),
        (CallErrorCode::TooLarge as i32, CallErrorKind::TooLarge),
        // A code this build does not know: a drop that names the code.
        (4242, CallErrorKind::Dropped),
    ];
    for (code, kind) in cases {
        // A timeout the callee reports is left to the caller's own timer
        // (ractor's own call would otherwise see its port dropped first).
        let timeout = if kind == CallErrorKind::Timeout {
            SHORT
        } else {
            CALL_TIMEOUT
        };
        let started = Instant::now();
        let pending = {
            let remote = remote.clone();
            tokio::spawn(async move {
                ractor_grpc::call(&remote, MyBasicMessageType::Stats, Some(timeout)).await
            })
        };
        let seen = peer.until(WAIT, is_call).await;
        let Some(Body::Call(call)) = seen.last().and_then(|e| e.body.clone()) else {
            panic!("{seen:?}")
        };
        let detail = format!("said with code {code}");
        peer.send(vec![
            Body::CallError(ractor_grpc::pb::CallError {
                tag: call.tag,
                code,
                detail: detail.clone(),
            })
            .into(),
        ])
        .await
        .expect("sent");
        let err = tokio::time::timeout(WAIT, pending)
            .await
            .expect("the call returns")
            .expect("task")
            .expect_err("an error");
        assert_eq!(err.kind(), kind, "code {code}: {err}");
        if kind == CallErrorKind::Timeout {
            assert!(
                started.elapsed() >= SHORT,
                "ended before the caller's timer"
            );
        } else {
            assert!(err.detail().contains(&detail), "code {code}: {err}");
        }
    }
    // A reply that does not decode as the caller's reply type.
    let pending = tokio::spawn(async move {
        ractor_grpc::call(&remote, MyBasicMessageType::Stats, Some(CALL_TIMEOUT)).await
    });
    let seen = peer.until(WAIT, is_call).await;
    let Some(Body::Call(call)) = seen.last().and_then(|e| e.body.clone()) else {
        panic!("{seen:?}")
    };
    peer.send(vec![peer::call_reply(call.tag, vec![0xff])])
        .await
        .expect("sent");
    let err = pending.await.expect("task").expect_err("an error");
    assert_eq!(err.kind(), CallErrorKind::Undecodable, "{err}");
    assert!(err.detail().contains("reply"), "{err}");
    // Nothing is left in flight: the timed-out call is swept once its
    // caller gave up.
    assert!(
        common::eventually(WAIT, || async {
            node.sessions().await[0].counters.calls_in_flight == 0
        })
        .await
    );
}

/// Calls still waiting in a proxy's mailbox when the session ends are not
/// lost with the mailbox: the proxy drains them into the closed session and
/// each fails as a disconnect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_queued_when_the_session_ends_fail_as_disconnected() {
    // Frames of at most 64 KiB carry one 40 KiB call each, so the queues
    // between the proxy and the socket fill up after a known number of calls.
    let mut node = common::start_with(
        NodeConfig::new("node-a", common::COOKIE)
            .with_max_message_size(64 * 1024)
            .with_advertise_filter(|_| false),
    )
    .await;
    let (peer, _) = ready_peer(&mut node, "stalled-10", vec![peer::spawned(10, "fake-10")]).await;
    let remote: ActorRef<Kv<Vec<u32>>> = proxy(&node, "stalled-10", "fake-10").await;
    // The peer reads nothing: HTTP/2 flow control and the frames queued
    // towards tonic fill, then the session's queue holds the calls.
    let key = "k".repeat(40 * 1024);
    let calls: Vec<_> = (0..800)
        .map(|_| {
            let (remote, key) = (remote.clone(), key.clone());
            tokio::spawn(async move {
                let get = |reply| Kv::Get {
                    key,
                    reply,
                    note: 0,
                };
                ractor_grpc::call(&remote, get, Some(CALL_TIMEOUT)).await
            })
        })
        .collect();
    let full = common::eventually(WAIT, || async {
        node.sessions().await[0].counters.queued_bytes > 7 * 1024 * 1024
    })
    .await;
    assert!(full, "{:?}", node.sessions().await[0].counters);
    drop(peer);
    let mut disconnected = 0;
    for call in calls {
        let err = tokio::time::timeout(WAIT, call)
            .await
            .expect("every call ends")
            .expect("task")
            .expect_err("nobody answers");
        match err.kind() {
            CallErrorKind::Disconnected => disconnected += 1,
            // A call made after the proxy had stopped, or refused at once
            // had the queue reached its 32 MiB limit.
            CallErrorKind::NotRunning | CallErrorKind::Overloaded => {}
            other => panic!("{other:?}: {err}"),
        }
    }
    assert!(disconnected > 0);
}
