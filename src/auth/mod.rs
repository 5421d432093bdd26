//! Who may join: the cookie, the challenge-response proofs, and the session
//! handshake that uses them.
//!
//! The handshake logic does no I/O: `handshake` is a state machine with
//! consuming transitions, and the session machine drives it with the peer's
//! envelopes. That keeps every refusal path testable without sockets.
//!
//! Owns the secret and every check made on the peer's identity; knows
//! nothing of streams, sessions or the node.

mod cookie;
mod handshake;

pub use cookie::Cookie;
pub(crate) use cookie::{NONCE_LEN, Nonce};
pub(crate) use handshake::{
    AwaitChallenge, AwaitHello, AwaitProof, AwaitWelcome, ChallengeReceived, HandshakeError, Local,
    MAX_NAME_LEN, MAX_PROTOCOL_VERSION, MIN_PROTOCOL_VERSION, PING_VERSION, Peer, ProofVerified,
    kind,
};
