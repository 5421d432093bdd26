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
    let flags = [
        "--heartbeat-interval-ms",
        "250",
        "--heartbeat-timeout-ms",
        "1000",
        "--handshake-timeout-ms",
        "1000",
        "--reconnect-initial-ms",
        "100",
        "--reconnect-max-ms",
        "500",
        "--join",
        "workers",
    ];
    let bound = Duration::from_millis(1000 + 1000);
    let a = NodeProcess::start("proc-a", "shared-cookie", &flags);
    let mut extra = flags.to_vec();
    extra.extend(["--connect", &a.addr]);
    let mut b = NodeProcess::start("proc-b", "shared-cookie", &extra);
    b.wait_line(WAIT, "ready with proc-a");
    // ListPeers shows the heartbeat's round trip once a Ping came back.
    let measured = |p: &[pb::PeerInfo]| p.len() == 1 && p[0].smoothed_rtt_us > 0;
    let peers = b.peers_until(WAIT, measured).await;
    assert!(measured(&peers), "{peers:?}");
    assert!(peers[0].last_rtt_us > 0, "{peers:?}");
    let both = |g: &[(String, Vec<String>)]| {
        g == [(
            "workers".to_owned(),
            vec!["proc-a".to_owned(), "proc-b".to_owned()],
        )]
    };

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
        let groups = b.groups_until(WAIT, |g| !both(g)).await;
        assert!(!both(&groups), "round {round}: {groups:?}");
        detected.push(elapsed);

        let thawed = std::time::Instant::now();
        a.thaw();
        b.wait_line(WAIT, "ready with proc-a");
        reconnected.push(thawed.elapsed());
        // Resynced: both views hold both members again.
        for node in [&a, &b] {
            let groups = node.groups_until(WAIT, both).await;
            assert!(both(&groups), "round {round}, {}: {groups:?}", node.name);
        }
    }
    let ms = |d: &mut Vec<Duration>| {
        d.sort();
        d.iter().map(Duration::as_millis).collect::<Vec<_>>()
    };
    println!(
        "frozen peer declared down after (ms): {:?}; reconnected after thaw (ms): {:?}",
        ms(&mut detected),
        ms(&mut reconnected)
    );
}

/// A peer killed outright (SIGKILL) and started again on the same name and
/// port is a new incarnation: the dialler reconnects, and its view holds the
/// new process's group member only, not the dead one's.
#[tokio::test]
async fn a_killed_process_restarted_on_its_port_is_a_new_incarnation() {
    let flags = [
        "--reconnect-initial-ms",
        "100",
        "--reconnect-max-ms",
        "500",
        "--join",
        "workers",
    ];
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
    let both = |g: &[(String, Vec<String>)]| {
        g == [(
            "workers".to_owned(),
            vec!["proc-a".to_owned(), "proc-b".to_owned()],
        )]
    };
    for node in [&a, &b] {
        let groups = node.groups_until(WAIT, both).await;
        assert!(both(&groups), "{}: {groups:?}", node.name);
    }
}
