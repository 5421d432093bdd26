//! In-process backpressure: `ractor_grpc::send` and the queue limit, with
//! two nodes on loopback. The multi-process scenario, where the consumer's
//! process is frozen so the queue really fills, is
//! `integration/tests/backpressure.rs`.

mod common;

use std::time::Duration;

use common::{
    CALL_TIMEOUT,
    actors::{BasicActor, MyBasicMessageType, Probe, spawn_basic},
    remote_basic,
};
use ractor::ActorRef;
use ractor_grpc::{ConnectionMode, HeartbeatConfig, NodeConfig, SendError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_delivers_in_order_with_plain_casts_and_nothing_overflows() {
    let (store, _, _a, b, remote) = remote_basic("a-send-1").await;
    // `send` and plain casts interleaved keep one order.
    for n in 0..20_000u64 {
        let message = MyBasicMessageType::Cast1("x".into(), n);
        if n % 3 == 0 {
            remote.cast(message).expect("cast");
        } else {
            ractor_grpc::send(&remote, message).await.expect("send");
        }
    }
    let stats = ractor_grpc::call(&remote, MyBasicMessageType::Stats, Some(CALL_TIMEOUT)).await;
    assert_eq!(stats, Ok((20_000, true)));
    let counters = b.sessions().await[0].counters;
    assert_eq!(counters.casts_sent, 20_000, "{counters:?}");
    assert_eq!(
        (counters.overflowed, counters.refused),
        (0, 0),
        "{counters:?}"
    );
    // Every reservation was used: nothing is left held.
    assert_eq!(counters.queued_bytes, 0, "{counters:?}");
    store.stop(None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_says_why_it_could_not() {
    let (store, _, a, mut b, remote) = remote_basic("a-send-2").await;
    // A call variant is not a cast.
    let (tx, _rx) = tokio::sync::oneshot::channel();
    let port = ractor::RpcReplyPort::from(tx);
    assert_eq!(
        ractor_grpc::send(&remote, MyBasicMessageType::Stats(port)).await,
        Err(SendError::NotRemotable)
    );
    // Larger than the session's max message size (16 MiB by default).
    let huge = MyBasicMessageType::Cast1("z".repeat(17 << 20), 0);
    let err = ractor_grpc::send(&remote, huge).await;
    assert!(
        matches!(&err, Err(SendError::TooLarge(why)) if why.contains("max message size")),
        "{err:?}"
    );
    // To a local actor it is a cast.
    let (local, _) = spawn_basic("a-send-2-local").await;
    ractor_grpc::send(&local, MyBasicMessageType::Cast1("here".into(), 1))
        .await
        .expect("a local send");
    let stats = ractor_grpc::call(&local, MyBasicMessageType::Stats, Some(CALL_TIMEOUT)).await;
    assert_eq!(stats, Ok((1, true)));
    local.stop(None);
    // Once the session is gone, the proxy's session cannot be found.
    b.stop().await;
    let after = ractor_grpc::send(&remote, MyBasicMessageType::Cast1("late".into(), 2)).await;
    assert!(
        matches!(after, Err(SendError::Disconnected | SendError::NotRunning)),
        "{after:?}"
    );
    drop(a);
    store.stop(None);
}

/// The smallest receive budget a node takes.
const BUDGET: usize = 64 * 1024;

/// node-a serving a `BasicActor` named `name` that takes `cast_delay` per
/// cast, with a 64 KiB receive budget and a short heartbeat; node-b (with
/// a 64 KiB queue limit, so its frames stay small) connected to it, and
/// node-b's proxy of the actor. Returns the actor's probe too.
async fn slow_pair(
    name: &str,
    cast_delay: Duration,
) -> (
    ActorRef<MyBasicMessageType>,
    Probe,
    common::TestNode,
    common::TestNode,
    ActorRef<MyBasicMessageType>,
) {
    let heartbeat = HeartbeatConfig {
        interval: Duration::from_millis(300),
        timeout: Duration::from_secs(1),
    };
    let probe = Probe::default();
    let (actor, _) = ractor::Actor::spawn(
        Some(name.to_owned()),
        BasicActor {
            probe: probe.clone(),
            cast_delay,
        },
        (),
    )
    .await
    .expect("spawn");
    let a = common::start_with(common::advertising(
        NodeConfig::new("node-a", common::COOKIE)
            .with_receive_budget(BUDGET)
            .with_heartbeat(heartbeat),
        "a",
    ))
    .await;
    let b = common::start_with(common::advertising(
        NodeConfig::new("node-b", common::COOKIE)
            .with_mode(ConnectionMode::Isolated)
            .with_queue_limit(64 * 1024)
            .with_heartbeat(heartbeat),
        "b",
    ))
    .await;
    ractor_grpc::connect(&b.actor, a.addr.clone())
        .await
        .expect("connect");
    let remote = common::proxy(&b, "node-a", name).await;
    (actor, probe, a, b, remote)
}

/// Fails on any disconnect among `node`'s events so far.
async fn no_disconnect(node: &mut common::TestNode) {
    for _ in 0..1_000 {
        let Some(event) = node.next_event(Duration::from_millis(20)).await else {
            break;
        };
        assert!(
            !matches!(event, common::Event::Disconnected(..)),
            "{}: {event:?}",
            node.name
        );
    }
    assert_eq!(node.sessions().await.len(), 1, "{}", node.name);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_actor_holds_at_most_the_receive_budget_and_the_rest_waits_with_the_sender() {
    let (actor, _, a, b, remote) = slow_pair("a-recv-1", Duration::from_micros(500)).await;
    // 3,000 casts cost some 570 KB in a mailbox: nine times the budget.
    for n in 0..3_000u64 {
        ractor_grpc::send(&remote, MyBasicMessageType::Cast1("y".into(), n))
            .await
            .expect("send");
    }
    let stats = ractor_grpc::call(&remote, MyBasicMessageType::Stats, Some(CALL_TIMEOUT)).await;
    assert_eq!(stats, Ok((3_000, true)), "every cast arrived, in order");
    let receiver = a.sessions().await[0].counters;
    // The reader reads on past the budget only by what one read brings
    // (node-b's frames stay under its 16 KiB soft limit: ~100 KB of
    // mailbox cost).
    assert!(
        receiver.inbox_peak_bytes >= BUDGET as u64,
        "the budget was never reached, so nothing was tested: {receiver:?}"
    );
    assert!(
        receiver.inbox_peak_bytes <= (BUDGET + 192 * 1024) as u64,
        "node-a's actor held far more than the budget: {receiver:?}"
    );
    let sender = b.sessions().await[0].counters;
    assert_eq!((sender.overflowed, sender.refused), (0, 0), "{sender:?}");
    assert_eq!(receiver.inbox_bytes, 0, "all taken: {receiver:?}");
    actor.stop(None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holding_back_is_not_silence_and_a_call_in_flight_is_still_answered() {
    let (actor, probe, mut a, mut b, remote) = slow_pair("a-recv-2", Duration::ZERO).await;
    let (b_actor, _) = spawn_basic("b-recv-2").await;
    let on_b = common::proxy::<MyBasicMessageType>(&a, "node-b", "b-recv-2").await;
    // The actor has taken a cast, so its casts are charged from now on.
    remote
        .cast(MyBasicMessageType::Cast1("first".into(), 0))
        .expect("cast");
    let stats = ractor_grpc::call(&remote, MyBasicMessageType::Stats, Some(CALL_TIMEOUT)).await;
    assert_eq!(stats, Ok((1, true)));
    // It is then busy for 2.5 s (over twice the heartbeat timeout) ...
    let started = probe.slow_started.notified();
    let busy = {
        let remote = remote.clone();
        tokio::spawn(async move {
            ractor_grpc::call(
                &remote,
                |p| MyBasicMessageType::Slow(2_500, p),
                Some(CALL_TIMEOUT),
            )
            .await
        })
    };
    tokio::time::timeout(common::WAIT, started)
        .await
        .expect("the slow call started");
    // ... while 1,200 casts (~230 KB in a mailbox, within node-b's queue
    // limit) pile up past node-a's budget: node-a holds back reading.
    for n in 1..=1_200u64 {
        remote
            .cast(MyBasicMessageType::Cast1("z".into(), n))
            .expect("cast");
    }
    let held_back = common::eventually(common::WAIT, || async {
        a.sessions().await[0].counters.inbox_bytes >= BUDGET as u64
    })
    .await;
    assert!(held_back, "node-a never reached its budget");
    // node-a calls node-b on the same session: the reply must be read
    // although the budget is spent (the actor is busy for 2 s more).
    let reply = ractor_grpc::call(
        &on_b,
        |p| MyBasicMessageType::Call1(1, 2, p),
        Some(Duration::from_secs(1)),
    )
    .await;
    assert!(reply.is_ok(), "a call from the held-back node: {reply:?}");
    assert_eq!(busy.await.expect("joined"), Ok(2_500));
    let stats = ractor_grpc::call(&remote, MyBasicMessageType::Stats, Some(CALL_TIMEOUT)).await;
    assert_eq!(stats, Ok((1_201, true)), "every cast arrived, in order");
    // Neither side took the held-back reading for a dead peer.
    no_disconnect(&mut a).await;
    no_disconnect(&mut b).await;
    actor.stop(None);
    b_actor.stop(None);
}
