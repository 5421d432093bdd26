//! Setup shared by the examples: nodes on loopback that narrate their sessions.

// Each example uses a different part of this module; `pub` is for the examples.
#![allow(dead_code, unreachable_pub)]

use ractor::{Actor, ActorRef};
use ractor_grpc::{
    DisconnectReason, NodeConfig, NodeEventSubscription, NodeServer, NodeServerMessage, SessionInfo,
};
use tokio::{sync::mpsc, task::JoinHandle};

/// Prints a node's session events as `[node] ...` lines, and passes on the
/// name of each peer that disconnects after being ready.
pub struct Narrator {
    node: String,
    disconnects: mpsc::UnboundedSender<String>,
}

fn peer(s: &SessionInfo) -> &str {
    s.peer_name.as_deref().unwrap_or("?")
}

impl NodeEventSubscription for Narrator {
    fn session_ready(&self, s: &SessionInfo) {
        println!(
            "[{}] connected to {} (cookie proofs match, actors synced)",
            self.node,
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
            self.node,
            peer(s),
            reason.detail
        );
        let _ = self.disconnects.send(peer(s).to_owned());
    }
}

/// A running node.
pub struct Node {
    pub name: String,
    pub actor: ActorRef<NodeServerMessage>,
    pub addr: String,
    pub handle: JoinHandle<()>,
    /// Peers that disconnected after being ready, by name.
    pub disconnects: mpsc::UnboundedReceiver<String>,
}

/// Starts a node on 127.0.0.1 (a free port) that narrates its sessions.
pub async fn start(
    name: &str,
    config: impl FnOnce(NodeConfig) -> NodeConfig,
) -> Result<Node, Box<dyn std::error::Error>> {
    let config =
        config(NodeConfig::new(name, "example-cookie").with_listen_addr("127.0.0.1:0".parse()?));
    let (actor, handle) = Actor::spawn(None, NodeServer::new(config), ()).await?;
    let (tx, disconnects) = mpsc::unbounded_channel();
    let narrator = Narrator {
        node: name.to_owned(),
        disconnects: tx,
    };
    ractor_grpc::subscribe(&actor, "narrator", narrator)?;
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
        disconnects,
    })
}

impl Node {
    /// Waits (at most 10 s) until `peer` has disconnected from this node.
    pub async fn disconnected_from(
        &mut self,
        peer: &str,
    ) -> Result<(), Box<dyn std::error::Error>> {
        let wait = async {
            while let Some(name) = self.disconnects.recv().await {
                if name == peer {
                    return Ok(());
                }
            }
            Err("the node stopped first")
        };
        Ok(tokio::time::timeout(std::time::Duration::from_secs(10), wait).await??)
    }

    /// Prints this node's sessions on one line.
    pub async fn print_peers(&self) -> Result<(), Box<dyn std::error::Error>> {
        let sessions = ractor_grpc::list_sessions(&self.actor).await?;
        let peers: Vec<String> = sessions
            .iter()
            .map(|s| format!("{} ({:?}, {:?})", peer(s), s.direction, s.state))
            .collect();
        println!("[{}] peers: {}", self.name, peers.join(", "));
        Ok(())
    }

    /// Stops the node and waits for it.
    pub async fn stop(self) -> Result<(), Box<dyn std::error::Error>> {
        println!("[{}] stopping", self.name);
        self.actor.stop(None);
        self.handle.await?;
        Ok(())
    }
}
