//! In-process backpressure: `ractor_grpc::send` and the queue limit, with
//! two nodes on loopback. The multi-process scenario, where the consumer's
//! process is frozen so the queue really fills, is
//! `integration/tests/backpressure.rs`.

mod common;

use common::{
    CALL_TIMEOUT,
    actors::{MyBasicMessageType, spawn_basic},
    remote_basic,
};
use ractor_grpc::SendError;

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
