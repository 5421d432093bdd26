//! A flood for the slow-consumer and backpressure scenarios: a node that
//! casts `--count` numbered `Cast1`s as fast as it can to `workers@TARGET`
//! (a consumer that takes its time over each), while it calls the target's
//! `pong` every 50 ms to see that the target still answers; then it waits
//! until the consumer has counted every cast the session took, and prints
//! one `flood-summary {json}` line (see [`Summary`]).
//!
//! With `--send` it sends through `ractor_grpc::send` (which waits for room
//! on the session) instead of a plain `cast` (refused past the queue limit),
//! and says `send waiting for room` the first time a send waits 100 ms. With
//! `--go-file` it waits for that file before it starts, so a test can freeze
//! the consumer first.
//!
//! ```text
//! flood --name flood --cookie C --connect ADDR --target recv --count 5000
//! ```

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use clap::Parser;
use integration::{MyBasicMessageType, demo::PongMsg};
use ractor::{Actor, ActorRef};
use ractor_grpc::{CallErrorKind, NodeConfig, NodeServer, NodeServerMessage};
use serde::Serialize;

#[derive(Debug, Parser)]
struct Args {
    #[arg(long)]
    name: String,
    #[arg(long, env = "RACTOR_GRPC_COOKIE")]
    cookie: String,
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// The consumer's node.
    #[arg(long)]
    connect: String,
    /// Its name.
    #[arg(long)]
    target: String,
    /// How many casts to send.
    #[arg(long, default_value_t = 5000)]
    count: u64,
    /// How long to wait for the consumer to count them all, in seconds.
    #[arg(long, default_value_t = 120)]
    drain_secs: u64,
    /// Send with `ractor_grpc::send`, waiting for room, not a plain `cast`.
    #[arg(long)]
    send: bool,
    /// The session's queue limit in bytes (`NodeConfig::with_queue_limit`).
    #[arg(long)]
    queue_limit: Option<usize>,
    /// Start sending only once this file exists.
    #[arg(long)]
    go_file: Option<std::path::PathBuf>,
}

/// What happened.
#[derive(Debug, Serialize)]
struct Summary {
    /// Casts handed to the proxy.
    sent: u64,
    /// The session's counters: casts it took (`casts_sent`), and casts and
    /// calls it refused because it held its queue limit (`overflowed`).
    session_sent: u64,
    overflowed: u64,
    /// Of the `overflowed`, the calls (this program's probes and Stats
    /// calls, which failed with `CallError::Overloaded`).
    calls_overloaded: u64,
    /// The longest a `--send` waited for room, in milliseconds.
    max_send_wait_ms: u64,
    /// The most bytes the session held queued when sampled (every 20 ms).
    queued_peak_bytes: u64,
    /// How long sending them took, in milliseconds.
    send_ms: u64,
    /// The consumer's count when it was last asked, and whether the numbers
    /// came in order.
    received: u64,
    in_order: bool,
    /// From the first cast until the consumer had them all, in milliseconds.
    drain_ms: u64,
    /// Calls to the target's `pong` while the flood was on: how many, how
    /// many failed, and their latencies in milliseconds.
    probes: u64,
    probes_failed: u64,
    probe_p50_ms: f64,
    probe_max_ms: f64,
    /// This process's resident memory (KiB): before, at its highest while
    /// sending and draining, and at the end.
    rss_start_kib: u64,
    rss_peak_kib: u64,
    rss_end_kib: u64,
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

async fn find<M: ractor::Message>(
    node: &ActorRef<NodeServerMessage>,
    peer: &str,
    name: &str,
) -> Result<ActorRef<M>, String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(Some(cell)) = ractor_grpc::registry::where_is(node, peer, name).await {
            return Ok(ActorRef::from(cell));
        }
        if Instant::now() > deadline {
            return Err(format!("{name} on {peer} never appeared"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let mut config =
        NodeConfig::new(args.name.clone(), args.cookie.clone()).with_listen_addr(args.listen);
    if let Some(limit) = args.queue_limit {
        config = config.with_queue_limit(limit);
    }
    let (node, handle) = Actor::spawn(None, NodeServer::new(config), ()).await?;
    let info = ractor_grpc::node_info(&node).await?;
    println!("[{}] listening on {}", args.name, info.listen_addr);
    ractor_grpc::connect(&node, args.connect.clone()).await?;
    let consumer: ActorRef<MyBasicMessageType> =
        find(&node, &args.target, &format!("workers@{}", args.target)).await?;
    let pong: ActorRef<PongMsg> = find(&node, &args.target, "pong").await?;
    if let Some(go) = &args.go_file {
        println!("[{}] waiting for {} to start", args.name, go.display());
        while !go.exists() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    println!(
        "[{}] flooding workers@{} with {} casts",
        args.name, args.target, args.count
    );

    let rss_start = rss_kib();
    let peak = Arc::new(AtomicU64::new(rss_start));
    let done = Arc::new(AtomicBool::new(false));
    let queued_peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (peak, queued_peak, done) = (peak.clone(), queued_peak.clone(), done.clone());
        let node = node.clone();
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(), Ordering::Relaxed);
                if let Ok(sessions) = ractor_grpc::list_sessions(&node).await {
                    for s in sessions {
                        queued_peak.fetch_max(s.counters.queued_bytes, Ordering::Relaxed);
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    // Calls refused because the session held its queue limit (counted in
    // its `overflowed` with the casts).
    let overloaded = Arc::new(AtomicU64::new(0));
    let prober = {
        let (done, overloaded) = (done.clone(), overloaded.clone());
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failed = 0u64;
            let mut n = 0u64;
            while !done.load(Ordering::Relaxed) {
                let started = Instant::now();
                let answer =
                    ractor_grpc::call(&pong, |r| PongMsg::Pong(n, r), Some(Duration::from_secs(5)))
                        .await;
                match answer {
                    Ok(m) if m == n + 1 => latencies.push(started.elapsed().as_secs_f64() * 1e3),
                    Err(e) if e.kind() == CallErrorKind::Overloaded => {
                        overloaded.fetch_add(1, Ordering::Relaxed);
                        failed += 1;
                    }
                    _ => failed += 1,
                }
                n += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            (latencies, failed)
        })
    };

    let started = Instant::now();
    let mut sent = 0;
    let mut max_wait = Duration::ZERO;
    let mut said_waiting = false;
    for seq in 0..args.count {
        let message = MyBasicMessageType::Cast1(args.name.clone(), seq);
        if args.send {
            let before = Instant::now();
            let send = ractor_grpc::send(&consumer, message);
            tokio::pin!(send);
            let sent = match tokio::time::timeout(Duration::from_millis(100), &mut send).await {
                Ok(sent) => sent,
                Err(_) => {
                    if !said_waiting {
                        said_waiting = true;
                        println!("[{}] send waiting for room after {seq} casts", args.name);
                    }
                    send.await
                }
            };
            sent?;
            max_wait = max_wait.max(before.elapsed());
        } else {
            consumer.cast(message)?;
        }
        sent += 1;
    }
    let send_ms = started.elapsed().as_millis();
    println!(
        "[{}] sent {sent} casts in {send_ms} ms; waiting for the consumer",
        args.name
    );
    let deadline = started + Duration::from_secs(args.drain_secs);
    let (mut received, mut in_order) = (0, false);
    let (mut session_sent, mut overflowed) = (0, 0);
    let mut said_taken = false;
    while Instant::now() < deadline {
        // What the session took and refused so far (the proxy may still be
        // taking the last casts from its mailbox).
        let session = ractor_grpc::list_sessions(&node)
            .await?
            .into_iter()
            .find(|s| s.peer_name.as_deref() == Some(args.target.as_str()));
        if let Some(s) = session {
            (session_sent, overflowed) = (s.counters.casts_sent, s.counters.overflowed);
            let calls = overloaded.load(Ordering::Relaxed);
            if !said_taken && session_sent + overflowed.saturating_sub(calls) >= sent {
                said_taken = true;
                println!(
                    "[{}] the session took {session_sent} casts and refused {overflowed}",
                    args.name
                );
            }
        }
        let stats = ractor_grpc::call(
            &consumer,
            MyBasicMessageType::Stats,
            Some(Duration::from_secs(args.drain_secs)),
        )
        .await;
        match stats {
            Ok((count, ordered)) => {
                (received, in_order) = (count, ordered);
                let calls = overloaded.load(Ordering::Relaxed);
                if session_sent + overflowed.saturating_sub(calls) >= sent
                    && received >= session_sent
                {
                    break;
                }
            }
            Err(e) if e.kind() == CallErrorKind::Overloaded => {
                overloaded.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let drain_ms = started.elapsed().as_millis();
    done.store(true, Ordering::Relaxed);
    let (mut latencies, probes_failed) = prober.await?;
    sampler.await?;
    latencies.sort_by(f64::total_cmp);
    let pick = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    let summary = Summary {
        sent,
        session_sent,
        overflowed,
        calls_overloaded: overloaded.load(Ordering::Relaxed),
        max_send_wait_ms: u64::try_from(max_wait.as_millis()).unwrap_or(u64::MAX),
        queued_peak_bytes: queued_peak.load(Ordering::Relaxed),
        send_ms: u64::try_from(send_ms).unwrap_or(u64::MAX),
        received,
        in_order,
        drain_ms: u64::try_from(drain_ms).unwrap_or(u64::MAX),
        probes: latencies.len() as u64 + probes_failed,
        probes_failed,
        probe_p50_ms: pick(0.5),
        probe_max_ms: pick(1.0),
        rss_start_kib: rss_start,
        rss_peak_kib: peak.load(Ordering::Relaxed),
        rss_end_kib: rss_kib(),
    };
    println!("flood-summary {}", serde_json::to_string(&summary)?);
    node.stop(None);
    handle.await?;
    Ok(())
}
