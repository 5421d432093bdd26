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

/// A frozen peer (SIGSTOP: its sockets stay open, nothing answers) is
/// declared down by the heartbeat within its timeout plus a second, five
/// times over; the detection times go to the test's output.
#[tokio::test]
async fn a_frozen_process_is_declared_down_by_the_heartbeat() {
    let heartbeat = [
        "--heartbeat-interval-ms",
        "250",
        "--heartbeat-timeout-ms",
        "1000",
    ];
    let bound = Duration::from_millis(1000 + 1000);
    let mut took = Vec::new();
    for round in 0..5 {
        let a = NodeProcess::start("proc-a", "shared-cookie", &heartbeat);
        let mut extra = heartbeat.to_vec();
        extra.extend(["--connect", &a.addr]);
        let mut b = NodeProcess::start("proc-b", "shared-cookie", &extra);
        b.wait_line(WAIT, "connected to proc-a");
        if round == 0 {
            // ListPeers shows the heartbeat's round trip once a Ping came back.
            let measured = |p: &[pb::PeerInfo]| p.len() == 1 && p[0].smoothed_rtt_us > 0;
            let peers = b.peers_until(WAIT, measured).await;
            assert!(measured(&peers), "{peers:?}");
            assert!(peers[0].last_rtt_us > 0, "{peers:?}");
        }
        let frozen = std::time::Instant::now();
        a.freeze();
        let line = b.wait_line(WAIT, "disconnected from proc-a");
        let elapsed = frozen.elapsed();
        a.thaw();
        assert!(line.contains("heartbeat-timeout"), "round {round}: {line}");
        assert!(
            elapsed <= bound,
            "round {round}: declared down after {elapsed:?}, bound {bound:?}"
        );
        took.push(elapsed);
    }
    took.sort();
    println!(
        "frozen peer declared down after (ms): {:?}",
        took.iter().map(Duration::as_millis).collect::<Vec<_>>()
    );
}
