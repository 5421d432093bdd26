//! What a node reports about itself and its sessions: plain data, filled in
//! by the session table and read by users and the gRPC service.

use std::{
    net::SocketAddr,
    time::{Duration, SystemTime},
};

use super::config::ConnectionMode;
use crate::{
    counters::{RoundTrip, SessionCounters},
    pb,
    transport::Direction,
};

/// The node-local id of a session, unique for the life of the process.
pub type SessionId = u64;

/// Where a session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SessionState {
    /// The stream is open and the handshake is under way.
    Handshake,
    /// Both sides proved the cookie; the first sync is under way.
    Authenticated,
    /// Both sides sent and received Ready: the session carries traffic.
    Ready,
}

/// One session as this node sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The node-local id of the session.
    pub id: SessionId,
    /// The peer's node name, once the handshake has named it.
    pub peer_name: Option<String>,
    /// The peer's socket address as this node sees it, if known.
    pub peer_addr: Option<SocketAddr>,
    /// The address the peer accepts sessions on, as it advertised it.
    pub peer_listen_addr: Option<String>,
    /// The peer's incarnation (random per start), once the handshake named
    /// the peer: a new value under the same name means it restarted.
    pub peer_incarnation: Option<u64>,
    /// Which side opened the session.
    pub direction: Direction,
    /// Where the session is in its life.
    pub state: SessionState,
    /// When the stream opened.
    pub connected_since: SystemTime,
    /// The agreed protocol version, once the handshake has chosen one.
    pub protocol_version: Option<u32>,
    /// Traffic counters (zero until authenticated).
    pub counters: SessionCounters,
    /// How many of the peer's advertised actors this node knows (each gets
    /// a proxy only once something needs it).
    pub remote_actors: usize,
    /// The heartbeat's round trip, once a Ping was answered.
    pub round_trip: Option<RoundTrip>,
}

impl SessionInfo {
    /// A session whose stream just opened.
    pub(crate) fn opened(
        id: SessionId,
        direction: Direction,
        peer_addr: Option<SocketAddr>,
    ) -> Self {
        Self {
            id,
            peer_name: None,
            peer_addr,
            peer_listen_addr: None,
            peer_incarnation: None,
            direction,
            state: SessionState::Handshake,
            connected_since: SystemTime::now(),
            protocol_version: None,
            counters: SessionCounters::default(),
            remote_actors: 0,
            round_trip: None,
        }
    }

    pub(crate) fn to_pb(&self) -> pb::PeerInfo {
        pb::PeerInfo {
            session_id: self.id,
            name: self.peer_name.clone().unwrap_or_default(),
            addr: self.peer_addr.map(|a| a.to_string()).unwrap_or_default(),
            direction: match self.direction {
                Direction::Outbound => pb::Direction::Outbound,
                Direction::Inbound => pb::Direction::Inbound,
            } as i32,
            state: match self.state {
                SessionState::Handshake => pb::SessionState::Handshake,
                SessionState::Authenticated => pb::SessionState::Authenticated,
                SessionState::Ready => pb::SessionState::Ready,
            } as i32,
            connected_since_unix_ms: unix_ms(self.connected_since),
            listen_addr: self.peer_listen_addr.clone().unwrap_or_default(),
            protocol_version: self.protocol_version.unwrap_or_default(),
            casts_sent: self.counters.casts_sent,
            calls_sent: self.counters.calls_sent,
            casts_received: self.counters.casts_received,
            calls_received: self.counters.calls_received,
            refused: self.counters.refused,
            unknown_actor: self.counters.unknown_actor,
            undecodable: self.counters.undecodable,
            calls_in_flight: self.counters.calls_in_flight,
            queued_bytes: self.counters.queued_bytes,
            remote_actors: u64::try_from(self.remote_actors).unwrap_or(u64::MAX),
            last_rtt_us: self.round_trip.map_or(0, |r| micros(r.last)),
            smoothed_rtt_us: self.round_trip.map_or(0, |r| micros(r.smoothed)),
            incarnation: self.peer_incarnation.unwrap_or_default(),
            overflowed: self.counters.overflowed,
            inbox_bytes: self.counters.inbox_bytes,
            inbox_peak_bytes: self.counters.inbox_peak_bytes,
        }
    }
}

/// A node's identity and state, as `GetNodeInfo` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// The node name.
    pub name: String,
    /// The ractor_grpc version the node runs.
    pub version: &'static str,
    /// The protocol versions the node speaks (inclusive).
    pub protocol_versions: (u32, u32),
    /// The address the node accepts sessions on (the bound one, never port 0).
    pub listen_addr: SocketAddr,
    /// The address peers are told to dial (see
    /// [`NodeConfig::with_advertise_addr`](crate::NodeConfig::with_advertise_addr));
    /// empty when there is none.
    pub advertise_addr: String,
    /// How the node joins peers.
    pub mode: ConnectionMode,
    /// Time since the node started.
    pub uptime: Duration,
    /// Sessions that are authenticated or ready.
    pub peer_count: usize,
    /// A random id of this run of the node, new at every start.
    pub incarnation: u64,
    /// Tasks alive in the tokio runtime the node runs on, the node's own
    /// and everything else there (tokio's `num_alive_tasks`): a count that
    /// keeps growing is a leak.
    pub tasks: usize,
}

impl NodeInfo {
    pub(crate) fn to_pb(&self) -> pb::NodeInfo {
        pb::NodeInfo {
            name: self.name.clone(),
            version: self.version.to_owned(),
            min_protocol_version: self.protocol_versions.0,
            max_protocol_version: self.protocol_versions.1,
            listen_addr: self.listen_addr.to_string(),
            advertise_addr: self.advertise_addr.clone(),
            mode: match self.mode {
                ConnectionMode::Isolated => pb::ConnectionMode::Isolated,
                ConnectionMode::Transitive => pb::ConnectionMode::Transitive,
            } as i32,
            uptime_ms: u64::try_from(self.uptime.as_millis()).unwrap_or(u64::MAX),
            peer_count: u32::try_from(self.peer_count).unwrap_or(u32::MAX),
            incarnation: self.incarnation,
            tasks: u64::try_from(self.tasks).unwrap_or(u64::MAX),
        }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
