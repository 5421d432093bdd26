//! Who may join: the cookie, the challenge-response proofs, and the session
//! handshake that uses them.
//!
//! The handshake logic does no I/O: [`handshake`] is a state machine with
//! consuming transitions, and the session actor drives it with frames from the
//! stream. That keeps every refusal path testable without sockets.

mod cookie;
pub(crate) mod handshake;

pub use cookie::Cookie;
pub(crate) use cookie::{NONCE_LEN, Nonce, Role, Transcript, prove, verify};
