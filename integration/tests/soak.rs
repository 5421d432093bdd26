//! Scenario 4 of the reliability suite (RELIABILITY.md): a soak. Three
//! processes — `loadgen` and two peers — under mixed load (numbered casts
//! and calls to each peer's actor) with a reconnect every second, for 60 s
//! in the full run (`RELIABILITY_FULL`) and 6 s in the fast one. What must
//! hold: every process's descriptors, threads and sessions, and the peers'
//! tokio tasks, return to what they were before the load once it stops
//! (`loadgen` is a library user, not the `node` binary: it serves no
//! `GetNodeInfo` to ask); in the full run, each process's
//! resident memory at the end is at most 10% above what it was after the
//! warm-up (the first sixth of the run).

mod common;

use std::time::{Duration, Instant};

use common::{LOADGEN, Resources, cluster::Cluster, fast_liveness};

const WAIT: Duration = Duration::from_secs(20);
/// How long resources may take to come back after the load stops: idle
/// runtime threads (DNS lookups run on tokio's blocking pool) linger 10 s.
const SETTLE: Duration = Duration::from_secs(30);

fn full() -> bool {
    std::env::var_os("RELIABILITY_FULL").is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_return_to_baseline_after_a_soak_with_reconnects() {
    let length = if full() {
        Duration::from_secs(60)
    } else {
        Duration::from_secs(6)
    };
    let names = ["load", "pa", "pb"];
    let mut cluster = Cluster::new(&names, "soak-cookie");
    println!(
        "network: {}; soak of {} s",
        cluster.network(),
        length.as_secs()
    );
    let flags = fast_liveness();
    cluster.start("pa", &flags);
    cluster.start("pb", &flags);
    let stop = std::env::temp_dir().join(format!("soak-stop-{}", std::process::id()));
    let _ = std::fs::remove_file(&stop);
    let stop_flag = stop.to_string_lossy().into_owned();
    let (pa, pb) = (cluster.addr("pa"), cluster.addr("pb"));
    let load_flags = [
        "--connect",
        pa.as_str(),
        "--target",
        "pa",
        "--connect",
        pb.as_str(),
        "--target",
        "pb",
        "--reconnect-every-ms",
        "1000",
        "--stop-file",
        stop_flag.as_str(),
    ];
    cluster.start_program("load", Some(LOADGEN), &load_flags);
    let mut found = 0;
    while found < 2 {
        cluster.node_mut("load").wait_line(WAIT, "found workers@");
        found += 1;
    }
    // Before the load has built anything up: the baseline.
    let baseline: Vec<(String, Resources)> = names
        .iter()
        .map(|n| ((*n).to_owned(), cluster.node(n).resources()))
        .collect();
    let sessions: Vec<Vec<String>> = {
        let mut out = Vec::new();
        for n in names {
            out.push(cluster.node(n).ready_peers().await);
        }
        out
    };
    let peers = ["pa", "pb"];
    let tasks_before = {
        let mut out = Vec::new();
        for n in peers {
            out.push(cluster.node(n).tasks().await);
        }
        out
    };
    let started = Instant::now();
    tokio::time::sleep(length / 6).await;
    let warm: Vec<Resources> = names.iter().map(|n| cluster.node(n).resources()).collect();
    tokio::time::sleep(length.saturating_sub(started.elapsed())).await;
    let end: Vec<Resources> = names.iter().map(|n| cluster.node(n).resources()).collect();
    std::fs::write(&stop, b"stop").expect("stop file");
    let load = cluster.node_mut("load");
    let mut summaries = Vec::new();
    for _ in 0..2 {
        summaries.push(load.wait_line(WAIT, "loadgen-summary "));
    }
    load.wait_line(WAIT, "done");
    let reconnects = load
        .lines_seen()
        .iter()
        .filter(|l| l.contains("] reconnecting "))
        .count();
    assert!(reconnects >= 2, "the soak reconnected {reconnects} times");
    println!(
        "{reconnects} reconnects; load summaries:\n  {}",
        summaries.join("\n  ")
    );

    // Resources come back: descriptors, threads and sessions as before.
    let settle_start = Instant::now();
    loop {
        let now: Vec<Resources> = names.iter().map(|n| cluster.node(n).resources()).collect();
        let mut ready = Vec::new();
        for n in names {
            ready.push(cluster.node(n).ready_peers().await);
        }
        let mut tasks = Vec::new();
        for n in peers {
            tasks.push(cluster.node(n).tasks().await);
        }
        let back = baseline
            .iter()
            .zip(&now)
            .all(|((_, b), n)| n.fds <= b.fds && n.threads <= b.threads)
            && ready == sessions
            && tasks.iter().zip(&tasks_before).all(|(n, b)| n <= b);
        if back {
            println!("tasks of pa and pb: {tasks_before:?} before, {tasks:?} after");
            break;
        }
        assert!(
            settle_start.elapsed() < SETTLE,
            "not back to the baseline {SETTLE:?} after the load stopped:\n\
             baseline {baseline:?}\nnow {now:?}\nsessions before {sessions:?}, now {ready:?}\n\
             tasks of pa and pb before {tasks_before:?}, now {tasks:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for (i, (name, b)) in baseline.iter().enumerate() {
        println!(
            "{name}: rss {} KiB at start, {} KiB after warm-up, {} KiB at the end ({:+.1}%); \
             fds {} -> {}; threads {} -> {}",
            b.rss_kib,
            warm[i].rss_kib,
            end[i].rss_kib,
            (end[i].rss_kib as f64 / warm[i].rss_kib.max(1) as f64 - 1.0) * 100.0,
            b.fds,
            end[i].fds,
            b.threads,
            end[i].threads
        );
        if full() {
            assert!(
                end[i].rss_kib * 10 <= warm[i].rss_kib * 11,
                "{name}: resident memory grew more than 10% after the warm-up: {} -> {} KiB",
                warm[i].rss_kib,
                end[i].rss_kib
            );
        }
    }
    let _ = std::fs::remove_file(&stop);
}
