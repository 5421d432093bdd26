//! Why a call got no reply: the public [`CallError`], its [`CallErrorKind`],
//! and the one map between kinds and the wire's `CallErrorCode`.
//!
//! Owns the vocabulary of call failures; deciding which one happened is left
//! to the link, the deliverer and the port bridges.

use crate::pb;

/// Why [`call`](crate::call) got no reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The timeout passed without a reply.
    #[error("no reply within the timeout")]
    Timeout,
    /// The peer has no advertised actor with that id (it stopped, or never
    /// was remotable).
    #[error("unknown actor: {0}")]
    UnknownActor(String),
    /// The message does not decode as the callee's type at the callee's
    /// node, or the reply does not decode as the caller's reply type here.
    #[error("the message does not decode: {0}")]
    Undecodable(String),
    /// The callee dropped the reply port without replying.
    #[error("the callee dropped the reply port: {0}")]
    Dropped(String),
    /// The callee stopped before it replied.
    #[error("the callee stopped: {0}")]
    ActorStopped(String),
    /// The session with the callee's node ended before the reply.
    #[error("the peer disconnected: {0}")]
    Disconnected(String),
    /// The call, or its reply, is larger than the session's max message size.
    #[error("the message is too large: {0}")]
    TooLarge(String),
    /// The session with the callee's node held its queue limit already (the
    /// peer reads more slowly than this node sends): the call was refused
    /// rather than queued. Only the caller's node reports it.
    #[error("the session is overloaded: {0}")]
    Overloaded(String),
    /// The actor (or its proxy) is not running.
    #[error("the actor is not running")]
    NotRunning,
    /// The message cannot be sent to a remote actor (its type is not a
    /// `RactorClusterMessage`, or the builder made a cast variant).
    #[error("the message cannot be sent as a remote call")]
    NotRemotable,
}

/// What kind of [`CallError`] it is, without its detail: for matching and
/// counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CallErrorKind {
    /// See [`CallError::Timeout`].
    Timeout,
    /// See [`CallError::UnknownActor`].
    UnknownActor,
    /// See [`CallError::Undecodable`].
    Undecodable,
    /// See [`CallError::Dropped`].
    Dropped,
    /// See [`CallError::ActorStopped`].
    ActorStopped,
    /// See [`CallError::Disconnected`].
    Disconnected,
    /// See [`CallError::TooLarge`].
    TooLarge,
    /// See [`CallError::Overloaded`].
    Overloaded,
    /// See [`CallError::NotRunning`].
    NotRunning,
    /// See [`CallError::NotRemotable`].
    NotRemotable,
}

impl CallErrorKind {
    /// The kind's name in snake case (`"unknown_actor"`), as metrics label it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::UnknownActor => "unknown_actor",
            Self::Undecodable => "undecodable",
            Self::Dropped => "dropped",
            Self::ActorStopped => "actor_stopped",
            Self::Disconnected => "disconnected",
            Self::TooLarge => "too_large",
            Self::Overloaded => "overloaded",
            Self::NotRunning => "not_running",
            Self::NotRemotable => "not_remotable",
        }
    }

    /// Every kind.
    pub const ALL: [Self; 10] = [
        Self::Timeout,
        Self::UnknownActor,
        Self::Undecodable,
        Self::Dropped,
        Self::ActorStopped,
        Self::Disconnected,
        Self::TooLarge,
        Self::Overloaded,
        Self::NotRunning,
        Self::NotRemotable,
    ];

    /// The code a callee's node sends for this kind, or `None` for kinds
    /// only the caller's own node can see: a disconnect (the session that
    /// would carry the news is gone) and the local refusals.
    pub(crate) fn code(self) -> Option<pb::CallErrorCode> {
        Some(match self {
            Self::UnknownActor => pb::CallErrorCode::UnknownActor,
            Self::Undecodable => pb::CallErrorCode::Undecodable,
            Self::Dropped => pb::CallErrorCode::Dropped,
            Self::ActorStopped => pb::CallErrorCode::ActorStopped,
            Self::Timeout => pb::CallErrorCode::Timeout,
            Self::TooLarge => pb::CallErrorCode::TooLarge,
            Self::Disconnected | Self::Overloaded | Self::NotRunning | Self::NotRemotable => {
                return None;
            }
        })
    }

    /// The kind a code names; `None` for UNSPECIFIED and codes this build
    /// does not know.
    pub(crate) fn from_code(code: i32) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.code().is_some_and(|c| c as i32 == code))
    }
}

impl CallError {
    /// The error of `kind` with `detail` (dropped for kinds that carry none).
    pub(crate) fn new(kind: CallErrorKind, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        match kind {
            CallErrorKind::Timeout => Self::Timeout,
            CallErrorKind::UnknownActor => Self::UnknownActor(detail),
            CallErrorKind::Undecodable => Self::Undecodable(detail),
            CallErrorKind::Dropped => Self::Dropped(detail),
            CallErrorKind::ActorStopped => Self::ActorStopped(detail),
            CallErrorKind::Disconnected => Self::Disconnected(detail),
            CallErrorKind::TooLarge => Self::TooLarge(detail),
            CallErrorKind::Overloaded => Self::Overloaded(detail),
            CallErrorKind::NotRunning => Self::NotRunning,
            CallErrorKind::NotRemotable => Self::NotRemotable,
        }
    }

    /// What kind of error this is.
    pub fn kind(&self) -> CallErrorKind {
        match self {
            Self::Timeout => CallErrorKind::Timeout,
            Self::UnknownActor(_) => CallErrorKind::UnknownActor,
            Self::Undecodable(_) => CallErrorKind::Undecodable,
            Self::Dropped(_) => CallErrorKind::Dropped,
            Self::ActorStopped(_) => CallErrorKind::ActorStopped,
            Self::Disconnected(_) => CallErrorKind::Disconnected,
            Self::TooLarge(_) => CallErrorKind::TooLarge,
            Self::Overloaded(_) => CallErrorKind::Overloaded,
            Self::NotRunning => CallErrorKind::NotRunning,
            Self::NotRemotable => CallErrorKind::NotRemotable,
        }
    }

    /// The readable detail, empty for kinds that carry none.
    pub fn detail(&self) -> &str {
        match self {
            Self::UnknownActor(d)
            | Self::Undecodable(d)
            | Self::Dropped(d)
            | Self::ActorStopped(d)
            | Self::Disconnected(d)
            | Self::TooLarge(d)
            | Self::Overloaded(d) => d,
            Self::Timeout | Self::NotRunning | Self::NotRemotable => "",
        }
    }

    /// What a caller's node learns from a peer's `CallError`. A code this
    /// build does not know counts as a dropped reply port, and says so.
    pub(crate) fn from_wire(e: pb::CallError) -> Self {
        match CallErrorKind::from_code(e.code) {
            Some(kind) => Self::new(kind, e.detail),
            None => Self::Dropped(format!("call error code {}: {}", e.code, e.detail)),
        }
    }

    /// The `CallError` envelope body that answers call `tag` with this
    /// error. Only kinds with a code are ever sent; any other goes out as
    /// DROPPED with its own text, so the caller still learns why.
    pub(crate) fn to_wire(&self, tag: u64) -> pb::CallError {
        let (code, detail) = match self.kind().code() {
            Some(code) => (code, self.detail().to_owned()),
            None => (pb::CallErrorCode::Dropped, self.to_string()),
        };
        pb::CallError {
            tag,
            code: code as i32,
            detail,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_with_a_code_comes_back_as_itself_with_its_detail() {
        let mut codes = std::collections::HashSet::new();
        for kind in CallErrorKind::ALL {
            let sent = CallError::new(kind, "why");
            assert_eq!(sent.kind(), kind);
            let Some(code) = kind.code() else {
                continue;
            };
            assert!(codes.insert(code), "{code:?} names two kinds");
            let back = CallError::from_wire(sent.to_wire(9));
            assert_eq!(back, sent, "{kind:?}");
        }
        // Every code the proto defines but UNSPECIFIED names exactly one kind.
        let defined = (1..64)
            .filter(|c| pb::CallErrorCode::try_from(*c).is_ok())
            .count();
        assert_eq!(codes.len(), defined);
    }

    #[test]
    fn a_disconnect_is_local_and_unknown_codes_still_say_why() {
        assert_eq!(CallErrorKind::Disconnected.code(), None);
        let wire = CallError::Disconnected("the session ended".into()).to_wire(1);
        assert_eq!(wire.code, pb::CallErrorCode::Dropped as i32);
        assert!(wire.detail.contains("the session ended"), "{}", wire.detail);
        let unknown = CallError::from_wire(pb::CallError {
            tag: 1,
            code: 4242,
            detail: "from the future".into(),
        });
        assert_eq!(unknown.kind(), CallErrorKind::Dropped);
        assert!(unknown.detail().contains("4242"), "{unknown}");
        assert_eq!(
            CallError::from_wire(pb::CallError {
                tag: 1,
                code: 0,
                detail: String::new()
            })
            .kind(),
            CallErrorKind::Dropped
        );
    }
}
