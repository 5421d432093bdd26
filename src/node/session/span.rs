//! The session's spans: one per session, that every log line of the session
//! runs inside (its actor's handlers, its reader and writer tasks, the node
//! server's lines about it, its proxies' refusals), and one per phase
//! (`handshake`, then `sync`) that lasts as long as the phase.
//!
//! The session span carries `node`, `session` (its id on this node) and
//! `direction` from the start, and `peer` and `incarnation` (the peer's
//! process, which changes when it restarts) once the peer has proved who it
//! is. With a subscriber that shows spans (tracing-subscriber's `fmt` does)
//! a line reads `session{node=a session=3 direction=Outbound peer=b
//! incarnation=...}: ready`.

use tracing::{Span, field::Empty, info_span};

use crate::{auth::Peer, transport::Direction};

/// The span of session `id` of node `node`.
pub(crate) fn session(node: &str, id: u64, direction: Direction) -> Span {
    info_span!(
        "session",
        node = %node,
        session = id,
        direction = ?direction,
        peer = Empty,
        incarnation = Empty,
    )
}

/// Records who the peer is, once it has proved it.
pub(crate) fn identified(span: &Span, peer: &Peer) {
    span.record("peer", peer.name.as_str());
    span.record("incarnation", peer.incarnation);
}

/// The handshake phase: from the stream's start until the peer is
/// authenticated (or the session ends).
pub(crate) fn handshake(session: &Span) -> Span {
    info_span!(parent: session, "handshake")
}

/// The sync phase: from authentication until both sides are ready (or the
/// session ends).
pub(crate) fn sync(session: &Span) -> Span {
    info_span!(parent: session, "sync")
}
