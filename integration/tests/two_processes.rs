//! Two `node` processes on 127.0.0.1 find each other.

mod common;

use std::time::Duration;

use common::{
    FAST_DETECTION_BOUND, FAST_RECONNECT, NodeProcess, fast_liveness, has_ready, sorted_ms, workers,
};
use ractor_grpc::pb;

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn two_processes_connect_and_list_each_other() {
    let mut a = NodeProcess::start("proc-a", "shared-cookie", &[]);
    let mut b = NodeProcess::start("proc-b", "shared-cookie", &["--connect", &a.addr.clone()]);
    b.wait_line(WAIT, "ready with proc-a");

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
    // A permanent refusal: the node says so and stops dialling.
    let line = b.wait_line(WAIT, "gave up on");
    assert!(line.contains("bad-cookie"), "{line}");
    // The refused session is gone on both sides (a moment after the refusal).
    assert!(a.peers_until(WAIT, <[_]>::is_empty).await.is_empty());
    assert!(b.peers_until(WAIT, <[_]>::is_empty).await.is_empty());
}

#[tokio::test]
async fn a_crashed_process_disappears_from_its_peer() {
    let mut a = NodeProcess::start("proc-a", "shared-cookie", &[]);
    let mut b = NodeProcess::start("proc-b", "shared-cookie", &["--connect", &a.addr.clone()]);
    b.wait_line(WAIT, "ready with proc-a");
    a.crash();
    // The kernel closes the dead process's socket; the peer sees the stream fail.
    let line = b.wait_line(WAIT, "disconnected from proc-a");
    assert!(line.contains("transport"), "{line}");
    let peers_b = b.peers_until(WAIT, <[_]>::is_empty).await;
    assert!(peers_b.is_empty(), "{peers_b:?}");
}

/// A frozen peer (SIGSTOP: its sockets stay open, nothing answers) is
/// declared down by the heartbeat within its timeout plus a second; once it
/// runs again (SIGCONT) the dialler reconnects and resyncs. Five rounds; the
/// detection and reconnect times go to the test's output.
#[tokio::test]
async fn a_frozen_process_is_declared_down_and_reconnected_when_it_thaws() {
    let bound = FAST_DETECTION_BOUND;
    let a = NodeProcess::start("proc-a", "shared-cookie", &fast_liveness());
    let mut extra = fast_liveness();
    extra.extend(["--connect", &a.addr]);
    let mut b = NodeProcess::start("proc-b", "shared-cookie", &extra);
    b.wait_line(WAIT, "ready with proc-a");
    // ListPeers shows the heartbeat's round trip once a Ping came back.
    let measured = |p: &[pb::PeerInfo]| p.len() == 1 && p[0].smoothed_rtt_us > 0;
    let peers = b.peers_until(WAIT, measured).await;
    assert!(measured(&peers), "{peers:?}");
    assert!(peers[0].last_rtt_us > 0, "{peers:?}");
    let both = workers(&["proc-a", "proc-b"]);

    let (mut detected, mut reconnected) = (Vec::new(), Vec::new());
    for round in 0..5 {
        let frozen = std::time::Instant::now();
        a.freeze();
        let line = b.wait_line(WAIT, "disconnected from proc-a");
        let elapsed = frozen.elapsed();
        assert!(line.contains("heartbeat-timeout"), "round {round}: {line}");
        assert!(
            elapsed <= bound,
            "round {round}: declared down after {elapsed:?}, bound {bound:?}"
        );
        // While it is frozen, its group member is gone from b's view.
        let groups = b.groups_until(WAIT, |g| g != both).await;
        assert_ne!(groups, both, "round {round}");
        detected.push(elapsed);

        let thawed = std::time::Instant::now();
        a.thaw();
        b.wait_line(WAIT, "ready with proc-a");
        reconnected.push(thawed.elapsed());
        // Resynced: both views hold both members again.
        for node in [&a, &b] {
            let groups = node.groups_until(WAIT, |g| g == both).await;
            assert_eq!(groups, both, "round {round}, {}", node.name);
        }
    }
    println!(
        "frozen peer declared down after (ms): {:?}; reconnected after thaw (ms): {:?}",
        sorted_ms(&mut detected),
        sorted_ms(&mut reconnected)
    );
}

/// A peer killed outright (SIGKILL) and started again on the same name and
/// port is a new incarnation: the dialler reconnects, and its view holds the
/// new process's group member only, not the dead one's.
#[tokio::test]
async fn a_killed_process_restarted_on_its_port_is_a_new_incarnation() {
    let flags = FAST_RECONNECT;
    let mut a = NodeProcess::start("proc-a", "shared-cookie", &flags);
    let mut extra = flags.to_vec();
    extra.extend(["--connect", &a.addr]);
    let mut b = NodeProcess::start("proc-b", "shared-cookie", &extra);
    b.wait_line(WAIT, "ready with proc-a");
    let peers = b.peers_until(WAIT, |p| has_ready(p, "proc-a")).await;
    let first = peers[0].incarnation;
    assert_ne!(first, 0, "{peers:?}");

    a.crash();
    let line = b.wait_line(WAIT, "disconnected from proc-a");
    assert!(line.contains("transport"), "{line}");
    let a = NodeProcess::start(
        "proc-a",
        "shared-cookie",
        &[&flags[..], &["--listen", &a.addr]].concat(),
    );
    b.wait_line(WAIT, "ready with proc-a");
    let peers = b.peers_until(WAIT, |p| has_ready(p, "proc-a")).await;
    assert_eq!(peers.len(), 1, "{peers:?}");
    assert_ne!(
        peers[0].incarnation, first,
        "the restart is a new incarnation"
    );
    let both = workers(&["proc-a", "proc-b"]);
    for node in [&a, &b] {
        let groups = node.groups_until(WAIT, |g| g == both).await;
        assert_eq!(groups, both, "{}", node.name);
    }
}
