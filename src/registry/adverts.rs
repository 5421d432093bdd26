//! The local actors this node offers to its peers.
//!
//! The node server keeps this table from ractor's pid registry and pg
//! events; sessions read it (as [`LocalActors`]) to authorize incoming casts
//! and calls: only an advertised, remotable actor may be addressed from
//! outside.

use std::{
    any::TypeId,
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
    actors: RwLock<Actors>,
}

#[derive(Debug, Default)]
struct Actors {
    by_pid: HashMap<u64, ActorCell>,
    /// How many advertised actors have each message type.
    types: HashMap<TypeId, usize>,
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
        self.read().by_pid.get(&pid).cloned()
    }
}

impl Adverts {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Actors> {
        self.actors.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Actors> {
        self.actors.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds `cell`; `true` if it was not advertised before.
    pub(crate) fn insert(&self, pid: u64, cell: ActorCell) -> bool {
        let mut actors = self.write();
        let type_id = cell.get_type_id();
        let new = actors.by_pid.insert(pid, cell).is_none();
        if new {
            *actors.types.entry(type_id).or_default() += 1;
        }
        new
    }

    /// Removes `pid`; `true` if it was advertised.
    pub(crate) fn remove(&self, pid: u64) -> bool {
        let mut actors = self.write();
        let Some(cell) = actors.by_pid.remove(&pid) else {
            return false;
        };
        let type_id = cell.get_type_id();
        if let Some(n) = actors.types.get_mut(&type_id) {
            *n -= 1;
            if *n == 0 {
                actors.types.remove(&type_id);
            }
        }
        true
    }

    pub(crate) fn contains(&self, pid: u64) -> bool {
        self.read().by_pid.contains_key(&pid)
    }

    /// How many advertised actors have the message type `type_id`.
    pub(crate) fn count_of_type(&self, type_id: TypeId) -> usize {
        self.read().types.get(&type_id).copied().unwrap_or_default()
    }

    pub(crate) fn all(&self) -> Vec<(u64, ActorCell)> {
        let mut all: Vec<(u64, ActorCell)> = self
            .read()
            .by_pid
            .iter()
            .map(|(p, c)| (*p, c.clone()))
            .collect();
        all.sort_by_key(|(p, _)| *p);
        all
    }
}
