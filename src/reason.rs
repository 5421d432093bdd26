//! Why a session ended, and how that travels on the wire.
//!
//! Every way a session can end has one [`DisconnectCause`]. This is the one
//! place where causes map to gRPC status codes and back, so an acceptor's
//! refusal, a dialer's `Goodbye` and a local error all read the same.

use std::fmt;

use tonic::{Code, Status, metadata::MetadataValue};

/// The trailer (and `Goodbye.cause`) that names the cause machine-readably.
pub(crate) const CAUSE_METADATA_KEY: &str = "ractor-grpc-cause";

/// What ended a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DisconnectCause {
    /// Closed on purpose: a node stopping, or a session closed on request.
    Stopped,
    /// One side's cookie proof was wrong: the nodes use different cookies.
    BadCookie,
    /// The nodes share no protocol version.
    VersionMismatch,
    /// A node dialled itself.
    SelfConnection,
    /// Two different nodes use the same name.
    DuplicateName,
    /// The nodes already had a session; the new one was refused.
    AlreadyConnected,
    /// Both nodes dialled each other at once; the other session was kept.
    SimultaneousConnect,
    /// Replaced by a newer session with the same peer (it restarted).
    Superseded,
    /// The handshake (or the first sync) did not finish within the deadline.
    HandshakeTimeout,
    /// Nothing came from the peer for longer than the heartbeat timeout: it
    /// is frozen, or cut off by the network.
    HeartbeatTimeout,
    /// The peer sent something the protocol does not allow.
    ProtocolViolation,
    /// The stream or the connection under it failed.
    Transport,
}

impl DisconnectCause {
    const ALL: [Self; 12] = [
        Self::Stopped,
        Self::BadCookie,
        Self::VersionMismatch,
        Self::SelfConnection,
        Self::DuplicateName,
        Self::AlreadyConnected,
        Self::SimultaneousConnect,
        Self::Superseded,
        Self::HandshakeTimeout,
        Self::HeartbeatTimeout,
        Self::ProtocolViolation,
        Self::Transport,
    ];

    /// The word used on the wire (`Goodbye.cause`, the status trailer).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stopped => "stopped",
            Self::BadCookie => "bad-cookie",
            Self::VersionMismatch => "version-mismatch",
            Self::SelfConnection => "self-connection",
            Self::DuplicateName => "duplicate-name",
            Self::AlreadyConnected => "already-connected",
            Self::SimultaneousConnect => "simultaneous-connect",
            Self::Superseded => "superseded",
            Self::HandshakeTimeout => "handshake-timeout",
            Self::HeartbeatTimeout => "heartbeat-timeout",
            Self::ProtocolViolation => "protocol-violation",
            Self::Transport => "transport",
        }
    }

    /// Parses the wire word; `None` for words this build does not know.
    pub fn from_wire(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == word)
    }

    /// The gRPC status code a session ended for this cause carries.
    pub fn code(self) -> Code {
        match self {
            Self::Stopped => Code::Ok,
            Self::BadCookie => Code::Unauthenticated,
            Self::VersionMismatch
            | Self::SelfConnection
            | Self::DuplicateName
            | Self::AlreadyConnected
            | Self::SimultaneousConnect => Code::FailedPrecondition,
            Self::Superseded => Code::Aborted,
            Self::HandshakeTimeout => Code::DeadlineExceeded,
            Self::ProtocolViolation => Code::InvalidArgument,
            Self::HeartbeatTimeout | Self::Transport => Code::Unavailable,
        }
    }

    /// Best guess from a bare status code, for peers that sent no cause.
    fn from_code(code: Code) -> Self {
        match code {
            Code::Ok | Code::Cancelled => Self::Stopped,
            Code::Unauthenticated => Self::BadCookie,
            Code::DeadlineExceeded => Self::HandshakeTimeout,
            Code::InvalidArgument | Code::OutOfRange | Code::ResourceExhausted => {
                Self::ProtocolViolation
            }
            Code::Aborted => Self::Superseded,
            _ => Self::Transport,
        }
    }
}

impl fmt::Display for DisconnectCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a session ended: the cause, which side ended it, and a readable detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisconnectReason {
    /// What ended it.
    pub cause: DisconnectCause,
    /// `true` when the peer ended the session (or the stream failed),
    /// `false` when this node did.
    pub by_peer: bool,
    /// A readable explanation, e.g. "node stopping".
    pub detail: String,
}

impl DisconnectReason {
    /// This node ends the session.
    pub(crate) fn local(cause: DisconnectCause, detail: impl Into<String>) -> Self {
        Self {
            cause,
            by_peer: false,
            detail: detail.into(),
        }
    }

    /// The peer ended the session.
    pub(crate) fn peer(cause: DisconnectCause, detail: impl Into<String>) -> Self {
        Self {
            cause,
            by_peer: true,
            detail: detail.into(),
        }
    }

    /// The status an acceptor ends the stream with.
    pub(crate) fn to_status(&self) -> Status {
        let mut status = Status::new(self.cause.code(), self.detail.clone());
        status.metadata_mut().insert(
            CAUSE_METADATA_KEY,
            MetadataValue::from_static(self.cause.as_str()),
        );
        status
    }

    /// What a dialer learns from the status its stream ended with.
    pub(crate) fn from_status(status: &Status) -> Self {
        let cause = status
            .metadata()
            .get(CAUSE_METADATA_KEY)
            .and_then(|v| v.to_str().ok())
            .and_then(DisconnectCause::from_wire)
            .unwrap_or_else(|| DisconnectCause::from_code(status.code()));
        Self::peer(cause, status_detail(status))
    }

    /// The Goodbye envelope that tells the peer this reason.
    pub(crate) fn to_goodbye(&self) -> crate::pb::Goodbye {
        crate::pb::Goodbye {
            code: self.cause.code() as i32,
            reason: self.detail.clone(),
            cause: self.cause.as_str().to_owned(),
        }
    }

    /// What this node learns from a peer's Goodbye.
    pub(crate) fn from_goodbye(goodbye: &crate::pb::Goodbye) -> Self {
        let cause = DisconnectCause::from_wire(&goodbye.cause)
            .unwrap_or_else(|| DisconnectCause::from_code(Code::from_i32(goodbye.code)));
        let detail = if goodbye.reason.is_empty() {
            "the peer said goodbye without a reason".to_owned()
        } else {
            goodbye.reason.clone()
        };
        Self::peer(cause, detail)
    }
}

/// A status's message, or what ended the stream when it has none, so a
/// reason is never blank.
pub(crate) fn status_detail(status: &Status) -> String {
    if status.message().is_empty() {
        format!("stream ended with {:?}", status.code())
    } else {
        status.message().to_owned()
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = if self.by_peer { "peer" } else { "local" };
        write!(f, "{} ({who}): {}", self.cause, self.detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cause_round_trips_through_status_and_goodbye() {
        for cause in DisconnectCause::ALL {
            assert_eq!(DisconnectCause::from_wire(cause.as_str()), Some(cause));
            let reason = DisconnectReason::local(cause, "why");
            let back = DisconnectReason::from_status(&reason.to_status());
            assert_eq!(
                (back.cause, back.by_peer, back.detail.as_str()),
                (cause, true, "why")
            );
            let back = DisconnectReason::from_goodbye(&reason.to_goodbye());
            assert_eq!(back.cause, cause);
        }
    }

    #[test]
    fn a_status_without_cause_is_classified_by_code() {
        let r = DisconnectReason::from_status(&Status::unauthenticated("nope"));
        assert_eq!(r.cause, DisconnectCause::BadCookie);
        let r = DisconnectReason::from_status(&Status::unavailable(""));
        assert_eq!(r.cause, DisconnectCause::Transport);
        assert!(!r.detail.is_empty());
    }

    #[test]
    fn a_goodbye_without_a_reason_still_gives_one() {
        let r = DisconnectReason::from_goodbye(&crate::pb::Goodbye {
            code: Code::Unavailable as i32,
            reason: String::new(),
            cause: "transport".into(),
        });
        assert_eq!(r.cause, DisconnectCause::Transport);
        assert_eq!(r.detail, "the peer said goodbye without a reason");
    }
}
