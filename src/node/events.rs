//! Session lifecycle events, for code that reacts to peers coming and going.

use super::{info::SessionInfo, redial::TargetInfo};
use crate::reason::DisconnectReason;

/// Receives a node's session events, in the order they happen for each
/// session: opened, authenticated, ready, then disconnected (a session that
/// fails early skips the later steps but always ends with disconnected).
///
/// Register one with [`subscribe`](crate::subscribe). The methods run on the
/// node server's task: keep them short and never block (send to a channel or
/// an actor instead).
pub trait NodeEventSubscription: Send + Sync + 'static {
    /// A Session stream opened (the peer is not yet named or authenticated).
    fn session_opened(&self, session: &SessionInfo) {
        let _ = session;
    }

    /// Both sides proved the cookie; `session.peer_name` is set.
    fn session_authenticated(&self, session: &SessionInfo) {
        let _ = session;
    }

    /// Both sides finished the first sync; the peer is usable.
    fn session_ready(&self, session: &SessionInfo) {
        let _ = session;
    }

    /// The session ended, for `reason`.
    fn session_disconnected(&self, session: &SessionInfo, reason: &DisconnectReason) {
        let _ = (session, reason);
    }

    /// A kept address lost its session or failed a dial; the node dials it
    /// again in `target.state`'s `retry_in`
    /// (see [`ReconnectConfig`](crate::ReconnectConfig)).
    fn reconnecting(&self, target: &TargetInfo) {
        let _ = target;
    }

    /// A kept address refused this node permanently (`target.last_error`
    /// says why): no more dials until
    /// [`keep_connected`](crate::keep_connected) asks again.
    fn reconnect_abandoned(&self, target: &TargetInfo) {
        let _ = target;
    }
}
