//! Load for the reliability scenarios: a node that keeps peers connected,
//! and for each target peer casts numbered `Cast1`s to its `workers@PEER`
//! actor and calls it, until a stop file appears; then it asks each target
//! how many casts arrived and whether in order, and prints a summary.
//!
//! ```text
//! loadgen --name load --cookie C --connect ADDR... --target PEER... --stop-file PATH
//! ```
//!
//! Prints `[load] listening on ADDR` first, session events, `[load] found
//! workers@PEER (pid N)` each time it (re)finds a target's actor, and at
//! the end one `loadgen-summary {json}` line per target (see [`Summary`])
//! and `[load] done`; it stays a node of the cluster until SIGINT.
//! A target that restarts is a new actor: its casts count from the new one.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use clap::Parser;
use integration::MyBasicMessageType;
use ractor::{Actor, ActorRef};
use ractor_grpc::{
    CallError, ConnectionMode, DisconnectReason, HeartbeatConfig, NodeConfig,
    NodeEventSubscription, NodeServer, NodeServerMessage, ReconnectConfig, SessionInfo,
};
use serde::Serialize;
use tokio::sync::Mutex;

#[derive(Debug, Parser)]
struct Args {
    /// This node's name.
    #[arg(long)]
    name: String,
    #[arg(long, env = "RACTOR_GRPC_COOKIE")]
    cookie: String,
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Peers to keep connected (repeatable).
    #[arg(long = "connect")]
    connect: Vec<String>,
    /// Dial the peers of peers.
    #[arg(long)]
    transitive: bool,
    /// Peers whose `workers@PEER` actor gets the load (repeatable).
    #[arg(long = "target", required = true)]
    targets: Vec<String>,
    /// Stop sending once this file exists.
    #[arg(long)]
    stop_file: PathBuf,
    /// Each call's timeout, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    call_timeout_ms: u64,
    /// Casts sent between two calls, per target.
    #[arg(long, default_value_t = 20)]
    casts_per_call: u64,
    /// Every this many ms, end the session with the next target (in turn)
    /// and dial it again: the i-th `--target` is the peer at the i-th
    /// `--connect`. 0: never.
    #[arg(long, default_value_t = 0)]
    reconnect_every_ms: u64,
    #[arg(long, default_value_t = 250)]
    heartbeat_interval_ms: u64,
    #[arg(long, default_value_t = 1000)]
    heartbeat_timeout_ms: u64,
}

/// What happened to one target, printed as `loadgen-summary {json}`.
#[derive(Debug, Default, Serialize)]
struct Summary {
    target: String,
    /// Casts handed over, per incarnation of the target's actor, in order
    /// (a restart starts a new entry).
    casts_sent: Vec<u64>,
    /// Calls answered with a reply.
    calls_ok: u64,
    /// Calls that ended with an error, by kind.
    calls_failed: BTreeMap<String, u64>,
    /// The longest any call took, in milliseconds.
    max_call_ms: u64,
    /// The last actor's `Stats` after the stop: casts it got, and whether
    /// their numbers came in order (no gap, no repeat); `None` if it could
    /// not be asked.
    final_stats: Option<(u64, bool)>,
    /// How many times the actor was (re)found.
    found: u64,
}

struct Printer(String);

impl NodeEventSubscription for Printer {
    fn session_ready(&self, s: &SessionInfo) {
        println!(
            "[{}] ready with {}",
            self.0,
            s.peer_name.as_deref().unwrap_or("?")
        );
    }
    fn session_disconnected(&self, s: &SessionInfo, reason: &DisconnectReason) {
        println!(
            "[{}] disconnected from {}: {reason}",
            self.0,
            s.peer_name.as_deref().unwrap_or("?")
        );
    }
}

/// The target's actor, as this node sees it now.
async fn find(
    node: &ActorRef<NodeServerMessage>,
    target: &str,
) -> Option<ActorRef<MyBasicMessageType>> {
    let cell = ractor_grpc::registry::where_is(node, target, &format!("workers@{target}"))
        .await
        .ok()
        .flatten()?;
    Some(ActorRef::from(cell))
}

/// Sends to one target until `stop` says so.
async fn drive(
    me: String,
    node: ActorRef<NodeServerMessage>,
    target: String,
    args: Arc<Args>,
    summary: Arc<Mutex<Summary>>,
) {
    let timeout = Duration::from_millis(args.call_timeout_ms);
    let mut current: Option<ActorRef<MyBasicMessageType>> = None;
    let mut seq = 0u64;
    while !args.stop_file.exists() {
        let Some(actor) = current.clone() else {
            match find(&node, &target).await {
                Some(actor) => {
                    println!(
                        "[{me}] found workers@{target} (pid {})",
                        actor.get_id().pid()
                    );
                    let mut s = summary.lock().await;
                    s.found += 1;
                    s.casts_sent.push(0);
                    current = Some(actor);
                }
                None => tokio::time::sleep(Duration::from_millis(20)).await,
            }
            continue;
        };
        for _ in 0..args.casts_per_call {
            if actor
                .cast(MyBasicMessageType::Cast1(me.clone(), seq))
                .is_err()
            {
                // The proxy stopped: the session or the actor is gone.
                current = None;
                break;
            }
            seq += 1;
            if let Some(n) = summary.lock().await.casts_sent.last_mut() {
                *n += 1;
            }
        }
        let started = Instant::now();
        let outcome = ractor_grpc::call(&actor, MyBasicMessageType::Stats, Some(timeout)).await;
        let took = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut s = summary.lock().await;
        s.max_call_ms = s.max_call_ms.max(took);
        match outcome {
            Ok(_) => s.calls_ok += 1,
            Err(e) => {
                *s.calls_failed.entry(format!("{:?}", e.kind())).or_default() += 1;
                if matches!(e, CallError::Disconnected(_) | CallError::NotRunning) {
                    current = None;
                }
            }
        }
        drop(s);
        // A short pause keeps the rate steady without flooding the mailbox.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // The last actor's own count, asked once its session has delivered
    // everything before it (a call after the casts on one session).
    let last = match current {
        Some(actor) => Some(actor),
        None => find(&node, &target).await,
    };
    if let Some(actor) = last {
        let stats = ractor_grpc::call(&actor, MyBasicMessageType::Stats, Some(timeout * 5)).await;
        summary.lock().await.final_stats = stats.ok();
    }
}

/// Ends the session with each target in turn and dials it again, every
/// `--reconnect-every-ms`, until the stop file appears.
async fn reconnect(node: ActorRef<NodeServerMessage>, args: Arc<Args>) {
    let every = Duration::from_millis(args.reconnect_every_ms);
    let pairs: Vec<(&String, &String)> = args.targets.iter().zip(&args.connect).collect();
    let mut turn = 0usize;
    loop {
        tokio::time::sleep(every).await;
        if args.stop_file.exists() || pairs.is_empty() {
            return;
        }
        let (target, addr) = pairs[turn % pairs.len()];
        turn += 1;
        println!("[{}] reconnecting {target}", args.name);
        // Disconnecting forgets the target; keeping it connected again
        // dials it at once.
        if ractor_grpc::disconnect(&node, target).await.is_err()
            || ractor_grpc::keep_connected(&node, addr.clone())
                .await
                .is_err()
        {
            return;
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Arc::new(Args::parse());
    let mode = if args.transitive {
        ConnectionMode::Transitive
    } else {
        ConnectionMode::Isolated
    };
    let config = NodeConfig::new(args.name.clone(), args.cookie.clone())
        .with_listen_addr(args.listen)
        .with_mode(mode)
        .with_heartbeat(HeartbeatConfig {
            interval: Duration::from_millis(args.heartbeat_interval_ms),
            timeout: Duration::from_millis(args.heartbeat_timeout_ms),
        })
        .with_reconnect(ReconnectConfig {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(500),
            ..ReconnectConfig::default()
        });
    let (node, handle) = Actor::spawn(None, NodeServer::new(config), ()).await?;
    ractor_grpc::subscribe(&node, "printer", Printer(args.name.clone()))?;
    let info = ractor_grpc::node_info(&node).await?;
    println!("[{}] listening on {}", args.name, info.listen_addr);
    for addr in &args.connect {
        ractor_grpc::keep_connected(&node, addr.clone()).await?;
    }
    let mut drivers = Vec::new();
    let mut summaries = Vec::new();
    for target in &args.targets {
        let summary = Arc::new(Mutex::new(Summary {
            target: target.clone(),
            ..Summary::default()
        }));
        summaries.push(summary.clone());
        drivers.push(tokio::spawn(drive(
            args.name.clone(),
            node.clone(),
            target.clone(),
            args.clone(),
            summary,
        )));
    }
    if args.reconnect_every_ms > 0 {
        tokio::spawn(reconnect(node.clone(), args.clone()));
    }
    for driver in drivers {
        driver.await?;
    }
    for summary in summaries {
        let s = summary.lock().await;
        println!("loadgen-summary {}", serde_json::to_string(&*s)?);
    }
    println!("[{}] done", args.name);
    // Still a node of the cluster (its views count) until told to stop.
    let _ = tokio::signal::ctrl_c().await;
    node.stop(None);
    handle.await?;
    Ok(())
}
