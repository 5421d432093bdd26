//! Two `node` processes on 127.0.0.1 find each other.

mod common;

use std::time::Duration;

use common::{NodeProcess, has_ready};
use ractor_grpc::pb;

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn two_processes_connect_and_list_each_other() {
    let mut a = NodeProcess::start("proc-a", "shared-cookie", &[]);
    let mut b = NodeProcess::start("proc-b", "shared-cookie", &["--connect", &a.addr.clone()]);
    b.wait_line(WAIT, "connected to proc-a");

    let peers_a = a.peers_until(WAIT, |p| has_ready(p, "proc-b")).await;
    let peers_b = b.peers_until(WAIT, |p| has_ready(p, "proc-a")).await;
    assert!(has_ready(&peers_a, "proc-b"), "{peers_a:?}");
    assert!(has_ready(&peers_b, "proc-a"), "{peers_b:?}");
    assert_eq!(peers_a[0].direction, pb::Direction::Inbound as i32);
    assert_eq!(peers_b[0].direction, pb::Direction::Outbound as i32);
    assert_eq!(peers_b[0].listen_addr, a.addr);

    // Stopping A is seen by B as a disconnect, across the process boundary.
    a.terminate();
    let line = b.wait_line(WAIT, "disconnected from proc-a");
    assert!(line.contains("stopped"), "{line}");
    let peers_b = b.peers_until(WAIT, <[_]>::is_empty).await;
    assert!(peers_b.is_empty(), "{peers_b:?}");
    b.terminate();
}

#[tokio::test]
async fn a_process_with_the_wrong_cookie_is_refused() {
    let a = NodeProcess::start("proc-a", "cookie-one", &[]);
    let mut b = NodeProcess::start("proc-b", "cookie-two", &["--connect", &a.addr.clone()]);
    let line = b.wait_line(WAIT, "could not connect");
    assert!(line.contains("cookie"), "{line}");
    // The refused session is gone on both sides (a moment after the refusal).
    assert!(a.peers_until(WAIT, <[_]>::is_empty).await.is_empty());
    assert!(b.peers_until(WAIT, <[_]>::is_empty).await.is_empty());
}

#[tokio::test]
async fn a_crashed_process_disappears_from_its_peer() {
    let mut a = NodeProcess::start("proc-a", "shared-cookie", &[]);
    let mut b = NodeProcess::start("proc-b", "shared-cookie", &["--connect", &a.addr.clone()]);
    b.wait_line(WAIT, "connected to proc-a");
    a.crash();
    // The kernel closes the dead process's socket; the peer sees the stream fail.
    let line = b.wait_line(WAIT, "disconnected from proc-a");
    assert!(line.contains("transport"), "{line}");
    let peers_b = b.peers_until(WAIT, <[_]>::is_empty).await;
    assert!(peers_b.is_empty(), "{peers_b:?}");
}
