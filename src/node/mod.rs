//! The node: its settings, the NodeServer actor, sessions and their events.
//!
//! A node is a [`NodeServer`] actor. It binds its listener when it starts,
//! serves the `ClusterNode` gRPC service, dials peers on request, and runs one
//! session actor per Session stream. Everything a user does with a node goes
//! through the functions re-exported at the crate root ([`connect`],
//! [`node_info`], [`list_sessions`], [`subscribe`], ...).

mod advertise;
mod api;
mod arbiter;
mod config;
mod connect;
mod events;
mod info;
mod introspect;
mod server;
mod session;

pub use api::{
    NodeStopped, client_connect, connect, list_actors, list_groups, list_sessions, node_info,
    subscribe, unsubscribe,
};
pub use config::{
    AdvertiseFilter, ConnectionMode, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_MESSAGE_SIZE,
    HeartbeatConfig, NodeConfig,
};
pub use connect::ConnectError;
pub use events::NodeEventSubscription;
pub use info::{Direction, NodeInfo, SessionCounters, SessionId, SessionInfo, SessionState};
pub use introspect::{GroupInfo, GroupMember, LocalActorInfo};
pub(crate) use server::{Accepted, InternalMsg};
pub use server::{NodeServer, NodeServerMessage, NodeServerState};
pub(crate) use session::OUTBOUND_QUEUE_FRAMES;
