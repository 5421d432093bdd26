//! Scenario 3 of the reliability suite (RELIABILITY.md): a slow consumer.
//! A consumer that takes 1 ms over each message (1,000 a second) is
//! flooded by a sender in another process, as fast as it can cast. What
//! must hold: nothing is lost or reordered (the consumer counts every
//! cast, in order); the sender's session holds no more than its queue
//! limit, as the documented policy says (README, "Flow control"), and
//! whatever it refused is counted (with the 32 MiB default and some 1 MiB
//! of casts, nothing is); the receiving node stays responsive (calls to
//! another actor on it, through the same session, keep answering). Both
//! sides' memory goes to the test's output with the probe latencies: the
//! receiver reads the session as fast as it can and the backlog waits in
//! the consumer's mailbox, which ractor does not bound (a receive-side
//! budget is issue 11's). 2,000 casts here, 30,000 in the full run.

mod common;

use std::time::{Duration, Instant};

use common::{FLOOD, cluster::Cluster};
use serde_json::Value;

fn count() -> u64 {
    if std::env::var_os("RELIABILITY_FULL").is_some() {
        30_000
    } else {
        2_000
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooded_slow_consumer_gets_everything_and_its_node_keeps_answering() {
    let mut cluster = Cluster::new(&["recv", "flood"], "flood-cookie");
    println!("network: {}", cluster.network());
    cluster.start(
        "recv",
        &[
            "--join",
            "workers",
            "--cast-delay-us",
            "1000",
            "--demo-actors",
        ],
    );
    let recv_addr = cluster.addr("recv");
    let n = count();
    let count_flag = n.to_string();
    let recv_start = cluster.node("recv").resources();
    cluster.start_program(
        "flood",
        Some(FLOOD),
        &[
            "--connect",
            recv_addr.as_str(),
            "--target",
            "recv",
            "--count",
            count_flag.as_str(),
        ],
    );
    cluster
        .node_mut("flood")
        .wait_line(Duration::from_secs(30), "flooding workers@recv");
    // The receiver's memory while the backlog drains, sampled until the
    // sender reports.
    let drain_by = Duration::from_secs(n / 1000 * 3 + 60);
    let started = Instant::now();
    let mut recv_peak = recv_start.rss_kib;
    let summary = loop {
        recv_peak = recv_peak.max(cluster.node("recv").resources().rss_kib);
        let lines = cluster.node_mut("flood").take_lines();
        if let Some(line) = lines.iter().find(|l| l.starts_with("flood-summary ")) {
            break line.clone();
        }
        assert!(
            started.elapsed() < drain_by,
            "no summary from the sender within {drain_by:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let s: Value =
        serde_json::from_str(summary.trim_start_matches("flood-summary ")).expect("JSON summary");
    println!("{s}");
    println!(
        "receiver rss: {} KiB before, {} KiB at its highest during the drain",
        recv_start.rss_kib, recv_peak
    );
    let field = |k: &str| s[k].as_u64().unwrap_or_else(|| panic!("no {k}: {s}"));
    assert_eq!(field("sent"), n, "{s}");
    // Nothing dropped unseen: every cast the session took arrived, and
    // the session took or counted every cast.
    let refused_casts = field("overflowed") - field("calls_overloaded");
    assert_eq!(field("session_sent") + refused_casts, n, "{s}");
    assert_eq!(field("received"), field("session_sent"), "{s}");
    assert_eq!(field("received"), n, "every cast reached the consumer: {s}");
    // The session held at most its limit (the default, 32 MiB).
    let queued = field("queued_peak_bytes");
    assert!(
        queued <= ractor_grpc::DEFAULT_QUEUE_LIMIT as u64 + 64,
        "queued {queued} bytes: {s}"
    );
    assert_eq!(s["in_order"], Value::Bool(true), "in order: {s}");
    assert!(field("probes") > 0, "the receiver was probed: {s}");
    assert_eq!(field("probes_failed"), 0, "every probe answered: {s}");
}
