//! One Session stream with one peer: a state machine that holds the rules,
//! and the two thin drivers that feed it.
//!
//! - [`machine`]: the lifecycle without I/O (handshake, sync, Ready, the
//!   end), stepped by unit tests.
//! - the reader task (`reader`): feeds the machine every inbound frame and
//!   carries out what needs no actor (sending control envelopes, delivering
//!   traffic) at once; it hands the rest to the actor, and traffic too while
//!   the actor has handed-over work left, so all runs in stream order.
//! - the session actor (`driver`): feeds the machine local requests (the
//!   node server's snapshot, changes, close; the deadline) and carries out
//!   the actions that need an actor or the node server: claims, the mirror
//!   of the peer's actors, reports, the end.
//! - [`span`]: the session's tracing spans, which all of the above run in.
//!
//! Owns its stream, its link and its proxies. Talks to the node server only
//! through [`crate::node::messages`]; never touches the node's tables.

mod driver;
mod machine;
mod reader;
pub(crate) mod span;

pub(crate) use driver::{NodeSession, SessionArgs, SessionMsg};

/// Plays `data` as a script against a session machine and its honest peer
/// (what the cargo-fuzz target `session` runs); the first promise broken.
#[cfg(feature = "fuzz")]
pub(crate) fn fuzz_session(data: &[u8]) -> Result<(), String> {
    let (setup, steps) = machine::harness::script_from_bytes(data);
    machine::harness::Run::play(setup, &steps)
}

/// Plays `bytes` as one frame against session machines at several points
/// of a session (what the cargo-fuzz target `frame` runs); the first
/// promise broken.
#[cfg(feature = "fuzz")]
pub(crate) fn fuzz_frame(bytes: &[u8]) -> Result<(), String> {
    machine::harness::play_frame(bytes)
}
