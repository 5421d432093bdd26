//! Exactly one session per pair of nodes: the decisions, without I/O.
//!
//! A dialer learns the peer's name from the Challenge and *claims* it before
//! proving the cookie; an acceptor claims the dialer's name after checking its
//! proof, just before it sends Welcome (its commit point). The node server
//! asks the arbiter at both points, one claim at a time, so the rules below
//! see a consistent table:
//!
//! - A session with a peer that restarted (another incarnation) replaces the
//!   old one once it is established.
//! - An established session with the same incarnation refuses any new one.
//! - Two dials in the same direction: the second is refused.
//! - Both nodes dialled each other (simultaneous connect): the session dialled
//!   by the node with the smaller name wins. The acceptor applies this when it
//!   commits; a dialer whose peer already holds an established session stops
//!   before proving. Both nodes apply the same rule to the same names, so they
//!   agree on the survivor.

use std::collections::HashMap;

use crate::reason::{DisconnectCause, DisconnectReason};

use super::info::SessionId;
use crate::transport::Direction;

#[derive(Debug)]
struct Claim {
    peer: String,
    incarnation: u64,
    direction: Direction,
    established: bool,
}

/// The outcome of a claim.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Go on; first close these other sessions, each with its reason.
    Proceed(Vec<(SessionId, DisconnectReason)>),
    /// Refuse this session with this reason.
    Refuse(DisconnectReason),
}

/// The table of named sessions of one node.
#[derive(Debug)]
pub(crate) struct Arbiter {
    own_name: String,
    claims: HashMap<SessionId, Claim>,
}

impl Arbiter {
    pub(crate) fn new(own_name: impl Into<String>) -> Self {
        Self {
            own_name: own_name.into(),
            claims: HashMap::new(),
        }
    }

    /// Session `sid` (dialled in `direction`) has learned that its peer is
    /// `peer` in process `incarnation`. Inbound claims are commits: when the
    /// verdict is `Proceed` the session is established.
    pub(crate) fn claim(
        &mut self,
        sid: SessionId,
        direction: Direction,
        peer: &str,
        incarnation: u64,
    ) -> Verdict {
        let mut close = Vec::new();
        for (&other, c) in &self.claims {
            if other == sid || c.peer != peer {
                continue;
            }
            if c.incarnation != incarnation {
                if direction == Direction::Inbound {
                    close.push((other, superseded(peer)));
                }
                continue;
            }
            if c.established {
                return Verdict::Refuse(DisconnectReason::local(
                    DisconnectCause::AlreadyConnected,
                    format!("already connected to {peer}"),
                ));
            }
            match (direction, c.direction) {
                (Direction::Outbound, Direction::Outbound) => {
                    return Verdict::Refuse(DisconnectReason::local(
                        DisconnectCause::AlreadyConnected,
                        format!("a session to {peer} is already being set up"),
                    ));
                }
                (Direction::Inbound, Direction::Outbound) => {
                    if peer < self.own_name.as_str() {
                        close.push((other, simultaneous(peer)));
                    } else {
                        return Verdict::Refuse(simultaneous(&self.own_name));
                    }
                }
                // Inbound claims are established at once, so an unestablished
                // claim is always outbound.
                (_, Direction::Inbound) => {}
            }
        }
        for (other, _) in &close {
            self.claims.remove(other);
        }
        self.claims.insert(
            sid,
            Claim {
                peer: peer.to_owned(),
                incarnation,
                direction,
                established: direction == Direction::Inbound,
            },
        );
        Verdict::Proceed(close)
    }

    /// An outbound session received a valid Welcome. Returns the sessions to
    /// close now: older incarnations of the peer and, should a race have left
    /// two established sessions, the loser of the tie-break (possibly `sid`).
    pub(crate) fn established(&mut self, sid: SessionId) -> Vec<(SessionId, DisconnectReason)> {
        let Some(me) = self.claims.get_mut(&sid) else {
            return Vec::new();
        };
        me.established = true;
        let (peer, incarnation, direction) = (me.peer.clone(), me.incarnation, me.direction);
        let mut close = Vec::new();
        for (&other, c) in &self.claims {
            if other == sid || c.peer != peer {
                continue;
            }
            if c.incarnation != incarnation {
                close.push((other, superseded(&peer)));
            } else if c.established {
                // Keep the session dialled by the smaller name.
                let i_dialled = direction == Direction::Outbound;
                let mine_dialled_by_me_wins = self.own_name.as_str() < peer.as_str();
                let loser = if i_dialled == mine_dialled_by_me_wins {
                    other
                } else {
                    sid
                };
                close.push((
                    loser,
                    simultaneous(if mine_dialled_by_me_wins {
                        &self.own_name
                    } else {
                        &peer
                    }),
                ));
            }
        }
        for (other, _) in &close {
            self.claims.remove(other);
        }
        close
    }

    /// Session `sid` ended.
    pub(crate) fn release(&mut self, sid: SessionId) {
        self.claims.remove(&sid);
    }
}

fn superseded(peer: &str) -> DisconnectReason {
    DisconnectReason::local(
        DisconnectCause::Superseded,
        format!("{peer} restarted; a session with its new incarnation replaces this one"),
    )
}

fn simultaneous(winner_dialler: &str) -> DisconnectReason {
    DisconnectReason::local(
        DisconnectCause::SimultaneousConnect,
        format!("both nodes dialled each other; keeping the session dialled by {winner_dialler}"),
    )
}

#[cfg(test)]
mod tests;
