//! Three nodes in one process on loopback: they connect, prove a shared
//! cookie, list each other, and see one of them leave.

use std::time::Duration;

use ractor::{Actor, ActorRef};
use ractor_grpc::{
    DisconnectReason, NodeConfig, NodeEventSubscription, NodeServer, NodeServerMessage, SessionInfo,
};
use tokio::sync::mpsc;

/// Prints each node's session events as `[node] ...` lines, and counts
/// disconnects so the demo can wait for them.
struct Narrator {
    node: String,
    disconnects: mpsc::UnboundedSender<()>,
}

fn peer(s: &SessionInfo) -> &str {
    s.peer_name.as_deref().unwrap_or("?")
}

impl NodeEventSubscription for Narrator {
    fn session_authenticated(&self, s: &SessionInfo) {
        println!(
            "[{}] authenticated with {} (cookie proofs match)",
            self.node,
            peer(s)
        );
    }
    fn session_ready(&self, s: &SessionInfo) {
        println!("[{}] ready with {}", self.node, peer(s));
    }
    fn session_disconnected(&self, s: &SessionInfo, reason: &DisconnectReason) {
        println!(
            "[{}] disconnected from {}: {}",
            self.node,
            peer(s),
            reason.detail
        );
        let _ = self.disconnects.send(());
    }
}

async fn start(
    name: &str,
    disconnects: &mpsc::UnboundedSender<()>,
) -> Result<
    (
        ActorRef<NodeServerMessage>,
        tokio::task::JoinHandle<()>,
        String,
    ),
    Box<dyn std::error::Error>,
> {
    let config = NodeConfig::new(name, "demo-cookie").with_listen_addr("127.0.0.1:0".parse()?);
    let (node, handle) = Actor::spawn(None, NodeServer::new(config), ()).await?;
    ractor_grpc::subscribe(
        &node,
        "narrator",
        Narrator {
            node: name.to_owned(),
            disconnects: disconnects.clone(),
        },
    )?;
    let addr = ractor_grpc::node_info(&node).await?.listen_addr.to_string();
    println!("[{name}] listening on {addr}");
    Ok((node, handle, addr))
}

async fn print_peers(
    name: &str,
    node: &ActorRef<NodeServerMessage>,
) -> Result<(), Box<dyn std::error::Error>> {
    let sessions = ractor_grpc::list_sessions(node).await?;
    let peers: Vec<String> = sessions
        .iter()
        .map(|s| format!("{} ({:?}, {:?})", peer(s), s.direction, s.state))
        .collect();
    println!("[{name}] peers: {}", peers.join(", "));
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (tx, mut disconnects) = mpsc::unbounded_channel();
    let (a, a_handle, a_addr) = start("node-a", &tx).await?;
    let (b, b_handle, b_addr) = start("node-b", &tx).await?;
    let (c, c_handle, _) = start("node-c", &tx).await?;

    for (from, node, to, addr) in [
        ("node-a", &a, "node-b", &b_addr),
        ("node-c", &c, "node-a", &a_addr),
        ("node-c", &c, "node-b", &b_addr),
    ] {
        println!("[{from}] connecting to {to} at {addr}");
        let session = ractor_grpc::connect(node, addr.clone()).await?;
        println!(
            "[{from}] connected to {} (session {})",
            peer(&session),
            session.id
        );
    }

    for (name, node) in [("node-a", &a), ("node-b", &b), ("node-c", &c)] {
        print_peers(name, node).await?;
    }

    println!("[node-b] stopping");
    b.stop(None);
    b_handle.await?;
    // node-b's own two sessions plus one on node-a and one on node-c.
    for _ in 0..4 {
        tokio::time::timeout(Duration::from_secs(10), disconnects.recv())
            .await?
            .ok_or("event channel closed")?;
    }
    print_peers("node-a", &a).await?;
    print_peers("node-c", &c).await?;

    for node in [&a, &c] {
        node.stop(None);
    }
    a_handle.await?;
    c_handle.await?;
    println!("[demo] all nodes stopped; done");
    Ok(())
}
