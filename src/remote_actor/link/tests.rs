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
    let (link, writer) = SessionLink::new(frames, 64 * 1024);
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
    let (link, writer) = SessionLink::new(frames, 64 * 1024);
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
    let (link, writer) = SessionLink::new(frames, 64 * 1024);
    let goodbye = pb::Frame {
        envelopes: vec![pb::Envelope::from(Body::Ready(pb::Ready {}))],
    };
    let reason = DisconnectReason::local(DisconnectCause::Stopped, "node stopping");
    link.close(&reason, Some(Ok(goodbye)));
    writer.await.expect("the writer ends");
    drop(link);
    let got = drain(response).await;
    assert!(matches!(got.as_slice(), [Ok(_)]), "{got:?}");

    // No farewell (the peer ended the session): the response just ends.
    let (frames, response) = acceptor_channel();
    let (link, writer) = SessionLink::new(frames, 64 * 1024);
    link.close(&refused(), None);
    writer.abort();
    let _ = writer.await;
    drop(link);
    assert!(drain(response).await.is_empty());
}
