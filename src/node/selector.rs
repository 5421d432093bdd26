//! What a unary Cast or Call asks the node for, and what it gets: the
//! selector from the request and the actors found (see `reach`).
//!
//! A leaf of the node: the server's messages carry these types.

use std::sync::Arc;

use ractor::ActorCell;

use crate::wire::{MessageSchema, schema_for};

/// How to pick the actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Selector {
    /// By its id on its node.
    Pid(u64),
    /// By its registered name.
    Name(String),
    /// The members of a pg group.
    Group {
        /// The pg scope.
        scope: String,
        /// The group.
        group: String,
    },
}

/// What a unary Cast or Call asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Wanted {
    pub(crate) selector: Selector,
    /// The node the actor lives on; `None`: this node for a pid, any node
    /// otherwise.
    pub(crate) node: Option<String>,
    /// Every group member rather than one.
    pub(crate) all: bool,
}

/// An actor found for a unary Cast or Call.
#[derive(Debug, Clone)]
pub(crate) struct Reached {
    /// The node it lives on.
    pub(crate) node: String,
    /// Its id there.
    pub(crate) pid: u64,
    /// Its name, if any.
    pub(crate) name: Option<String>,
    /// The actor here, or its proxy.
    pub(crate) cell: ActorCell,
    /// Its message type's description, when known here.
    pub(crate) schema: Option<Arc<MessageSchema>>,
}

impl Reached {
    /// The local actor `pid` of node `node`.
    pub(crate) fn local(node: &str, pid: u64, cell: ActorCell) -> Self {
        Self {
            node: node.to_owned(),
            pid,
            name: cell.get_name(),
            schema: schema_for(cell.get_type_id()).map(Arc::new),
            cell,
        }
    }

    /// `pong on node-a`, `pid 7 on node-b`: for messages.
    pub(crate) fn label(&self) -> String {
        match &self.name {
            Some(name) => format!("{name:?} on {}", self.node),
            None => format!("pid {} on {}", self.pid, self.node),
        }
    }
}
