//! The functions users call on a running [`NodeServer`](crate::NodeServer).

use ractor::ActorRef;
use tonic::service::Routes;

use super::{
    connect::ConnectError,
    events::NodeEventSubscription,
    info::{NodeInfo, SessionInfo},
    introspect::{ActorDescription, ActorTarget, GroupInfo, LocalActorInfo},
    messages::NodeServerMessage,
    redial::TargetInfo,
};
use crate::{
    reply::{NodeStopped, ask},
    transport::TlsConfig,
};

/// Dials the node at `addr` (`host:port`) and waits until the session is
/// authenticated and the first sync is done.
///
/// If the two nodes dial each other at the same moment, only one session
/// survives; both calls still return `Ok` with that session.
///
/// # Errors
/// [`ConnectError`] says why: unreachable, bad cookie, version mismatch,
/// timeout, self-connection, already connected, or another refusal.
///
/// # Examples
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use ractor::Actor;
/// use ractor_grpc::{NodeConfig, NodeServer};
///
/// let (a, ha) = Actor::spawn(None, NodeServer::new(NodeConfig::new("a", "cookie")), ()).await?;
/// let (b, hb) = Actor::spawn(None, NodeServer::new(NodeConfig::new("b", "cookie")), ()).await?;
/// let b_addr = ractor_grpc::node_info(&b).await?.listen_addr;
///
/// let session = ractor_grpc::connect(&a, b_addr.to_string()).await?;
/// assert_eq!(session.peer_name.as_deref(), Some("b"));
/// # a.stop(None); b.stop(None); ha.await?; hb.await?;
/// # Ok(())
/// # }
/// ```
pub async fn connect(
    node: &ActorRef<NodeServerMessage>,
    addr: impl Into<String>,
) -> Result<SessionInfo, ConnectError> {
    dial(node, addr.into(), None, true).await
}

/// [`connect`] over TLS with these settings instead of the node's own (as
/// `ractor_cluster::client_connect_enc` does): for a node that serves
/// plaintext but must reach a TLS peer, or to present another certificate.
/// A node configured [`with_tls`](crate::NodeConfig::with_tls) dials with
/// TLS already; it needs no `_enc` call.
///
/// # Errors
/// As [`connect`]; a failed TLS handshake (untrusted, expired or wrong-name
/// certificate, a client certificate the peer requires, a plaintext peer)
/// is [`ConnectError::Tls`].
pub async fn connect_enc(
    node: &ActorRef<NodeServerMessage>,
    addr: impl Into<String>,
    tls: TlsConfig,
) -> Result<SessionInfo, ConnectError> {
    dial(node, addr.into(), Some(tls), true).await
}

/// [`client_connect`] over TLS with these settings instead of the node's
/// own; see [`connect_enc`].
///
/// # Errors
/// As [`client_connect`], and [`ConnectError::Tls`].
pub async fn client_connect_enc(
    node: &ActorRef<NodeServerMessage>,
    addr: impl Into<String>,
    tls: TlsConfig,
) -> Result<(), ConnectError> {
    dial(node, addr.into(), Some(tls), false).await.map(|_| ())
}

async fn dial(
    node: &ActorRef<NodeServerMessage>,
    addr: String,
    tls: Option<TlsConfig>,
    until_ready: bool,
) -> Result<SessionInfo, ConnectError> {
    ask(node, |reply| NodeServerMessage::Connect {
        addr,
        until_ready,
        tls,
        reply,
    })
    .await
    .unwrap_or(Err(ConnectError::NodeStopped))
}

/// Dials the node at `addr` and returns once the Session stream is open, as
/// `ractor_cluster::client_connect` does; the handshake goes on in the
/// background and its outcome arrives as [events](NodeEventSubscription).
/// Prefer [`connect`], which waits for the handshake.
///
/// # Errors
/// [`ConnectError::Unreachable`] or [`ConnectError::InvalidAddress`] when no
/// stream could be opened.
pub async fn client_connect(
    node: &ActorRef<NodeServerMessage>,
    addr: impl Into<String>,
) -> Result<(), ConnectError> {
    dial(node, addr.into(), None, false).await.map(|_| ())
}

/// Keeps a session with `target` from now on: dials it now, and again
/// whenever its session is lost or a dial fails, with the backoff of
/// [`ReconnectConfig`](crate::ReconnectConfig), until a permanent refusal
/// (bad cookie, version mismatch, the node itself). Returns at once; watch
/// [events](NodeEventSubscription) or [`list_targets`] for progress.
///
/// `target` is `host:port`. When `host` is a DNS name, every address it
/// resolves to is kept connected, and the name is resolved again every
/// `resolve_interval`, so nodes behind one name (a Kubernetes headless
/// service) are found as they come and go. With TLS, their certificates
/// must then carry the name (or the one [`TlsConfig::with_server_name`]
/// sets).
///
/// # Errors
/// [`ConnectError::InvalidAddress`] when `target` is not `host:port`;
/// [`ConnectError::NodeStopped`] if the node server is not running.
pub async fn keep_connected(
    node: &ActorRef<NodeServerMessage>,
    target: impl Into<String>,
) -> Result<(), ConnectError> {
    let target = target.into();
    ask(node, |reply| NodeServerMessage::KeepConnected {
        target,
        reply,
    })
    .await
    .unwrap_or(Err(ConnectError::NodeStopped))
}

/// The addresses this node keeps sessions with and where each stands.
///
/// # Errors
/// [`NodeStopped`] if the node server is not running.
pub async fn list_targets(
    node: &ActorRef<NodeServerMessage>,
) -> Result<Vec<TargetInfo>, NodeStopped> {
    ask(node, NodeServerMessage::ListTargets).await
}

/// The node's gRPC services — `ClusterNode`, server reflection (v1 and
/// v1alpha) and health — to serve on a server of the application's: add
/// them to a tonic `Server` with `add_routes`, or turn them into an axum
/// router with `into_axum_router`, next to the application's own services
/// and under its own tower layers. Meant for a node started with
/// [`NodeServer::mounted`](crate::NodeServer::mounted); a node that serves
/// itself gives them too, to serve on a second address.
///
/// # Errors
/// [`NodeStopped`] if the node server is not running.
///
/// # Examples
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use ractor::Actor;
/// use ractor_grpc::{NodeConfig, NodeServer};
/// use tokio_stream::wrappers::TcpListenerStream;
///
/// // The application's listener, and the node told where it is.
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let config = NodeConfig::new("app", "cookie").with_listen_addr(listener.local_addr()?);
/// let (node, handle) = Actor::spawn(None, NodeServer::mounted(config), ()).await?;
///
/// let services = ractor_grpc::services(&node).await?;
/// let server = tonic::transport::Server::builder()
///     .add_routes(services) // and the application's own services
///     .serve_with_incoming(TcpListenerStream::new(listener));
/// tokio::spawn(server);
///
/// // Another node dials the application's address.
/// let (peer, peer_handle) = Actor::spawn(None, NodeServer::new(NodeConfig::new("peer", "cookie")), ()).await?;
/// let session = ractor_grpc::connect(&peer, ractor_grpc::node_info(&node).await?.listen_addr.to_string()).await?;
/// assert_eq!(session.peer_name.as_deref(), Some("app"));
/// # peer.stop(None); node.stop(None); peer_handle.await?; handle.await?;
/// # Ok(())
/// # }
/// ```
pub async fn services(node: &ActorRef<NodeServerMessage>) -> Result<Routes, NodeStopped> {
    ask(node, NodeServerMessage::GetServices).await
}

/// The node's identity and state, including the bound listen address.
///
/// # Errors
/// [`NodeStopped`] if the node server is not running.
pub async fn node_info(node: &ActorRef<NodeServerMessage>) -> Result<NodeInfo, NodeStopped> {
    ask(node, NodeServerMessage::GetInfo).await
}

/// Every session of the node, in any state, ordered by id.
///
/// # Errors
/// [`NodeStopped`] if the node server is not running.
pub async fn list_sessions(
    node: &ActorRef<NodeServerMessage>,
) -> Result<Vec<SessionInfo>, NodeStopped> {
    ask(node, NodeServerMessage::ListSessions).await
}

/// Registers `subscription` under `id` (replacing one with the same id).
/// Events for sessions that change after this call reach it.
///
/// # Errors
/// [`NodeStopped`] if the node server is not running.
pub fn subscribe(
    node: &ActorRef<NodeServerMessage>,
    id: impl Into<String>,
    subscription: impl NodeEventSubscription,
) -> Result<(), NodeStopped> {
    node.cast(NodeServerMessage::Subscribe {
        id: id.into(),
        subscription: Box::new(subscription),
    })
    .map_err(|_| NodeStopped)
}

/// Removes the subscription registered under `id`.
///
/// # Errors
/// [`NodeStopped`] if the node server is not running.
pub fn unsubscribe(
    node: &ActorRef<NodeServerMessage>,
    id: impl Into<String>,
) -> Result<(), NodeStopped> {
    node.cast(NodeServerMessage::Unsubscribe(id.into()))
        .map_err(|_| NodeStopped)
}

/// Ends this node's session with the node named `peer`, as an operator
/// would: both sides see it end with cause `Stopped`, the peer's proxies stop
/// and its calls in flight fail. Returns whether there was a session.
///
/// # Errors
/// [`NodeStopped`] if the node server is not running.
pub async fn disconnect(
    node: &ActorRef<NodeServerMessage>,
    peer: &str,
) -> Result<bool, NodeStopped> {
    let peer = peer.to_owned();
    ask(node, |reply| NodeServerMessage::Disconnect { peer, reply }).await
}

/// The advertised local actor `target` names, with its message type's
/// description (`None` inside when the type does not describe itself).
/// `Ok(None)` when this node advertises no such actor.
///
/// # Errors
/// [`NodeStopped`] if the node server is not running.
pub async fn describe_actor(
    node: &ActorRef<NodeServerMessage>,
    target: ActorTarget,
) -> Result<Option<ActorDescription>, NodeStopped> {
    ask(node, |reply| NodeServerMessage::DescribeActor {
        target,
        reply,
    })
    .await
}

/// The local actors this node advertises to its peers, by pid.
///
/// # Errors
/// [`NodeStopped`] if the node server is not running.
pub async fn list_actors(
    node: &ActorRef<NodeServerMessage>,
) -> Result<Vec<LocalActorInfo>, NodeStopped> {
    ask(node, NodeServerMessage::ListActors).await
}

/// Every pg group with members this node knows (its own actors and its
/// peers' proxies), each member with its node.
///
/// # Errors
/// [`NodeStopped`] if the node server is not running.
pub async fn list_groups(
    node: &ActorRef<NodeServerMessage>,
) -> Result<Vec<GroupInfo>, NodeStopped> {
    ask(node, NodeServerMessage::ListGroups).await
}
