//! Distributed actors for [`ractor`] over gRPC.
//!
//! Every link between two nodes is one bidirectional gRPC stream
//! (`ractor_grpc.v1.ClusterNode/Session`), so a live node can be inspected with
//! `grpcurl` and spoken to from any language that reads `proto/`. A peer's
//! actors appear locally as proxies in the same `ractor::pg` groups, typed
//! with the same message enum, cast and called as if they were local.
//!
//! ```
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//!
//! use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
//! use ractor_grpc::{NodeConfig, NodeServer, RactorClusterMessage};
//!
//! #[derive(RactorClusterMessage)]
//! enum Counter {
//!     Add(u64),
//!     #[rpc]
//!     Get(RpcReplyPort<u64>),
//! }
//!
//! struct CounterActor;
//!
//! impl Actor for CounterActor {
//!     type Msg = Counter;
//!     type State = u64;
//!     type Arguments = ();
//!     async fn pre_start(&self, _: ActorRef<Counter>, (): ()) -> Result<u64, ActorProcessingErr> {
//!         Ok(0)
//!     }
//!     async fn handle(&self, _: ActorRef<Counter>, msg: Counter, total: &mut u64) -> Result<(), ActorProcessingErr> {
//!         match msg {
//!             Counter::Add(n) => *total += n,
//!             Counter::Get(reply) => {
//!                 let _ = reply.send(*total);
//!             }
//!         }
//!         Ok(())
//!     }
//! }
//!
//! // Two nodes on loopback that share a cookie. (Both live in this one
//! // process, so node-a alone offers the counter and node-b offers nothing.)
//! let a_config = NodeConfig::new("node-a", "cookie").with_advertise_filter(|c| c.get_name().as_deref() == Some("counter"));
//! let b_config = NodeConfig::new("node-b", "cookie").with_advertise_filter(|_| false);
//! let (a, a_handle) = Actor::spawn(None, NodeServer::new(a_config), ()).await?;
//! let (b, b_handle) = Actor::spawn(None, NodeServer::new(b_config), ()).await?;
//! let (counter, _) = Actor::spawn(Some("counter".into()), CounterActor, ()).await?;
//! ractor::pg::join("counters".into(), vec![counter.get_cell()]);
//!
//! // `connect` returns once both sides proved the cookie and synced, so
//! // node-a's counter is already in node-b's view of pg group "counters".
//! let a_addr = ractor_grpc::node_info(&a).await?.listen_addr;
//! ractor_grpc::connect(&b, a_addr.to_string()).await?;
//! let remote = ractor::pg::get_members(&"counters".to_owned())
//!     .into_iter()
//!     .find(|cell| !cell.get_id().is_local())
//!     .map(ActorRef::<Counter>::from)
//!     .ok_or("no remote member")?;
//!
//! // Casts and calls cross the gRPC session.
//! remote.cast(Counter::Add(2))?;
//! remote.cast(Counter::Add(40))?;
//! // `send` is the cast that waits while the peer is behind, instead of
//! // being refused once the session holds its queue limit.
//! ractor_grpc::send(&remote, Counter::Add(0)).await?;
//! let total = ractor_grpc::call(&remote, Counter::Get, Some(Duration::from_secs(5))).await?;
//! assert_eq!(total, 42);
//!
//! // Stopping a node ends its sessions; the peer sees the disconnect and
//! // the proxy leaves the group.
//! a.stop(None);
//! b.stop(None);
//! a_handle.await?;
//! b_handle.await?;
//! counter.stop(None);
//! # Ok(())
//! # }
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]

// Modules, lowest first: each imports only modules above it in this list.
mod auth;
mod counters;
mod node;
#[cfg(feature = "opentelemetry")]
mod otel;
pub mod pb;
mod private;
mod reason;
pub mod registry;
mod remote_actor;
mod reply;
mod service;
mod telemetry;
#[cfg(test)]
mod test_actor;
mod trace;
mod transport;
pub mod wire;
#[doc(hidden)]
pub mod __private {
    //! Support for generated code; not public API.
    pub use crate::private::*;
}
#[cfg(feature = "fuzz")]
#[doc(hidden)]
pub mod __fuzz {
    //! Entry points of the cargo-fuzz targets in `fuzz/` (feature `fuzz`);
    //! not public API.

    /// Plays `data` as a script against a session machine (the setup from
    /// the first bytes, then steps: frames of raw protobuf bytes decoded as
    /// the reader decodes them, the honest peer's envelopes, replays, the
    /// driver's inputs).
    ///
    /// # Panics
    /// When the machine breaks one of its promises (see the harness in
    /// `src/node/session/machine/harness.rs`), or panics itself.
    pub fn session(data: &[u8]) {
        if let Err(broken) = crate::node::fuzz_session(data) {
            panic!("the session machine broke a promise: {broken}");
        }
    }

    /// Decodes `data` as one `Frame` read off a Session stream, as the
    /// reader does, and feeds it to session machines at several points of a
    /// session (fresh, mid-handshake, ready; acceptor and dialer).
    ///
    /// # Panics
    /// As [`session`].
    pub fn frame(data: &[u8]) {
        if let Err(broken) = crate::node::fuzz_frame(data) {
            panic!("the session machine broke a promise: {broken}");
        }
    }
}

pub use auth::{Cookie, MAX_TOKEN_TTL, MintError, TokenScope, UnknownTokenScope, mint_token};
pub use counters::{RoundTrip, SessionCounters};
pub use node::{
    ActorDescription, ActorTarget, AdvertiseFilter, ConnectError, ConnectionMode,
    DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_QUEUE_LIMIT,
    DEFAULT_SHUTDOWN_GRACE, GroupInfo, GroupMember, HandshakeLimits, HeartbeatConfig,
    InvalidConfig, LocalActorInfo, NodeConfig, NodeEventSubscription, NodeInfo, NodeServer,
    NodeServerMessage, NodeServerState, ReconnectConfig, SessionId, SessionInfo, SessionState,
    TargetInfo, TargetState, client_connect, client_connect_enc, connect, connect_enc,
    describe_actor, disconnect, keep_connected, list_actors, list_groups, list_sessions,
    list_targets, node_info, services, subscribe, unsubscribe,
};
#[cfg(feature = "opentelemetry")]
#[cfg_attr(docsrs, doc(cfg(feature = "opentelemetry")))]
pub use otel::OpenTelemetryPropagation;
pub use ractor_grpc_derive::{RactorClusterMessage, RactorMessage};
pub use reason::{DisconnectCause, DisconnectReason};
pub use remote_actor::{CallError, CallErrorKind, SendError, call, send};
pub use reply::NodeStopped;
pub use trace::{Propagation, PropagationSet, TraceParent, set_propagation};
pub use transport::{Direction, TlsConfig};
pub use wire::{Wire, WireError};
