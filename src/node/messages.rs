//! The messages between the node server, its sessions and its gRPC service.
//!
//! A leaf of the node: it names the types that travel (and the public
//! [`NodeServerMessage`]) and nothing that handles them, so the server, the
//! sessions and the service each import it without importing each other.

use std::sync::Arc;

use ractor::RpcReplyPort;
use tonic::service::Routes;

use super::{
    arbiter::Verdict,
    connect::ConnectError,
    events::NodeEventSubscription,
    info::{NodeInfo, SessionId, SessionInfo},
    introspect::{ActorDescription, ActorTarget, GroupInfo, LocalActorInfo},
    redial::TargetInfo,
    selector::{Reached, Wanted},
};
use crate::{
    auth::Peer,
    pb,
    reason::DisconnectReason,
    registry::{Lookup, ProxyChange},
    remote_actor::SessionLink,
    transport::{DialError, Direction, SessionStream, TlsConfig},
};

/// Messages the [`NodeServer`](crate::NodeServer) handles. Use the functions
/// of this crate ([`connect`](crate::connect), [`node_info`](crate::node_info),
/// ...) rather than building these by hand.
#[non_exhaustive]
pub enum NodeServerMessage {
    /// Dial `addr`; reply when the stream is open (`until_ready == false`) or
    /// when the session is ready.
    Connect {
        /// `host:port` or `http://host:port`.
        addr: String,
        /// Wait for the first sync rather than just the open stream.
        until_ready: bool,
        /// TLS settings for this dial instead of the node's own.
        tls: Option<TlsConfig>,
        /// Where the outcome goes.
        reply: RpcReplyPort<Result<SessionInfo, ConnectError>>,
    },
    /// Keep sessions with `target` (`host:port`, or a DNS name resolving to
    /// several addresses) from now on.
    KeepConnected {
        /// `host:port`.
        target: String,
        /// Whether the target is well-formed.
        reply: RpcReplyPort<Result<(), ConnectError>>,
    },
    /// The addresses this node keeps sessions with.
    ListTargets(RpcReplyPort<Vec<TargetInfo>>),
    /// This node's identity and state.
    GetInfo(RpcReplyPort<NodeInfo>),
    /// The node's gRPC services (ClusterNode, reflection, health), to serve
    /// on a server of the application's (see [`services`](crate::services)).
    GetServices(RpcReplyPort<Routes>),
    /// Every session, in any state.
    ListSessions(RpcReplyPort<Vec<SessionInfo>>),
    /// Register (or replace) an event subscription under `id`.
    Subscribe {
        /// A key to unsubscribe with.
        id: String,
        /// The receiver of the events.
        subscription: Box<dyn NodeEventSubscription>,
    },
    /// Remove the subscription registered under this id.
    Unsubscribe(String),
    /// End the session with this peer (cause `Stopped`).
    Disconnect {
        /// The peer's node name.
        peer: String,
        /// Whether there was a session with it.
        reply: RpcReplyPort<bool>,
    },
    /// Proxies of peers' actors with a name (see
    /// [`registry::where_is`](crate::registry::where_is)).
    WhereIs(Lookup),
    /// The local actors this node advertises, with their groups.
    ListActors(RpcReplyPort<Vec<LocalActorInfo>>),
    /// One advertised local actor, described.
    DescribeActor {
        /// Which one.
        target: ActorTarget,
        /// The answer; `None` if no advertised actor matches.
        reply: RpcReplyPort<Option<ActorDescription>>,
    },
    /// Every pg group with members known to this node (local and proxies).
    ListGroups(RpcReplyPort<Vec<GroupInfo>>),
    /// Traffic between the node server, its sessions and its gRPC service.
    #[doc(hidden)]
    Internal(Internal),
}

impl From<Lookup> for NodeServerMessage {
    fn from(lookup: Lookup) -> Self {
        Self::WhereIs(lookup)
    }
}

impl std::fmt::Debug for NodeServerMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Self::Connect { .. } => "Connect",
            Self::KeepConnected { .. } => "KeepConnected",
            Self::ListTargets(_) => "ListTargets",
            Self::GetInfo(_) => "GetInfo",
            Self::GetServices(_) => "GetServices",
            Self::ListSessions(_) => "ListSessions",
            Self::Subscribe { .. } => "Subscribe",
            Self::Unsubscribe(_) => "Unsubscribe",
            Self::Disconnect { .. } => "Disconnect",
            Self::WhereIs(_) => "WhereIs",
            Self::ListActors(_) => "ListActors",
            Self::DescribeActor { .. } => "DescribeActor",
            Self::ListGroups(_) => "ListGroups",
            Self::Internal(_) => "Internal",
        };
        write!(f, "NodeServerMessage::{name}")
    }
}

impl ractor::Message for NodeServerMessage {}

/// Opaque: messages the node server sends itself and gets from its sessions.
#[doc(hidden)]
#[derive(Debug)]
pub struct Internal(pub(crate) InternalMsg);

/// What the node server hears from its sessions, its dials and its service.
#[derive(Debug)]
pub(crate) enum InternalMsg {
    /// A dial finished: the open stream, or why there is none.
    Dialled {
        id: SessionId,
        addr: String,
        result: Result<Box<SessionStream>, DialError>,
    },
    /// A peer opened a Session stream.
    Accepted(Box<SessionStream>),
    /// A session asks whether it may go on with a peer.
    Claim {
        id: SessionId,
        direction: Direction,
        peer: Peer,
        reply: RpcReplyPort<Verdict>,
    },
    /// A session's progress.
    Session { id: SessionId, event: SessionEvent },
    /// Time to expire connect waiters.
    ExpireWaiters,
    /// Time to dial the targets whose backoff is over.
    Redial,
    /// Time to resolve the DNS names of targets again.
    Resolve,
    /// Which actors a unary Cast or Call is for (see `reach`).
    Reach {
        wanted: Wanted,
        reply: RpcReplyPort<Result<Vec<Reached>, String>>,
    },
    /// A DNS name of a target resolved (or failed to).
    Resolved {
        name: String,
        addrs: Result<Vec<String>, String>,
    },
}

impl From<InternalMsg> for NodeServerMessage {
    fn from(m: InternalMsg) -> Self {
        Self::Internal(Internal(m))
    }
}

/// What a session reports to its node server.
#[derive(Debug)]
pub(crate) enum SessionEvent {
    /// The handshake succeeded with this peer.
    Authenticated { peer: Peer, link: Arc<SessionLink> },
    /// Proxies of the peer's actors started or stopped.
    Proxies(Vec<ProxyChange>),
    /// Both sides finished the first sync.
    Ready,
    /// The peer named nodes it is connected to (transitive mode).
    PeersAdvertised(Vec<pb::KnownPeer>),
    /// The session ended.
    Closed(DisconnectReason),
}
