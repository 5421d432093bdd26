//! The local actors this node offers to its peers.
//!
//! The node server keeps this table from ractor's pid registry and pg
//! events; sessions read it (as [`LocalActors`]) to authorize incoming casts
//! and calls: only an advertised, remotable actor may be addressed from
//! outside.

use std::{
    collections::HashMap,
    sync::{PoisonError, RwLock},
};

use ractor::{ActorCell, ActorId};

use crate::remote_actor::LocalActors;

/// Which local actors a node advertises to its peers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdvertiseMode {
    /// Every actor whose message type is remotable (derives
    /// `RactorClusterMessage`), as ractor_cluster does.
    #[default]
    AllRemotable,
    /// Only remotable actors that have a name or belong to a pg group. Keeps
    /// proxies (actors × peers) down when most actors are private.
    NamedOrGrouped,
}

/// The advertised actors by local pid.
#[derive(Debug, Default)]
pub(crate) struct Adverts {
    actors: RwLock<HashMap<u64, ActorCell>>,
}

/// The local pid of a local actor.
pub(crate) fn local_pid(cell: &ActorCell) -> Option<u64> {
    match cell.get_id() {
        ActorId::Local(pid) => Some(pid),
        ActorId::Remote { .. } => None,
    }
}

impl LocalActors for Adverts {
    fn get(&self, pid: u64) -> Option<ActorCell> {
        self.actors
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&pid)
            .cloned()
    }
}

impl Adverts {
    /// Adds `cell`; `true` if it was not advertised before.
    pub(crate) fn insert(&self, pid: u64, cell: ActorCell) -> bool {
        self.actors
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(pid, cell)
            .is_none()
    }

    /// Removes `pid`; `true` if it was advertised.
    pub(crate) fn remove(&self, pid: u64) -> bool {
        self.actors
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&pid)
            .is_some()
    }

    pub(crate) fn contains(&self, pid: u64) -> bool {
        self.actors
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(&pid)
    }

    pub(crate) fn all(&self) -> Vec<(u64, ActorCell)> {
        let mut all: Vec<(u64, ActorCell)> = self
            .actors
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(p, c)| (*p, c.clone()))
            .collect();
        all.sort_by_key(|(p, _)| *p);
        all
    }
}
