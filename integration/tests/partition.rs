//! Two `node` processes on hosts of their own (network namespaces joined by
//! a switch) and a silent partition between them.

mod common;

use std::time::{Duration, Instant};

use common::{
    FAST_DETECTION_BOUND, NodeProcess, fast_liveness,
    netns::{self, NetLab},
    sorted_ms, workers,
};

const WAIT: Duration = Duration::from_secs(10);

/// A peer cut off the network without a word (its bridge-side veth end set
/// down: no RST, no FIN, no error on either socket) is declared down by the
/// heartbeat within its timeout plus a second, and its group member leaves
/// the other side's view; once the link is back the dialler reconnects and
/// both views hold both members again. Five rounds; the detection and
/// reconnect times go to the test's output. Skipped (and says so) where
/// network namespaces cannot be made.
#[tokio::test]
async fn a_silent_partition_is_detected_and_healed_by_reconnect() {
    if let Err(why) = netns::available() {
        println!("SKIPPED: a silent partition needs network namespaces: {why}");
        return;
    }
    let bound = FAST_DETECTION_BOUND;
    let lab = NetLab::new(&["node-a", "node-b"]);
    let a = NodeProcess::start_in(&lab, "node-a", "shared-cookie", &fast_liveness());
    let mut extra = fast_liveness();
    extra.extend(["--connect", &a.addr]);
    let mut b = NodeProcess::start_in(&lab, "node-b", "shared-cookie", &extra);
    b.wait_line(WAIT, "ready with node-a");
    let both = workers(&["node-a", "node-b"]);
    for node in [&a, &b] {
        let groups = node.groups_until(WAIT, |g| g == both).await;
        assert_eq!(groups, both, "{}", node.name);
    }

    let (mut detected, mut reconnected) = (Vec::new(), Vec::new());
    for round in 0..5 {
        // Nothing may have ended the session before the cut.
        let before = b.take_lines();
        assert!(
            !before.iter().any(|l| l.contains("disconnected")),
            "round {round}: before the cut: {before:#?}"
        );
        let cut = Instant::now();
        lab.partition("node-a");
        let line = b.wait_line(WAIT, "disconnected from node-a");
        let elapsed = cut.elapsed();
        assert!(line.contains("heartbeat-timeout"), "round {round}: {line}");
        assert!(
            elapsed <= bound,
            "round {round}: declared down after {elapsed:?}, bound {bound:?}"
        );
        detected.push(elapsed);
        // Each side is left with its own member only.
        for node in [&a, &b] {
            let alone = workers(&[node.name.as_str()]);
            let groups = node.groups_until(WAIT, |g| g == alone).await;
            assert_eq!(groups, alone, "round {round}, {}", node.name);
        }

        let healed = Instant::now();
        lab.heal("node-a");
        b.wait_line(WAIT, "ready with node-a");
        reconnected.push(healed.elapsed());
        for node in [&a, &b] {
            let groups = node.groups_until(WAIT, |g| g == both).await;
            assert_eq!(groups, both, "round {round}, {}", node.name);
        }
    }
    println!(
        "partitioned peer declared down after (ms): {:?}; reconnected after heal (ms): {:?}",
        sorted_ms(&mut detected),
        sorted_ms(&mut reconnected)
    );
}
