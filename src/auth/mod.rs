//! Who may join, and who may ask: the cookie, the challenge-response proofs,
//! the session handshake that uses them, and the bearer tokens of the unary
//! RPCs (derived from the cookie too).
//!
//! The handshake logic does no I/O: `handshake` is a state machine with
//! consuming transitions, and the session machine drives it with the peer's
//! envelopes. That keeps every refusal path testable without sockets.
//!
//! Owns the secret and every check made on the peer's identity; knows
//! nothing of streams, sessions or the node.

mod cookie;
mod handshake;
mod token;

pub use cookie::Cookie;
pub(crate) use cookie::{NONCE_LEN, Nonce};
// The fuzzing harness of the session machine checks every proof the machine
// accepts against one it computes itself.
#[cfg(any(test, feature = "fuzz"))]
pub(crate) use cookie::{Role, Transcript, prove};
pub(crate) use handshake::{
    AwaitChallenge, AwaitHello, AwaitProof, AwaitWelcome, ChallengeReceived, HandshakeError, Local,
    MAX_NAME_LEN, MAX_PROTOCOL_VERSION, MIN_PROTOCOL_VERSION, PING_VERSION, Peer, ProofVerified,
    kind,
};
pub use token::{MAX_TOKEN_TTL, MintError, TokenScope, UnknownTokenScope, mint_token};
pub(crate) use token::{TokenError, TokenVerifier, unix_now};
