//! The node: its settings, the NodeServer actor, sessions and their events.
//!
//! A node is a [`NodeServer`] actor. It binds its listener when it starts,
//! serves the `ClusterNode` gRPC service, dials peers on request, and runs one
//! session actor per Session stream. Everything a user does with a node goes
//! through the functions re-exported at the crate root ([`connect()`],
//! [`node_info`], [`list_sessions`], [`subscribe`], ...).
//!
//! Inside, one concept per module, leaves first: settings (`config`), what
//! a node reports (`info`, `introspect`), the messages that travel
//! (`messages`), the rules without I/O (`session`'s machine, `arbiter`,
//! `waiters`, `table`, `subscribers`, `advertise`), and the actors that drive
//! them (`session`, `server`).

mod address;
mod advertise;
mod api;
mod arbiter;
mod config;
mod connect;
mod events;
mod info;
mod introspect;
mod lifecycle;
mod messages;
mod on_demand;
mod reach;
mod redial;
mod selector;
mod server;
mod session;
mod subscribers;
mod table;
mod waiters;

pub use api::{
    client_connect, client_connect_enc, connect, connect_enc, describe_actor, disconnect,
    keep_connected, list_actors, list_groups, list_sessions, list_targets, node_info, services,
    subscribe, unsubscribe,
};
pub use config::{
    AdvertiseFilter, ConnectionMode, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_MESSAGE_SIZE,
    DEFAULT_QUEUE_LIMIT, DEFAULT_SHUTDOWN_GRACE, HandshakeLimits, HeartbeatConfig, InvalidConfig,
    NodeConfig, ReconnectConfig,
};
pub use connect::ConnectError;
pub use events::NodeEventSubscription;
pub use info::{NodeInfo, SessionId, SessionInfo, SessionState};
pub(crate) use introspect::describe_reached;
pub use introspect::{ActorDescription, ActorTarget, GroupInfo, GroupMember, LocalActorInfo};
pub(crate) use messages::InternalMsg;
pub use messages::NodeServerMessage;
pub use redial::{TargetInfo, TargetState};
pub(crate) use selector::{Reached, Selector, Wanted};
pub(crate) use server::Face;
pub use server::{NodeServer, NodeServerState};
#[cfg(feature = "fuzz")]
pub(crate) use session::{fuzz_frame, fuzz_session};
