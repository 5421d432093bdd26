//! Dialling a peer: opening the Session stream, and the connect errors.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{
    Streaming,
    transport::{Channel, Endpoint},
};

use super::{
    config::{HeartbeatConfig, NodeConfig},
    session::OUTBOUND_QUEUE_FRAMES,
};
use crate::{
    pb::{self, cluster_node_client::ClusterNodeClient},
    reason::{DisconnectCause, DisconnectReason},
};

/// Why [`connect`](crate::connect) or [`client_connect`](crate::client_connect)
/// failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The address is not `host:port` or a valid URI.
    #[error("invalid peer address {addr:?}: {detail}")]
    InvalidAddress {
        /// The address as given.
        addr: String,
        /// What is wrong with it.
        detail: String,
    },
    /// Nothing answered at the address, or the connection failed before the
    /// Session stream opened.
    #[error("cannot reach {addr}: {detail}")]
    Unreachable {
        /// The address dialled.
        addr: String,
        /// What the transport said.
        detail: String,
    },
    /// The nodes use different cookies.
    #[error("the peer rejected the cookie proof, or sent a wrong one")]
    BadCookie,
    /// The nodes share no protocol version.
    #[error("no common protocol version: {0}")]
    VersionMismatch(String),
    /// The handshake or the first sync did not finish in time.
    #[error("the connection did not become ready in time")]
    Timeout,
    /// The address is this node's own.
    #[error("refusing to connect to this node itself")]
    SelfConnection,
    /// A ready session with this peer already exists.
    #[error("already connected to {peer}")]
    AlreadyConnected {
        /// The peer's node name.
        peer: String,
    },
    /// The session ended for another reason (duplicate name, protocol
    /// violation, transport failure, the peer stopping).
    #[error("the session was refused or ended: {0}")]
    Refused(DisconnectReason),
    /// This node server is not running.
    #[error("the node server is not running")]
    NodeStopped,
}

impl ConnectError {
    /// The error a connect reports for a session that ended with `reason`.
    pub(crate) fn from_reason(reason: DisconnectReason) -> Self {
        match reason.cause {
            DisconnectCause::BadCookie => Self::BadCookie,
            DisconnectCause::VersionMismatch => Self::VersionMismatch(reason.detail),
            DisconnectCause::SelfConnection => Self::SelfConnection,
            DisconnectCause::HandshakeTimeout => Self::Timeout,
            _ => Self::Refused(reason),
        }
    }
}

/// What a dial needs from the node's settings.
#[derive(Debug, Clone)]
pub(crate) struct DialSettings {
    max_message_size: usize,
    timeout: Duration,
    heartbeat: HeartbeatConfig,
}

impl DialSettings {
    pub(crate) fn from_config(config: &NodeConfig) -> Self {
        Self {
            max_message_size: config.max_message_size(),
            timeout: config.handshake_timeout(),
            heartbeat: config.heartbeat(),
        }
    }
}

/// A Session stream this node opened.
#[derive(Debug)]
pub(crate) struct OpenStream {
    pub(crate) inbound: Streaming<pb::Frame>,
    pub(crate) tx: mpsc::Sender<pb::Frame>,
    pub(crate) channel: Channel,
}

/// Turns `host:port` into a URI tonic can dial; full URIs pass through.
fn uri_for(addr: &str) -> String {
    if addr.contains("://") {
        addr.to_owned()
    } else {
        format!("http://{addr}")
    }
}

/// Connects to `addr` and opens a Session stream on a connection of its own.
pub(crate) async fn open_stream(addr: &str, s: &DialSettings) -> Result<OpenStream, ConnectError> {
    let unreachable = |detail: String| ConnectError::Unreachable {
        addr: addr.to_owned(),
        detail,
    };
    let endpoint =
        Endpoint::from_shared(uri_for(addr)).map_err(|e| ConnectError::InvalidAddress {
            addr: addr.to_owned(),
            detail: e.to_string(),
        })?;
    let endpoint = endpoint
        .connect_timeout(s.timeout)
        .tcp_nodelay(true)
        .initial_stream_window_size(crate::service::STREAM_WINDOW)
        .initial_connection_window_size(crate::service::CONNECTION_WINDOW)
        .max_frame_size(crate::service::MAX_FRAME)
        .http2_keep_alive_interval(s.heartbeat.interval)
        .keep_alive_timeout(s.heartbeat.timeout)
        .keep_alive_while_idle(true);
    let channel = endpoint
        .connect()
        .await
        .map_err(|e| unreachable(error_chain(&e)))?;
    let mut client = ClusterNodeClient::new(channel.clone())
        .max_decoding_message_size(s.max_message_size)
        .max_encoding_message_size(s.max_message_size);
    let (tx, rx) = mpsc::channel(OUTBOUND_QUEUE_FRAMES);
    let response = tokio::time::timeout(s.timeout, client.session(ReceiverStream::new(rx)))
        .await
        .map_err(|_| ConnectError::Timeout)?
        .map_err(|status| unreachable(format!("{:?}: {}", status.code(), status.message())))?;
    Ok(OpenStream {
        inbound: response.into_inner(),
        tx,
        channel,
    })
}

/// The error and its sources, as one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
