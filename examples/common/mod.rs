//! Setup shared by the examples: nodes on loopback that narrate their sessions.

// Each example uses a different part of this module; `pub` is for the examples.
#![allow(dead_code, unreachable_pub)]

use ractor::{Actor, ActorRef};
use ractor_grpc::{
    DisconnectReason, NodeConfig, NodeEventSubscription, NodeServer, NodeServerMessage, SessionInfo,
};
use tokio::task::JoinHandle;

/// Prints a node's session events as `[node] ...` lines.
pub struct Narrator(pub String);

fn peer(s: &SessionInfo) -> &str {
    s.peer_name.as_deref().unwrap_or("?")
}

impl NodeEventSubscription for Narrator {
    fn session_ready(&self, s: &SessionInfo) {
        println!(
            "[{}] connected to {} (cookie proofs match, actors synced)",
            self.0,
            peer(s)
        );
    }
    fn session_disconnected(&self, s: &SessionInfo, reason: &DisconnectReason) {
        // Sessions that never became ready (the loser of a simultaneous
        // dial, say) are not worth a line.
        if s.state != ractor_grpc::SessionState::Ready {
            return;
        }
        println!(
            "[{}] disconnected from {}: {}",
            self.0,
            peer(s),
            reason.detail
        );
    }
}

/// A running node.
pub struct Node {
    pub name: String,
    pub actor: ActorRef<NodeServerMessage>,
    pub addr: String,
    pub handle: JoinHandle<()>,
}

/// Starts a node on 127.0.0.1 (a free port) that narrates its sessions.
pub async fn start(
    name: &str,
    config: impl FnOnce(NodeConfig) -> NodeConfig,
) -> Result<Node, Box<dyn std::error::Error>> {
    let config =
        config(NodeConfig::new(name, "example-cookie").with_listen_addr("127.0.0.1:0".parse()?));
    let (actor, handle) = Actor::spawn(None, NodeServer::new(config), ()).await?;
    ractor_grpc::subscribe(&actor, "narrator", Narrator(name.to_owned()))?;
    let addr = ractor_grpc::node_info(&actor)
        .await?
        .listen_addr
        .to_string();
    println!("[{name}] listening on {addr}");
    Ok(Node {
        name: name.to_owned(),
        actor,
        addr,
        handle,
    })
}

impl Node {
    /// Stops the node and waits for it.
    pub async fn stop(self) -> Result<(), Box<dyn std::error::Error>> {
        println!("[{}] stopping", self.name);
        self.actor.stop(None);
        self.handle.await?;
        Ok(())
    }
}
