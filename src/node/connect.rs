//! Why a connect failed.

use crate::{
    reason::{DisconnectCause, DisconnectReason},
    transport::DialError,
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
    /// The TLS handshake failed: the peer's certificate does not chain to
    /// this node's CA, is expired or names another host; the peer requires a
    /// client certificate this node lacks or does not trust; or one side
    /// speaks TLS and the other plaintext.
    #[error("TLS with {addr} failed: {detail}")]
    Tls {
        /// The address dialled.
        addr: String,
        /// What went wrong, as the TLS library said it.
        detail: String,
    },
    /// The peer refused a new session for now: too many sessions still in
    /// their handshake, or too many handshakes from this address (see
    /// [`HandshakeLimits`](crate::HandshakeLimits)). Worth another try later.
    #[error("{addr} refused a new session for now: {detail}")]
    Overloaded {
        /// The address dialled.
        addr: String,
        /// What the peer said.
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

impl From<DialError> for ConnectError {
    fn from(e: DialError) -> Self {
        match e {
            DialError::InvalidAddress { addr, detail } => Self::InvalidAddress { addr, detail },
            DialError::Unreachable { addr, detail } => Self::Unreachable { addr, detail },
            DialError::Tls { addr, detail } => Self::Tls { addr, detail },
            DialError::Overloaded { addr, detail } => Self::Overloaded { addr, detail },
            DialError::Timeout => Self::Timeout,
        }
    }
}
