//! The Session handshake as a state machine that does no I/O.
//!
//! Each state is named for what it expects next and is consumed by the
//! transition, so a state cannot be used twice. The driver (the session
//! actor) feeds envelopes in and sends the envelopes that come out:
//!
//! ```text
//! dialer:   AwaitChallenge --Challenge--> ChallengeReceived --prove()--> AwaitWelcome --Welcome--> Authenticated
//! acceptor: AwaitHello --Hello--> AwaitProof --Proof--> ProofVerified --welcome()--> Authenticated
//! ```
//!
//! `ChallengeReceived` and `ProofVerified` are the two points where the driver
//! learns who the peer is and may still refuse (self-connection, duplicate
//! session) before committing.

use std::sync::Arc;

use crate::{
    auth::cookie::{Cookie, NONCE_LEN, Nonce, Role, Transcript, prove, verify},
    pb::{self, envelope::Body},
    reason::DisconnectCause,
};

/// The lowest protocol version this build speaks.
pub(crate) const MIN_PROTOCOL_VERSION: u32 = 1;
/// The highest protocol version this build speaks.
/// Version 2 adds Ping and Pong.
pub(crate) const MAX_PROTOCOL_VERSION: u32 = 2;
/// The first version with Ping and Pong.
pub(crate) const PING_VERSION: u32 = 2;
/// Longest node name accepted, in bytes.
pub(crate) const MAX_NAME_LEN: usize = 255;

/// What this node brings to every handshake.
#[derive(Debug)]
pub(crate) struct Local {
    pub(crate) name: String,
    pub(crate) incarnation: u64,
    pub(crate) listen_addr: String,
    pub(crate) cookie: Cookie,
    pub(crate) min_version: u32,
    pub(crate) max_version: u32,
}

/// What the handshake learned about the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Peer {
    pub(crate) name: String,
    pub(crate) incarnation: u64,
    pub(crate) listen_addr: String,
    /// The agreed protocol version.
    pub(crate) version: u32,
}

/// Why a handshake failed. Each maps to one [`DisconnectCause`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HandshakeError {
    /// The peer's proof does not match our cookie.
    #[error("the peer's cookie proof is wrong")]
    BadProof,
    /// The version ranges do not overlap, or the peer chose one outside ours.
    #[error(
        "no common protocol version: ours {ours_min}..={ours_max}, theirs {theirs_min}..={theirs_max}"
    )]
    VersionMismatch {
        ours_min: u32,
        ours_max: u32,
        theirs_min: u32,
        theirs_max: u32,
    },
    /// The peer is this very process.
    #[error("refusing a session with this node itself")]
    SelfConnection,
    /// Another process uses this node's name.
    #[error("the peer uses this node's own name {0:?}")]
    DuplicateName(String),
    /// A well-formed envelope arrived at the wrong step.
    #[error("expected {expected}, got {got}")]
    Unexpected {
        expected: &'static str,
        got: &'static str,
    },
    /// An envelope's fields are out of range.
    #[error("malformed {what}: {detail}")]
    Malformed {
        what: &'static str,
        detail: &'static str,
    },
}

impl HandshakeError {
    /// The cause reported for this failure.
    pub(crate) fn cause(&self) -> DisconnectCause {
        match self {
            Self::BadProof => DisconnectCause::BadCookie,
            Self::VersionMismatch { .. } => DisconnectCause::VersionMismatch,
            Self::SelfConnection => DisconnectCause::SelfConnection,
            Self::DuplicateName(_) => DisconnectCause::DuplicateName,
            Self::Unexpected { .. } | Self::Malformed { .. } => DisconnectCause::ProtocolViolation,
        }
    }
}

/// A short name for an envelope's kind, for errors and logs.
pub(crate) fn kind(envelope: &pb::Envelope) -> &'static str {
    match &envelope.body {
        Some(Body::Hello(_)) => "Hello",
        Some(Body::Challenge(_)) => "Challenge",
        Some(Body::Proof(_)) => "Proof",
        Some(Body::Welcome(_)) => "Welcome",
        Some(Body::Ready(_)) => "Ready",
        Some(Body::Goodbye(_)) => "Goodbye",
        Some(Body::Peers(_)) => "PeerList",
        Some(Body::Spawned(_)) => "ActorSpawned",
        Some(Body::Terminated(_)) => "ActorTerminated",
        Some(Body::PgJoined(_)) => "PgJoined",
        Some(Body::PgLeft(_)) => "PgLeft",
        Some(Body::Cast(_)) => "Cast",
        Some(Body::Call(_)) => "Call",
        Some(Body::CallReply(_)) => "CallReply",
        Some(Body::CallError(_)) => "CallError",
        Some(Body::Ping(_)) => "Ping",
        Some(Body::Pong(_)) => "Pong",
        None => "an empty envelope",
    }
}

fn check_name(name: &str, what: &'static str) -> Result<(), HandshakeError> {
    if name.is_empty() {
        return Err(HandshakeError::Malformed {
            what,
            detail: "empty node name",
        });
    }
    if name.len() > MAX_NAME_LEN {
        return Err(HandshakeError::Malformed {
            what,
            detail: "node name longer than 255 bytes",
        });
    }
    Ok(())
}

fn check_listen_addr(addr: &str, what: &'static str) -> Result<(), HandshakeError> {
    if addr.len() > MAX_NAME_LEN {
        return Err(HandshakeError::Malformed {
            what,
            detail: "listen address longer than 255 bytes",
        });
    }
    Ok(())
}

fn check_nonce(nonce: &[u8], what: &'static str) -> Result<Nonce, HandshakeError> {
    nonce.try_into().map_err(|_| HandshakeError::Malformed {
        what,
        detail: "nonce is not 32 bytes",
    })
}

fn check_peer_identity(local: &Local, name: &str, incarnation: u64) -> Result<(), HandshakeError> {
    if incarnation == local.incarnation {
        return Err(HandshakeError::SelfConnection);
    }
    if name == local.name {
        return Err(HandshakeError::DuplicateName(name.to_owned()));
    }
    Ok(())
}

// ---------------------------------------------------------------- dialer

/// Dialer: Hello sent, waiting for the acceptor's Challenge.
#[derive(Debug)]
pub(crate) struct AwaitChallenge {
    local: Arc<Local>,
    nonce: Nonce,
}

impl AwaitChallenge {
    /// Starts a dialer handshake with a fresh `nonce`; send the returned Hello.
    pub(crate) fn start(local: Arc<Local>, nonce: Nonce) -> (Self, pb::Envelope) {
        let hello = Body::Hello(pb::Hello {
            name: local.name.clone(),
            nonce: nonce.to_vec(),
            min_version: local.min_version,
            max_version: local.max_version,
            incarnation: local.incarnation,
            listen_addr: local.listen_addr.clone(),
        });
        (Self { local, nonce }, pb::Envelope::from(hello))
    }

    /// Takes the acceptor's Challenge.
    pub(crate) fn on_envelope(
        self,
        env: pb::Envelope,
    ) -> Result<ChallengeReceived, HandshakeError> {
        let Some(Body::Challenge(ch)) = env.body else {
            return Err(HandshakeError::Unexpected {
                expected: "Challenge",
                got: kind(&env),
            });
        };
        check_name(&ch.name, "Challenge")?;
        check_listen_addr(&ch.listen_addr, "Challenge")?;
        let peer_nonce = check_nonce(&ch.nonce, "Challenge")?;
        if ch.version < self.local.min_version || ch.version > self.local.max_version {
            return Err(HandshakeError::VersionMismatch {
                ours_min: self.local.min_version,
                ours_max: self.local.max_version,
                theirs_min: ch.version,
                theirs_max: ch.version,
            });
        }
        check_peer_identity(&self.local, &ch.name, ch.incarnation)?;
        Ok(ChallengeReceived {
            local: self.local,
            nonce: self.nonce,
            peer_nonce,
            peer: Peer {
                name: ch.name,
                incarnation: ch.incarnation,
                listen_addr: ch.listen_addr,
                version: ch.version,
            },
        })
    }
}

/// Dialer: the acceptor is named; prove the cookie, or refuse.
#[derive(Debug)]
pub(crate) struct ChallengeReceived {
    local: Arc<Local>,
    nonce: Nonce,
    peer_nonce: Nonce,
    peer: Peer,
}

impl ChallengeReceived {
    /// Who the acceptor says it is (not yet proven).
    pub(crate) fn peer(&self) -> &Peer {
        &self.peer
    }

    /// Proves the cookie; send the returned Proof.
    pub(crate) fn prove(self) -> (AwaitWelcome, pb::Envelope) {
        let proof = prove(
            &self.local.cookie,
            Role::Dialer,
            &dialer_transcript(&self.local, &self.nonce, &self.peer, &self.peer_nonce),
        );
        let next = AwaitWelcome {
            local: self.local,
            nonce: self.nonce,
            peer_nonce: self.peer_nonce,
            peer: self.peer,
        };
        (next, pb::Envelope::from(Body::Proof(pb::Proof { proof })))
    }
}

/// Dialer: Proof sent, waiting for the acceptor's Welcome and its proof.
#[derive(Debug)]
pub(crate) struct AwaitWelcome {
    local: Arc<Local>,
    nonce: Nonce,
    peer_nonce: Nonce,
    peer: Peer,
}

impl AwaitWelcome {
    /// Takes the Welcome and checks the acceptor's proof.
    pub(crate) fn on_envelope(self, env: pb::Envelope) -> Result<Authenticated, HandshakeError> {
        let Some(Body::Welcome(w)) = env.body else {
            return Err(HandshakeError::Unexpected {
                expected: "Welcome",
                got: kind(&env),
            });
        };
        let t = dialer_transcript(&self.local, &self.nonce, &self.peer, &self.peer_nonce);
        if !verify(&self.local.cookie, Role::Acceptor, &t, &w.proof) {
            return Err(HandshakeError::BadProof);
        }
        Ok(Authenticated { peer: self.peer })
    }
}

// -------------------------------------------------------------- acceptor

/// Acceptor: waiting for the dialer's Hello.
#[derive(Debug)]
pub(crate) struct AwaitHello {
    local: Arc<Local>,
    nonce: Nonce,
}

impl AwaitHello {
    /// Starts an acceptor handshake with a fresh `nonce`.
    pub(crate) fn new(local: Arc<Local>, nonce: Nonce) -> Self {
        Self { local, nonce }
    }

    /// Takes the Hello; send the returned Challenge.
    pub(crate) fn on_envelope(
        self,
        env: pb::Envelope,
    ) -> Result<(AwaitProof, pb::Envelope), HandshakeError> {
        let Some(Body::Hello(hello)) = env.body else {
            return Err(HandshakeError::Unexpected {
                expected: "Hello",
                got: kind(&env),
            });
        };
        check_name(&hello.name, "Hello")?;
        check_listen_addr(&hello.listen_addr, "Hello")?;
        let peer_nonce = check_nonce(&hello.nonce, "Hello")?;
        if hello.min_version > hello.max_version {
            return Err(HandshakeError::Malformed {
                what: "Hello",
                detail: "min_version above max_version",
            });
        }
        let version = self.local.max_version.min(hello.max_version);
        if version < self.local.min_version.max(hello.min_version) {
            return Err(HandshakeError::VersionMismatch {
                ours_min: self.local.min_version,
                ours_max: self.local.max_version,
                theirs_min: hello.min_version,
                theirs_max: hello.max_version,
            });
        }
        check_peer_identity(&self.local, &hello.name, hello.incarnation)?;
        let challenge = Body::Challenge(pb::Challenge {
            name: self.local.name.clone(),
            nonce: self.nonce.to_vec(),
            version,
            incarnation: self.local.incarnation,
            listen_addr: self.local.listen_addr.clone(),
        });
        let next = AwaitProof {
            local: self.local,
            nonce: self.nonce,
            peer_nonce,
            peer_versions: (hello.min_version, hello.max_version),
            peer: Peer {
                name: hello.name,
                incarnation: hello.incarnation,
                listen_addr: hello.listen_addr,
                version,
            },
        };
        Ok((next, pb::Envelope::from(challenge)))
    }
}

/// Acceptor: Challenge sent, waiting for the dialer's Proof.
#[derive(Debug)]
pub(crate) struct AwaitProof {
    local: Arc<Local>,
    nonce: Nonce,
    peer_nonce: Nonce,
    peer: Peer,
    /// The version range the dialer offered in Hello.
    peer_versions: (u32, u32),
}

impl AwaitProof {
    /// Takes the Proof and checks it.
    pub(crate) fn on_envelope(self, env: pb::Envelope) -> Result<ProofVerified, HandshakeError> {
        let Some(Body::Proof(p)) = env.body else {
            return Err(HandshakeError::Unexpected {
                expected: "Proof",
                got: kind(&env),
            });
        };
        let t = acceptor_transcript(
            &self.local,
            &self.nonce,
            &self.peer,
            &self.peer_nonce,
            self.peer_versions,
        );
        if !verify(&self.local.cookie, Role::Dialer, &t, &p.proof) {
            return Err(HandshakeError::BadProof);
        }
        Ok(ProofVerified {
            local: self.local,
            nonce: self.nonce,
            peer_nonce: self.peer_nonce,
            peer: self.peer,
            peer_versions: self.peer_versions,
        })
    }
}

/// Acceptor: the dialer proved the cookie; welcome it, or refuse.
#[derive(Debug)]
pub(crate) struct ProofVerified {
    local: Arc<Local>,
    nonce: Nonce,
    peer_nonce: Nonce,
    peer: Peer,
    /// The version range the dialer offered in Hello.
    peer_versions: (u32, u32),
}

impl ProofVerified {
    /// Who the dialer is (proven).
    pub(crate) fn peer(&self) -> &Peer {
        &self.peer
    }

    /// Proves the cookie back; send the returned Welcome.
    pub(crate) fn welcome(self) -> (Authenticated, pb::Envelope) {
        let proof = prove(
            &self.local.cookie,
            Role::Acceptor,
            &acceptor_transcript(
                &self.local,
                &self.nonce,
                &self.peer,
                &self.peer_nonce,
                self.peer_versions,
            ),
        );
        (
            Authenticated { peer: self.peer },
            pb::Envelope::from(Body::Welcome(pb::Welcome { proof })),
        )
    }
}

/// Both sides proved the cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Authenticated {
    pub(crate) peer: Peer,
}

/// The transcript of a handshake between `dialer` and `acceptor`.
fn transcript<'a>(
    dialer: (&'a str, &'a Nonce, u64, &'a str),
    acceptor: (&'a str, &'a Nonce, u64, &'a str),
    dialer_versions: (u32, u32),
    version: u32,
) -> Transcript<'a> {
    debug_assert_eq!(dialer.1.len(), NONCE_LEN);
    Transcript {
        dialer_name: dialer.0,
        acceptor_name: acceptor.0,
        dialer_nonce: dialer.1,
        acceptor_nonce: acceptor.1,
        dialer_versions,
        version,
        dialer_incarnation: dialer.2,
        acceptor_incarnation: acceptor.2,
        dialer_listen_addr: dialer.3,
        acceptor_listen_addr: acceptor.3,
    }
}

/// The dialer's view: it is `local`, the acceptor is `peer`.
fn dialer_transcript<'a>(
    local: &'a Local,
    nonce: &'a Nonce,
    peer: &'a Peer,
    peer_nonce: &'a Nonce,
) -> Transcript<'a> {
    transcript(
        (&local.name, nonce, local.incarnation, &local.listen_addr),
        (&peer.name, peer_nonce, peer.incarnation, &peer.listen_addr),
        (local.min_version, local.max_version),
        peer.version,
    )
}

/// The acceptor's view: the dialer is `peer` (which offered `peer_versions`).
fn acceptor_transcript<'a>(
    local: &'a Local,
    nonce: &'a Nonce,
    peer: &'a Peer,
    peer_nonce: &'a Nonce,
    peer_versions: (u32, u32),
) -> Transcript<'a> {
    transcript(
        (&peer.name, peer_nonce, peer.incarnation, &peer.listen_addr),
        (&local.name, nonce, local.incarnation, &local.listen_addr),
        peer_versions,
        peer.version,
    )
}

#[cfg(test)]
mod tests;
