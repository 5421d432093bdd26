//! A node never panics or leaks a session on what a peer sends: silence,
//! garbage, oversized frames, frames out of order.

mod common;

use std::time::Duration;

use common::{raw, start, start_with};
use prost::Message as _;
use ractor_grpc::{
    NodeConfig,
    pb::{self, envelope::Body},
};
use tonic::Code;

const WAIT: Duration = Duration::from_secs(10);

fn frame(bodies: Vec<Body>) -> Vec<u8> {
    pb::Frame::from(
        bodies
            .into_iter()
            .map(|b| pb::Envelope { body: Some(b) })
            .collect::<Vec<_>>(),
    )
    .encode_to_vec()
}

fn hello(name: &str) -> Body {
    Body::Hello(pb::Hello {
        name: name.into(),
        nonce: vec![7; 32],
        min_version: 1,
        max_version: 1,
        incarnation: 42,
        listen_addr: String::new(),
    })
}

fn cause(status: &tonic::Status) -> &str {
    status
        .metadata()
        .get("ractor-grpc-cause")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Sends `frames` on a raw session and returns the status the node ends it with.
async fn refused_with(addr: &str, frames: Vec<Vec<u8>>) -> tonic::Status {
    let session = raw::open(addr).await;
    for f in frames {
        session.tx.send(f).await.expect("send");
    }
    let (_, status) = session.finish(WAIT).await;
    status.expect("the node ends the stream with an error status")
}

/// After the bad peer, the node has no session left and still serves a good one.
async fn still_healthy(node: &common::TestNode) {
    assert!(
        common::eventually(WAIT, || async { node.sessions().await.is_empty() }).await,
        "a session leaked: {:?}",
        node.sessions().await
    );
    let good = start("good-peer").await;
    let s = ractor_grpc::connect(&good.actor, node.addr.clone())
        .await
        .expect("a good peer connects");
    assert_eq!(s.peer_name.as_deref(), Some(node.name.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_client_is_closed_at_the_deadline() {
    let deadline = Duration::from_millis(400);
    let node =
        start_with(NodeConfig::new("node-a", common::COOKIE).with_handshake_timeout(deadline))
            .await;
    let started = std::time::Instant::now();
    let status = refused_with(&node.addr, vec![]).await;
    let took = started.elapsed();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert_eq!(cause(&status), "handshake-timeout");
    // Generous slack: the machine is shared; this checks "closed", not speed.
    assert!(
        took >= deadline && took < deadline + Duration::from_secs(5),
        "took {took:?}"
    );
    still_healthy(&node).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_bytes_are_invalid_argument() {
    let node = start("node-a").await;
    let status = refused_with(&node.addr, vec![vec![0xff; 64]]).await;
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(cause(&status), "protocol-violation");
    still_healthy(&node).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_handshake_frame_before_auth_is_invalid_argument() {
    let node = start("node-a").await;
    for first in [
        Body::Ready(pb::Ready {}),
        Body::Proof(pb::Proof { proof: vec![0; 32] }),
    ] {
        let status = refused_with(&node.addr, vec![frame(vec![first])]).await;
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(
            status.message().contains("expected Hello"),
            "{}",
            status.message()
        );
    }
    still_healthy(&node).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_and_batched_handshake_frames_are_invalid_argument() {
    let node = start("node-a").await;
    let status = refused_with(&node.addr, vec![frame(vec![])]).await;
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let status = refused_with(&node.addr, vec![frame(vec![hello("x"), hello("y")])]).await;
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let status = refused_with(
        &node.addr,
        vec![frame(vec![Body::Hello(pb::Hello::default())])],
    )
    .await;
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    still_healthy(&node).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_frame_is_refused() {
    let node =
        start_with(NodeConfig::new("node-a", common::COOKIE).with_max_message_size(4096)).await;
    let big = frame(vec![Body::Goodbye(pb::Goodbye {
        code: 0,
        reason: "x".repeat(10_000),
        cause: String::new(),
    })]);
    let status = refused_with(&node.addr, vec![big]).await;
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(cause(&status), "protocol-violation");
    still_healthy(&node).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_version_is_failed_precondition() {
    let node = start("node-a").await;
    let mut h = pb::Hello {
        name: "future".into(),
        nonce: vec![7; 32],
        min_version: 7,
        max_version: 9,
        incarnation: 42,
        listen_addr: String::new(),
    };
    let status = refused_with(&node.addr, vec![frame(vec![Body::Hello(h.clone())])]).await;
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_eq!(cause(&status), "version-mismatch");
    assert!(
        status.message().contains("protocol version"),
        "{}",
        status.message()
    );
    // A name clash is refused too.
    h.min_version = 1;
    h.max_version = 1;
    h.name = "node-a".into();
    let status = refused_with(&node.addr, vec![frame(vec![Body::Hello(h)])]).await;
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_eq!(cause(&status), "duplicate-name");
    still_healthy(&node).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_proof_is_unauthenticated() {
    let node = start("node-a").await;
    let session = raw::open(&node.addr).await;
    session
        .tx
        .send(frame(vec![hello("mallory")]))
        .await
        .expect("hello");
    session
        .tx
        .send(frame(vec![Body::Proof(pb::Proof {
            proof: vec![0xab; 32],
        })]))
        .await
        .expect("proof");
    let (frames, status) = session.finish(WAIT).await;
    assert_eq!(frames.len(), 1, "only the Challenge comes back");
    let challenge = pb::Frame::decode(frames[0].as_slice()).expect("a frame");
    assert!(matches!(
        challenge.envelopes[0].body,
        Some(Body::Challenge(_))
    ));
    let status = status.expect("refused");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert!(!status.message().contains(common::COOKIE));
    still_healthy(&node).await;
}

/// Below gRPC: a TCP connection that never sends the HTTP/2 preface is
/// closed once the handshake deadline has passed, instead of holding a file
/// descriptor and a task for as long as the stranger likes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_tcp_connection_is_closed_at_the_deadline() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let deadline = Duration::from_millis(400);
    let node =
        start_with(NodeConfig::new("node-a", common::COOKIE).with_handshake_timeout(deadline))
            .await;
    // A client that speaks at once, idle from then on.
    let mut client = common::unary::client(&node.addr).await;
    let started = std::time::Instant::now();
    let mut silent = tokio::net::TcpStream::connect(&node.addr)
        .await
        .expect("connect");
    // Half a preface is still silence.
    let mut slow = tokio::net::TcpStream::connect(&node.addr)
        .await
        .expect("connect");
    slow.write_all(b"PRI * HTTP/2.0").await.expect("write");
    for conn in [&mut silent, &mut slow] {
        let closed = tokio::time::timeout(WAIT, async {
            let mut buf = [0u8; 256];
            // The node's SETTINGS come first; then the end.
            while conn.read(&mut buf).await.is_ok_and(|n| n > 0) {}
        })
        .await;
        assert!(closed.is_ok(), "the node kept a silent connection open");
    }
    let took = started.elapsed();
    assert!(
        took >= deadline,
        "closed after {took:?}, before the deadline"
    );
    // The client that spoke at once still works, idle past the deadline.
    let token = common::unary::token_for("node-a", ractor_grpc::TokenScope::Inspect);
    client
        .get_node_info(common::unary::bearer(pb::GetNodeInfoRequest {}, &token))
        .await
        .expect("the idle connection still works");
    still_healthy(&node).await;
}

/// A refused stranger leaves nothing running behind it: its session's
/// handshake timer ends with the session, not at the deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_strangers_leave_no_tasks_behind() {
    async fn tasks(node: &common::TestNode) -> usize {
        ractor_grpc::node_info(&node.actor)
            .await
            .expect("info")
            .tasks
    }
    let deadline = Duration::from_secs(60);
    let node =
        start_with(NodeConfig::new("node-a", common::COOKIE).with_handshake_timeout(deadline))
            .await;
    let before = tasks(&node).await;
    for _ in 0..20 {
        let status = refused_with(&node.addr, vec![vec![0xff; 8]]).await;
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    }
    // Back well within the 60 s deadline.
    let back = common::eventually(WAIT, || async { tasks(&node).await <= before }).await;
    assert!(back, "{before} tasks before, {} after", tasks(&node).await);
    still_healthy(&node).await;
}
