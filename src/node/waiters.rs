//! Connect waiters: the callers of `connect` and `client_connect` waiting
//! for a session to open, become ready, or fail.
//!
//! Owns who waits for what and decides each answer; the node server sends
//! the answers. Generic over the reply so the rules are tested without
//! actors. Never looks at sessions itself: the server tells it what
//! happened and, when a dial lost a race, which session won.

use std::time::Instant;

use super::{
    connect::ConnectError,
    info::{SessionId, SessionInfo, SessionState},
};
use crate::reason::{DisconnectCause, DisconnectReason};

/// What a waiter waits on.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// The session its dial opened.
    Session(SessionId),
    /// Any ready session with this peer (its own dial lost a race).
    Peer(String),
}

#[derive(Debug)]
struct Waiter<R> {
    target: Target,
    /// Wait for Ready, not just the open stream.
    until_ready: bool,
    deadline: Instant,
    reply: R,
}

/// An answer to send: the reply and what it says.
pub(crate) type Answer<R> = (R, Result<SessionInfo, ConnectError>);

/// What to do with one waiter.
// Lives for one loop step on the stack; boxing the answer would only add an
// allocation.
#[allow(clippy::large_enum_variant)]
enum Decision {
    Wait,
    Answer(Result<SessionInfo, ConnectError>),
    Retarget(String),
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Waiters<R> {
    waiting: Vec<Waiter<R>>,
}

impl<R> Default for Waiters<R> {
    fn default() -> Self {
        Self {
            waiting: Vec::new(),
        }
    }
}

impl<R> Waiters<R> {
    /// A caller waits on the session dial `session` opens, until `deadline`.
    pub(crate) fn add(
        &mut self,
        session: SessionId,
        until_ready: bool,
        deadline: Instant,
        reply: R,
    ) {
        self.waiting.push(Waiter {
            target: Target::Session(session),
            until_ready,
            deadline,
            reply,
        });
    }

    /// How many callers wait.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.waiting.len()
    }

    /// The one take-and-answer loop: asks `decide` about each waiter and
    /// takes out the ones it answers.
    fn take(&mut self, mut decide: impl FnMut(&Waiter<R>) -> Decision) -> Vec<Answer<R>> {
        let mut answers = Vec::new();
        let mut kept = Vec::with_capacity(self.waiting.len());
        for mut w in self.waiting.drain(..) {
            match decide(&w) {
                Decision::Wait => kept.push(w),
                Decision::Retarget(peer) => {
                    w.target = Target::Peer(peer);
                    kept.push(w);
                }
                Decision::Answer(result) => answers.push((w.reply, result)),
            }
        }
        self.waiting = kept;
        answers
    }

    /// A session's stream opened: `client_connect` callers have their answer.
    pub(crate) fn opened(&mut self, session: &SessionInfo) -> Vec<Answer<R>> {
        self.take(|w| match &w.target {
            Target::Session(id) if *id == session.id && !w.until_ready => {
                Decision::Answer(Ok(session.clone()))
            }
            _ => Decision::Wait,
        })
    }

    /// A session is ready: everyone waiting on it, or on its peer, is done.
    pub(crate) fn ready(&mut self, session: &SessionInfo) -> Vec<Answer<R>> {
        let peer = session.peer_name.as_deref();
        self.take(|w| match &w.target {
            Target::Session(id) if *id == session.id => Decision::Answer(Ok(session.clone())),
            Target::Peer(p) if Some(p.as_str()) == peer => Decision::Answer(Ok(session.clone())),
            _ => Decision::Wait,
        })
    }

    /// The dial (or the start) of `session` failed.
    pub(crate) fn failed(&mut self, session: SessionId, error: &ConnectError) -> Vec<Answer<R>> {
        self.take(|w| match &w.target {
            Target::Session(id) if *id == session => Decision::Answer(Err(error.clone())),
            _ => Decision::Wait,
        })
    }

    /// `session` (with `peer`, if it was named) ended for `reason`. A dial
    /// that lost a simultaneous connect, or found a session already being set
    /// up, waits for the session that won instead: `survivor` is this node's
    /// session with the same peer, if any.
    pub(crate) fn closed(
        &mut self,
        session: SessionId,
        peer: Option<&str>,
        reason: &DisconnectReason,
        survivor: Option<&SessionInfo>,
    ) -> Vec<Answer<R>> {
        let lost_a_race = matches!(
            reason.cause,
            DisconnectCause::SimultaneousConnect | DisconnectCause::AlreadyConnected
        );
        self.take(|w| {
            if w.target != Target::Session(session) {
                return Decision::Wait;
            }
            match (peer, lost_a_race) {
                (Some(name), true) => match survivor {
                    // The caller has what it asked for.
                    Some(s) if s.state == SessionState::Ready => Decision::Answer(Ok(s.clone())),
                    None if reason.cause == DisconnectCause::AlreadyConnected => {
                        Decision::Answer(Err(ConnectError::AlreadyConnected {
                            peer: name.to_owned(),
                        }))
                    }
                    _ => Decision::Retarget(name.to_owned()),
                },
                _ => Decision::Answer(Err(ConnectError::from_reason(reason.clone()))),
            }
        })
    }

    /// Callers whose deadline passed by `now` time out.
    pub(crate) fn expired(&mut self, now: Instant) -> Vec<Answer<R>> {
        self.take(|w| {
            if w.deadline <= now {
                Decision::Answer(Err(ConnectError::Timeout))
            } else {
                Decision::Wait
            }
        })
    }

    /// The node is stopping: every caller hears so.
    pub(crate) fn stopped(&mut self) -> Vec<Answer<R>> {
        self.take(|_| Decision::Answer(Err(ConnectError::NodeStopped)))
    }
}

#[cfg(test)]
mod tests;
