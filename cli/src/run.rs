//! `run`: one node, until SIGINT or SIGTERM.

use std::{error::Error, pin::Pin};

use ractor::Actor;
use ractor_grpc::{
    DisconnectReason, NodeEventSubscription, NodeServer, SessionInfo, TargetInfo, TargetState,
};

use crate::{demo::DemoActors, settings::RunPlan};

/// Prints session events in plain words, each line starting `[NAME]`.
struct Printer(String);

fn peer(s: &SessionInfo) -> &str {
    s.peer_name.as_deref().unwrap_or("an unnamed peer")
}

impl NodeEventSubscription for Printer {
    fn session_authenticated(&self, s: &SessionInfo) {
        println!("[{}] authenticated with {}", self.0, peer(s));
    }
    fn session_ready(&self, s: &SessionInfo) {
        println!("[{}] ready with {} ({:?})", self.0, peer(s), s.direction);
    }
    fn session_disconnected(&self, s: &SessionInfo, reason: &DisconnectReason) {
        println!("[{}] disconnected from {}: {reason}", self.0, peer(s));
    }
    fn reconnecting(&self, t: &TargetInfo) {
        if let TargetState::Waiting { retry_in } = t.state {
            println!(
                "[{}] will dial {} again in {} ms (failure {}: {})",
                self.0,
                t.addr,
                retry_in.as_millis(),
                t.failures,
                t.last_error.as_deref().unwrap_or("?")
            );
        }
    }
    fn reconnect_abandoned(&self, t: &TargetInfo) {
        println!(
            "[{}] gave up on {}: {}",
            self.0,
            t.addr,
            t.last_error.as_deref().unwrap_or("?")
        );
    }
}

/// Resolves on SIGINT or SIGTERM. It listens from the moment it is made
/// (on Unix), so a signal while the node starts or dials is kept for later
/// instead of killing the process before it stops cleanly.
fn stop_signal() -> Pin<Box<dyn Future<Output = ()> + Send>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            return Box::pin(async move {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            });
        }
    }
    Box::pin(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

/// Runs the node `plan` describes until SIGINT or SIGTERM.
///
/// Prints `[NAME] listening on ADDR` first, then the lines of `announce`
/// (a caller that started actors of its own says so), then one line per
/// session event; `[NAME] stopping` and `[NAME] stopped` at the end.
///
/// # Errors
/// The metrics address or the listen address cannot be bound, a setting is
/// out of range (the library's check), or the demo actors cannot start.
pub async fn run(plan: RunPlan, announce: &[String]) -> Result<(), Box<dyn Error>> {
    let name = plan.config.name().to_owned();
    let stop = stop_signal();
    // Before the node starts, so its first session is counted too.
    if let Some(addr) = plan.metrics_addr {
        metrics_exporter_prometheus::PrometheusBuilder::new()
            .with_http_listener(addr)
            .install()
            .map_err(|e| format!("serving metrics on {addr}: {e}"))?;
    }
    let demo = if plan.demo_actors {
        Some(DemoActors::start(&format!("[{name}]"), "").await?)
    } else {
        None
    };
    let (node, handle) = Actor::spawn(None, NodeServer::new(plan.config), ())
        .await
        .map_err(|e| format!("node {name} did not start: {e}"))?;
    ractor_grpc::subscribe(&node, "printer", Printer(name.clone()))?;
    let info = ractor_grpc::node_info(&node).await?;
    println!("[{name}] listening on {}", info.listen_addr);
    if let Some(addr) = plan.metrics_addr {
        println!("[{name}] metrics on http://{addr}/metrics");
    }
    for line in announce {
        println!("{line}");
    }
    if demo.is_some() {
        println!("[{name}] started demo actors pong and kv in pg groups pong and kv");
    }

    for addr in &plan.connect {
        if plan.reconnect {
            ractor_grpc::keep_connected(&node, addr.clone()).await?;
            println!("[{name}] keeping {addr} connected");
        } else {
            match ractor_grpc::connect(&node, addr.clone()).await {
                Ok(s) => println!("[{name}] connected to {} at {addr}", peer(&s)),
                Err(e) => println!("[{name}] could not connect to {addr}: {e}"),
            }
        }
    }

    stop.await;
    println!("[{name}] stopping");
    node.stop(None);
    handle.await?;
    if let Some(demo) = demo {
        demo.stop();
    }
    println!("[{name}] stopped");
    Ok(())
}
