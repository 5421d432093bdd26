//! Distributed actors for [`ractor`] over gRPC.
//!
//! Every link between two nodes is one bidirectional gRPC stream
//! (`ractor_grpc.v1.ClusterNode/Session`), so a live node can be inspected with
//! `grpcurl` and spoken to from any language that reads `proto/`.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use ractor::Actor;
//! use ractor_grpc::{NodeConfig, NodeServer};
//!
//! // Two nodes on loopback that share a cookie.
//! let (a, a_handle) = Actor::spawn(None, NodeServer::new(NodeConfig::new("node-a", "cookie")), ()).await?;
//! let (b, b_handle) = Actor::spawn(None, NodeServer::new(NodeConfig::new("node-b", "cookie")), ()).await?;
//!
//! // `connect` returns once both sides proved the cookie and synced.
//! let b_addr = ractor_grpc::node_info(&b).await?.listen_addr;
//! let session = ractor_grpc::connect(&a, b_addr.to_string()).await?;
//! assert_eq!(session.peer_name.as_deref(), Some("node-b"));
//!
//! // Stopping a node ends its sessions; the peer sees the disconnect.
//! a.stop(None);
//! b.stop(None);
//! a_handle.await?;
//! b_handle.await?;
//! # Ok(())
//! # }
//! ```

mod auth;
mod node;
pub mod pb;
#[doc(hidden)]
pub mod __private {
    //! Support for generated code; not public API.
    pub use crate::private::*;
}
mod private;
mod reason;
pub mod registry;
mod remote_actor;
mod service;
pub mod wire;

pub use auth::Cookie;
pub use node::{
    AdvertiseFilter, ConnectError, ConnectionMode, DEFAULT_HANDSHAKE_TIMEOUT,
    DEFAULT_MAX_MESSAGE_SIZE, Direction, GroupInfo, GroupMember, HeartbeatConfig, LocalActorInfo,
    NodeConfig, NodeEventSubscription, NodeInfo, NodeServer, NodeServerMessage, NodeServerState,
    NodeStopped, SessionCounters, SessionId, SessionInfo, SessionState, client_connect, connect,
    list_actors, list_groups, list_sessions, node_info, subscribe, unsubscribe,
};
pub use ractor_grpc_derive::{RactorClusterMessage, RactorMessage};
pub use reason::{DisconnectCause, DisconnectReason};
pub use remote_actor::{CallError, call};
pub use wire::{Wire, WireError};
