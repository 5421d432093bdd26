use tokio_stream::StreamExt as _;
use tonic::{Code, Status};

use super::*;
use crate::{
    reason::{DisconnectCause, DisconnectReason},
    transport::acceptor_channel,
};

fn refused() -> DisconnectReason {
    DisconnectReason::local(DisconnectCause::ProtocolViolation, "bad frame")
}

/// Everything the response yields, to its end.
async fn drain(response: crate::transport::ResponseFrames) -> Vec<Result<pb::Frame, Status>> {
    response.collect().await
}

#[tokio::test(flavor = "current_thread")]
async fn an_acceptor_refusal_ends_the_response_with_its_status() {
    let (frames, response) = acceptor_channel();
    let (link, writer) = SessionLink::new(frames, 64 * 1024, 1 << 20, None, tracing::Span::none());
    let reason = refused();
    link.close(&reason, Some(Err(reason.to_status())));
    writer.await.expect("the writer ends");
    drop(link);
    let got = drain(response).await;
    assert!(
        matches!(got.as_slice(), [Err(s)] if s.code() == Code::InvalidArgument),
        "{got:?}"
    );
}

/// The session stops waiting for its writer a second after the close and
/// aborts it. On a machine too loaded to run the writer within that second,
/// the refusal must still reach the peer: not a response that ends with OK.
#[tokio::test(flavor = "current_thread")]
async fn a_refusal_survives_a_writer_aborted_before_it_ran() {
    let (frames, response) = acceptor_channel();
    let (link, writer) = SessionLink::new(frames, 64 * 1024, 1 << 20, None, tracing::Span::none());
    let reason = refused();
    link.close(&reason, Some(Err(reason.to_status())));
    // On this single-threaded runtime the writer has not been polled yet.
    writer.abort();
    assert!(writer.await.expect_err("aborted").is_cancelled());
    drop(link);
    let got = drain(response).await;
    assert!(
        matches!(got.as_slice(), [Err(s)] if s.code() == Code::InvalidArgument),
        "{got:?}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn an_orderly_end_stays_ok_and_a_peer_end_says_nothing() {
    // A Goodbye farewell: the frame, then the end (OK), aborted or not.
    let (frames, response) = acceptor_channel();
    let (link, writer) = SessionLink::new(frames, 64 * 1024, 1 << 20, None, tracing::Span::none());
    let goodbye = pb::Frame::from(vec![pb::Envelope::from(Body::Ready(pb::Ready {}))]);
    let reason = DisconnectReason::local(DisconnectCause::Stopped, "node stopping");
    link.close(&reason, Some(Ok(goodbye)));
    writer.await.expect("the writer ends");
    drop(link);
    let got = drain(response).await;
    assert!(matches!(got.as_slice(), [Ok(_)]), "{got:?}");

    // No farewell (the peer ended the session): the response just ends.
    let (frames, response) = acceptor_channel();
    let (link, writer) = SessionLink::new(frames, 64 * 1024, 1 << 20, None, tracing::Span::none());
    link.close(&refused(), None);
    writer.abort();
    let _ = writer.await;
    drop(link);
    assert!(drain(response).await.is_empty());
}

/// A link whose peer never reads: the writer hands on what the stream
/// takes, then the outbox fills.
fn stalled_link(queue_limit: usize) -> (SessionLink, tokio::sync::mpsc::Receiver<pb::Frame>) {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let (link, _writer) = SessionLink::new(
        FrameTx::Dialer(tx),
        64 * 1024,
        queue_limit,
        None,
        tracing::Span::none(),
    );
    (link, rx)
}

#[tokio::test(flavor = "current_thread")]
async fn past_the_queue_limit_casts_are_refused_and_counted_and_calls_fail_overloaded() {
    let (link, _rx) = stalled_link(64 * 1024);
    let args = vec![7u8; 1000];
    for _ in 0..200 {
        link.cast(5, "sink@peer", "Data".into(), args.clone(), None, None);
        tokio::task::yield_now().await;
    }
    let counters = link.counters();
    assert!(counters.overflowed > 0, "{counters:?}");
    assert_eq!(
        counters.casts_sent + counters.overflowed,
        200,
        "{counters:?}"
    );
    assert_eq!(counters.refused, 0, "{counters:?}");
    // What is held stays near the limit: one envelope over at most.
    assert!(
        counters.queued_bytes < 64 * 1024 + 1100,
        "{}",
        counters.queued_bytes
    );

    let (tx, rx) = tokio::sync::oneshot::channel();
    let (report_tx, report_rx) = tokio::sync::oneshot::channel();
    let registration = super::report::Registration::new(super::report::Sink::Call(report_tx));
    link.call(
        5,
        "sink@peer",
        "Echo".into(),
        vec![1],
        crate::reply::port(tx, Some(Duration::from_secs(5))),
        Some(registration.metadata()),
    );
    assert!(rx.await.is_err(), "the port is dropped");
    let error = report_rx.await.expect("a report");
    assert_eq!(
        error.kind(),
        super::super::CallErrorKind::Overloaded,
        "{error}"
    );
    assert!(error.detail().contains("queue limit"), "{error}");
    assert_eq!(link.counters().calls_in_flight, 0);
}

#[tokio::test(flavor = "current_thread")]
async fn a_reserved_cast_waits_for_room_and_is_then_never_refused() {
    let (link, mut rx) = stalled_link(64 * 1024);
    let link = Arc::new(link);
    let args = vec![7u8; 1000];
    // Fill past a quarter of the limit, where reservations wait.
    while link.counters().queued_bytes < 16 * 1024 {
        link.cast(5, "sink@peer", "Data".into(), args.clone(), None, None);
        tokio::task::yield_now().await;
    }
    let len = pb::framed_cast_len(5, "Data", &args, "");
    let waiting = tokio::spawn({
        let link = link.clone();
        async move { link.reserve(len, 0).await }
    });
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert!(!waiting.is_finished(), "no room yet");
    // Plain casts fill the rest, up to the limit...
    while link.counters().overflowed == 0 {
        link.cast(5, "sink@peer", "Data".into(), args.clone(), None, None);
    }
    // ...and the peer starts reading: room comes back.
    let reader = tokio::spawn(async move { while rx.recv().await.is_some() {} });
    tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("room came back")
        .expect("the task ran")
        .expect("reserved");
    let before = link.counters();
    link.cast(5, "sink@peer", "Data".into(), args, Some(len), None);
    let after = link.counters();
    assert_eq!(after.casts_sent, before.casts_sent + 1);
    assert_eq!(after.overflowed, before.overflowed);
    link.close(&refused(), None);
    drop(link);
    reader.abort();
}

/// `close` closes the outbox a moment before it hands the writer the
/// farewell; a writer that saw the closed outbox in between must still send
/// it (it once ended without, and the peer heard no Goodbye).
#[tokio::test(flavor = "current_thread")]
async fn a_farewell_handed_over_after_the_outbox_closed_still_goes_out() {
    let (tx, mut rx) = tokio::sync::mpsc::channel(4);
    let (link, writer) = SessionLink::new(
        FrameTx::Dialer(tx),
        64 * 1024,
        1 << 20,
        None,
        tracing::Span::none(),
    );
    link.outbox.close();
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    let goodbye = pb::Frame::from(vec![pb::Envelope::from(Body::Ready(pb::Ready {}))]);
    let reason = DisconnectReason::local(DisconnectCause::Stopped, "node stopping");
    link.close(&reason, Some(Ok(goodbye.clone())));
    tokio::time::timeout(Duration::from_secs(5), writer)
        .await
        .expect("the writer ends")
        .expect("the task ran");
    assert_eq!(rx.recv().await, Some(goodbye));
}

#[tokio::test]
async fn the_sweep_lets_go_of_local_actors_that_stopped() {
    let (frames, _response) = acceptor_channel();
    let (link, _writer) = SessionLink::new(frames, 64 * 1024, 1 << 20, None, tracing::Span::none());
    let (gone, kept) = (
        crate::test_actor::idle_cell().await,
        crate::test_actor::idle_cell().await,
    );
    link.inbox.charge(1, &gone, 100);
    link.inbox.charge(2, &kept, 100);
    assert_eq!(link.inbox.tracked(), 2);
    gone.stop(None);
    let stopped = async {
        while gone.get_status() < ractor::ActorStatus::Stopping {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), stopped)
        .await
        .expect("the actor stops");
    link.sweep();
    assert_eq!(
        link.inbox.tracked(),
        1,
        "the stopped actor's cell is let go"
    );
    kept.stop(None);
}
