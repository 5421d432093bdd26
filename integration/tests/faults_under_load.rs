//! Scenario 2 of the reliability suite (RELIABILITY.md): load during
//! faults. A load generator casts numbered messages to and calls the
//! `workers` actor of three peers, separate processes on hosts of their
//! own, while one peer is killed and restarted and another is cut off and
//! put back, and the third sends over a slow link (where namespaces allow).
//! What must hold:
//! - every call ends with a reply or a typed error, none long past its
//!   timeout;
//! - casts to the peer that stayed connected: none lost, none reordered,
//!   none duplicated (its actor counts them and checks each number follows
//!   the last); the same for the restarted peer's new actor from the moment
//!   it was found;
//! - afterwards every node's view converges again.

mod common;

use std::time::{Duration, Instant};

use common::{LOADGEN, cluster::Cluster, fast_liveness, workers};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(20);
const CALL_TIMEOUT_MS: u64 = 1000;
/// How far past its timeout a call may end (a loaded 2-core machine
/// schedules late; a hang would be seconds past).
const LATE_SLACK_MS: u64 = 1500;

/// Fault rounds: 1, or in the full run (`RELIABILITY_FULL=1`) the number
/// `RELIABILITY_ROUNDS` gives, 5 by default.
fn rounds() -> u32 {
    if std::env::var_os("RELIABILITY_FULL").is_none() {
        return 1;
    }
    std::env::var("RELIABILITY_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
        .max(1)
}

/// How long the load runs on after the faults: 2 s, 20 s in the full run.
fn tail() -> Duration {
    if std::env::var_os("RELIABILITY_FULL").is_some() {
        Duration::from_secs(20)
    } else {
        Duration::from_secs(2)
    }
}

fn summary(line: &str) -> Value {
    let json = line
        .strip_prefix("loadgen-summary ")
        .unwrap_or_else(|| panic!("not a summary: {line}"));
    serde_json::from_str(json).expect("a JSON summary")
}

fn as_u64(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_end_and_casts_to_connected_peers_arrive_in_order_through_faults() {
    let names = ["load", "stable", "killed", "parted"];
    let mut cluster = Cluster::new(&names, "faults-cookie");
    println!("network: {}", cluster.network());
    let mut flags = fast_liveness();
    flags.extend(["--mode", "transitive"]);
    for peer in &names[1..] {
        cluster.start(peer, &flags);
    }
    let stop = tempfile_path("loadgen-stop");
    let addrs: Vec<String> = names[1..].iter().map(|n| cluster.addr(n)).collect();
    let mut load_flags: Vec<&str> = vec!["--transitive", "--stop-file", stop.as_str()];
    for (peer, addr) in names[1..].iter().zip(&addrs) {
        load_flags.extend(["--connect", addr.as_str(), "--target", peer]);
    }
    let timeout = CALL_TIMEOUT_MS.to_string();
    load_flags.extend(["--call-timeout-ms", timeout.as_str()]);
    cluster.start_program("load", Some(LOADGEN), &load_flags);
    // The three targets are found in any order.
    let mut found = Vec::new();
    while found.len() < 3 {
        let line = cluster.node_mut("load").wait_line(WAIT, "found workers@");
        let target = line
            .split("found workers@")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .expect("a target")
            .to_owned();
        if !found.contains(&target) {
            found.push(target);
        }
    }
    let started = Instant::now();

    // A crash and a restart on the same address, then a silent partition
    // and its healing (where there is a network to cut), while the load
    // runs: once, or `rounds()` times in the full run.
    // The peer that stays connected does so over a slow link (a token
    // bucket of 1 Mbit/s each way) while the faults run.
    if cluster.has_hosts() {
        cluster.slow_link("stable", Some("1mbit"));
    }
    for round in 0..rounds() {
        cluster.crash("killed");
        cluster
            .node_mut("load")
            .wait_line(WAIT, "disconnected from killed");
        cluster.restart("killed");
        cluster
            .node_mut("load")
            .wait_line(WAIT, "found workers@killed");
        if cluster.has_hosts() {
            cluster.partition("parted");
            cluster
                .node_mut("load")
                .wait_line(WAIT, "disconnected from parted");
            cluster.heal("parted");
            cluster
                .node_mut("load")
                .wait_line(WAIT, "found workers@parted");
        } else if round == 0 {
            println!("no partition on loopback: only the crash and restart ran");
        }
        println!(
            "round {} of faults done after {} ms",
            round + 1,
            started.elapsed().as_millis()
        );
    }
    if cluster.has_hosts() {
        cluster.slow_link("stable", None);
    }
    // The load runs on for a while after the faults, so every target also
    // gets traffic on its new session (the workload's length, not a wait
    // for something to happen).
    tokio::time::sleep(tail()).await;
    std::fs::write(&stop, b"stop").expect("stop file");
    let load = cluster.node_mut("load");
    let mut summaries = Vec::new();
    for _ in &names[1..] {
        summaries.push(summary(&load.wait_line(WAIT, "loadgen-summary ")));
    }
    load.wait_line(WAIT, "done");
    println!(
        "load ran {} ms; per target: {}",
        started.elapsed().as_millis(),
        summaries
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join("\n  ")
    );

    for s in &summaries {
        let target = s["target"].as_str().expect("target");
        // Every call ended, none long past its timeout.
        let max = as_u64(&s["max_call_ms"]);
        assert!(
            max <= CALL_TIMEOUT_MS + LATE_SLACK_MS,
            "{target}: a call took {max} ms, timeout {CALL_TIMEOUT_MS} ms"
        );
        assert!(
            as_u64(&s["calls_ok"]) > 0,
            "{target}: no call answered: {s}"
        );
        let sent: Vec<u64> = s["casts_sent"]
            .as_array()
            .expect("casts_sent")
            .iter()
            .map(as_u64)
            .collect();
        let stats = s["final_stats"]
            .as_array()
            .unwrap_or_else(|| panic!("{target}: no final Stats: {s}"));
        let (got, in_order) = (as_u64(&stats[0]), stats[1].as_bool() == Some(true));
        match target {
            // Stayed connected all along: exactly what was sent, in order.
            "stable" => {
                assert_eq!(sent.len(), 1, "stable's actor was found once: {s}");
                assert_eq!((got, in_order), (sent[0], true), "stable: {s}");
                assert!(
                    s["calls_failed"].as_object().is_some_and(|f| f.is_empty()),
                    "stable: {s}"
                );
            }
            // The restarted node's new actor got everything sent to it.
            "killed" => {
                assert!(sent.len() >= 2, "killed's new actor was found again: {s}");
                let last = *sent.last().expect("an entry");
                assert_eq!(
                    (got, in_order),
                    (last, true),
                    "killed's new incarnation: {s}"
                );
            }
            // The partitioned node's actor lived through the cut: it got at
            // most what was sent (what was queued at the cut is lost).
            _ => {
                let total: u64 = sent.iter().sum();
                assert!(got <= total, "{target}: got {got} of {total}: {s}");
            }
        }
    }

    let mut members: Vec<&str> = names[1..].to_vec();
    members.sort_unstable();
    let converged = cluster
        .converge(WAIT, &workers(&members))
        .await
        .unwrap_or_else(|e| panic!("the views did not converge after the faults: {e}"));
    println!(
        "views converged {} ms after the load stopped",
        converged.as_millis()
    );
    let _ = std::fs::remove_file(&stop);
}

/// A path for a file that does not exist yet, unique to this run.
fn tempfile_path(what: &str) -> String {
    let dir = std::env::temp_dir();
    let path = dir.join(format!("{what}-{}-{}", std::process::id(), rand_suffix()));
    path.to_string_lossy().into_owned()
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}
