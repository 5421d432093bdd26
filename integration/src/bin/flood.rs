//! A flood for the slow-consumer scenario: a node that casts `--count`
//! numbered `Cast1`s as fast as it can to `workers@TARGET` (a consumer that
//! takes its time over each), while it calls the target's `pong` every
//! 50 ms to see that the target still answers; then it waits until the
//! consumer has counted every cast, and prints one `flood-summary {json}`
//! line (see [`Summary`]).
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
use ractor_grpc::{NodeConfig, NodeServer, NodeServerMessage};
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
}

/// What happened.
#[derive(Debug, Serialize)]
struct Summary {
    /// Casts handed to the proxy.
    sent: u64,
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
    let config =
        NodeConfig::new(args.name.clone(), args.cookie.clone()).with_listen_addr(args.listen);
    let (node, handle) = Actor::spawn(None, NodeServer::new(config), ()).await?;
    let info = ractor_grpc::node_info(&node).await?;
    println!("[{}] listening on {}", args.name, info.listen_addr);
    ractor_grpc::connect(&node, args.connect.clone()).await?;
    let consumer: ActorRef<MyBasicMessageType> =
        find(&node, &args.target, &format!("workers@{}", args.target)).await?;
    let pong: ActorRef<PongMsg> = find(&node, &args.target, "pong").await?;
    println!(
        "[{}] flooding workers@{} with {} casts",
        args.name, args.target, args.count
    );

    let rss_start = rss_kib();
    let peak = Arc::new(AtomicU64::new(rss_start));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let prober = {
        let done = done.clone();
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
    for seq in 0..args.count {
        consumer.cast(MyBasicMessageType::Cast1(args.name.clone(), seq))?;
        sent += 1;
    }
    let send_ms = started.elapsed().as_millis();
    println!(
        "[{}] sent {sent} casts in {send_ms} ms; waiting for the consumer",
        args.name
    );
    let deadline = started + Duration::from_secs(args.drain_secs);
    let (mut received, mut in_order) = (0, false);
    while Instant::now() < deadline {
        if let Ok((count, ordered)) = ractor_grpc::call(
            &consumer,
            MyBasicMessageType::Stats,
            Some(Duration::from_secs(args.drain_secs)),
        )
        .await
        {
            (received, in_order) = (count, ordered);
            if received >= sent {
                break;
            }
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
