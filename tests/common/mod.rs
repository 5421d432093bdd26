//! Shared setup for the in-process tests: nodes on loopback and an event log.

#![allow(dead_code, unreachable_pub)]

pub mod actors;
pub mod peer;
pub mod raw;
pub mod spans;
pub mod unary;

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use ractor::{Actor, ActorRef};
use ractor_grpc::{
    ConnectionMode, DisconnectReason, NodeConfig, NodeEventSubscription, NodeServer,
    NodeServerMessage, SessionInfo, TargetInfo,
};
use tokio::{sync::mpsc, task::JoinHandle};

/// A running node for a test.
pub struct TestNode {
    pub name: String,
    pub actor: ActorRef<NodeServerMessage>,
    pub addr: String,
    pub handle: Option<JoinHandle<()>>,
    pub events: mpsc::UnboundedReceiver<Event>,
}

/// One session event, flattened for assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Opened(u64),
    Authenticated(u64, String),
    Ready(u64, String),
    Disconnected(u64, Option<String>, DisconnectReason),
    /// A kept address will be dialled again: its address and failures.
    Reconnecting(String, u32),
    /// A kept address refused this node for good: address and why.
    GaveUp(String, String),
}

struct Recorder(mpsc::UnboundedSender<Event>);

impl NodeEventSubscription for Recorder {
    fn session_opened(&self, s: &SessionInfo) {
        let _ = self.0.send(Event::Opened(s.id));
    }
    fn session_authenticated(&self, s: &SessionInfo) {
        let _ = self.0.send(Event::Authenticated(
            s.id,
            s.peer_name.clone().unwrap_or_default(),
        ));
    }
    fn session_ready(&self, s: &SessionInfo) {
        let _ = self
            .0
            .send(Event::Ready(s.id, s.peer_name.clone().unwrap_or_default()));
    }
    fn session_disconnected(&self, s: &SessionInfo, reason: &DisconnectReason) {
        let _ = self.0.send(Event::Disconnected(
            s.id,
            s.peer_name.clone(),
            reason.clone(),
        ));
    }
    fn reconnecting(&self, t: &TargetInfo) {
        let _ = self.0.send(Event::Reconnecting(t.addr.clone(), t.failures));
    }
    fn reconnect_abandoned(&self, t: &TargetInfo) {
        let _ = self.0.send(Event::GaveUp(
            t.addr.clone(),
            t.last_error.clone().unwrap_or_default(),
        ));
    }
}

pub const COOKIE: &str = "test-cookie";

pub async fn start(name: &str) -> TestNode {
    start_with(NodeConfig::new(name, COOKIE)).await
}

pub async fn start_with(config: NodeConfig) -> TestNode {
    let name = config.name().to_owned();
    let (actor, handle) = Actor::spawn(None, NodeServer::new(config), ())
        .await
        .expect("node starts");
    let (tx, events) = mpsc::unbounded_channel();
    ractor_grpc::subscribe(&actor, "test", Recorder(tx)).expect("subscribe");
    let addr = ractor_grpc::node_info(&actor)
        .await
        .expect("node info")
        .listen_addr
        .to_string();
    TestNode {
        name,
        actor,
        addr,
        handle: Some(handle),
        events,
    }
}

impl TestNode {
    /// Stops the node and waits for it.
    pub async fn stop(&mut self) {
        self.actor.stop(None);
        if let Some(h) = self.handle.take() {
            tokio::time::timeout(Duration::from_secs(10), h)
                .await
                .expect("node stops in time")
                .expect("node task");
        }
    }

    /// The next event, waiting at most `within`.
    pub async fn next_event(&mut self, within: Duration) -> Option<Event> {
        tokio::time::timeout(within, self.events.recv())
            .await
            .ok()
            .flatten()
    }

    /// Waits (bounded) for an event matching `pred`, returning the events seen
    /// before it too.
    pub async fn wait_for(
        &mut self,
        within: Duration,
        pred: impl Fn(&Event) -> bool,
    ) -> Vec<Event> {
        let deadline = tokio::time::Instant::now() + within;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_event(left).await {
                Some(e) => {
                    let hit = pred(&e);
                    seen.push(e);
                    if hit {
                        return seen;
                    }
                }
                None => panic!(
                    "{}: no matching event within {within:?}; saw {seen:?}",
                    self.name
                ),
            }
        }
    }

    pub async fn sessions(&self) -> Vec<SessionInfo> {
        ractor_grpc::list_sessions(&self.actor)
            .await
            .expect("sessions")
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        self.actor.stop(None);
    }
}

/// Polls `check` every 20 ms until it holds, at most `within`.
pub async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn shared<T>(v: T) -> Arc<Mutex<T>> {
    Arc::new(Mutex::new(v))
}

/// How long tests wait for an event or a condition.
pub const WAIT: Duration = Duration::from_secs(10);
/// The timeout of calls that are expected to succeed.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(20);

/// `config` advertising only actors named `<prefix>-...`: ractor's
/// registries are process-wide, so each test node gets actors of its own.
pub fn advertising(config: NodeConfig, prefix: &str) -> NodeConfig {
    let prefix = format!("{prefix}-");
    config
        .with_advertise_filter(move |cell| cell.get_name().is_some_and(|n| n.starts_with(&prefix)))
}

/// A node that advertises only actors named `<prefix>-...`.
pub async fn node(name: &str, prefix: &str, mode: ConnectionMode) -> TestNode {
    start_with(advertising(
        NodeConfig::new(name, COOKIE).with_mode(mode),
        prefix,
    ))
    .await
}

/// node-a (advertising actors named `a-...`) and node-b (`b-...`), node-b
/// connected to node-a.
pub async fn pair() -> (TestNode, TestNode) {
    let a = node("node-a", "a", ConnectionMode::Isolated).await;
    let b = node("node-b", "b", ConnectionMode::Isolated).await;
    ractor_grpc::connect(&b.actor, a.addr.clone())
        .await
        .expect("connect");
    (a, b)
}

/// The proxy on `node` of the actor `name` on `peer`, waiting for it.
pub async fn proxy<M: ractor::Message>(node: &TestNode, peer: &str, name: &str) -> ActorRef<M> {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(cell) = ractor_grpc::registry::where_is(&node.actor, peer, name)
            .await
            .expect("lookup")
        {
            assert!(!cell.get_id().is_local(), "a proxy has a remote id");
            return ActorRef::from(cell);
        }
        assert!(
            Instant::now() < deadline,
            "{name} on {peer} never appeared on {}",
            node.name
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A [`BasicActor`](actors::BasicActor) on node-a, node-b connected to
/// node-a, and node-b's proxy of the actor: `(actor, probe, a, b, proxy)`.
pub type RemoteBasic = (
    ActorRef<actors::MyBasicMessageType>,
    actors::Probe,
    TestNode,
    TestNode,
    ActorRef<actors::MyBasicMessageType>,
);

/// Spawns a `BasicActor` named `name` (it must start with `a-`, so node-a
/// advertises it), starts the [`pair`] and finds the proxy on node-b.
pub async fn remote_basic(name: &str) -> RemoteBasic {
    let (actor, probe) = actors::spawn_basic(name).await;
    let (a, b) = pair().await;
    let remote = proxy(&b, "node-a", name).await;
    (actor, probe, a, b, remote)
}

/// Whether every node has a ready session with every other.
pub async fn full_mesh(nodes: &[&TestNode]) -> bool {
    for n in nodes {
        let ready = n
            .sessions()
            .await
            .iter()
            .filter(|s| s.state == ractor_grpc::SessionState::Ready)
            .count();
        if ready != nodes.len() - 1 {
            return false;
        }
    }
    true
}
