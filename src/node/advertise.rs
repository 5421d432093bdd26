//! What this node tells its peers about its own actors: the snapshot sent at
//! sync, and the changes that follow from ractor's pid-registry and pg events.
//!
//! Only local actors whose message type is remotable are advertised (and, in
//! [`AdvertiseMode::NamedOrGrouped`], only named or grouped ones). Proxies of
//! other nodes' actors are never re-advertised.

use std::collections::HashSet;

use ractor::{
    ActorCell, ActorId, ActorStatus, pg::GroupChangeMessage, registry::PidLifecycleEvent,
};

use super::config::AdvertiseFilter;
use crate::{
    pb::{self, envelope::Body},
    registry::{AdvertiseMode, Adverts, local_pid},
    wire::schema_for,
};

/// Every local actor in some pg group, found with one pass over the groups.
fn grouped_ids() -> HashSet<ActorId> {
    ractor::pg::which_scopes_and_groups()
        .iter()
        .flat_map(|key| ractor::pg::get_scoped_local_members(&key.get_scope(), &key.get_group()))
        .map(|cell| cell.get_id())
        .collect()
}

/// What decides which actors are advertised.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    pub(crate) mode: AdvertiseMode,
    pub(crate) filter: Option<AdvertiseFilter>,
}

/// Whether `cell` is offered to peers under `policy`; `in_group` says whether
/// it belongs to a pg group (the callers know without scanning pg: a join
/// arrives as its own event).
pub(crate) fn advertisable(cell: &ActorCell, policy: &Policy, in_group: bool) -> bool {
    // A late pg or spawn event can arrive after the actor's Terminate; a
    // stopping actor is never (re)advertised.
    cell.get_status() < ActorStatus::Stopping
        && cell.get_id().is_local()
        && cell.supports_remoting()
        && policy.filter.as_ref().is_none_or(|f| f.allows(cell))
        && match policy.mode {
            AdvertiseMode::AllRemotable => true,
            AdvertiseMode::NamedOrGrouped => cell.get_name().is_some() || in_group,
        }
}

/// `cell` as peers see it; with its message type's description when
/// `describe`.
fn actor_ref(pid: u64, cell: &ActorCell, describe: bool) -> pb::ActorRef {
    let schema = schema_for(cell.get_type_id());
    pb::ActorRef {
        pid,
        name: cell.get_name().unwrap_or_default(),
        message: schema.as_ref().filter(|_| describe).map(|s| s.to_pb()),
        message_type: schema.map(|s| s.type_name).unwrap_or_default(),
    }
}

/// A freshly advertised actor's ref: described when it is the only
/// advertised actor of its type, since every peer that synced while another
/// one was advertised got the description then.
fn new_actor_ref(pid: u64, cell: &ActorCell, adverts: &Adverts) -> pb::ActorRef {
    actor_ref(pid, cell, adverts.count_of_type(cell.get_type_id()) == 1)
}

/// Fills `adverts` with the actors that exist now (at node start).
pub(crate) fn scan(adverts: &Adverts, mode: &Policy) {
    let grouped = match mode.mode {
        AdvertiseMode::AllRemotable => HashSet::new(),
        AdvertiseMode::NamedOrGrouped => grouped_ids(),
    };
    for cell in ractor::registry::get_all_pids() {
        if let Some(pid) = local_pid(&cell)
            && advertisable(&cell, mode, grouped.contains(&cell.get_id()))
        {
            adverts.insert(pid, cell);
        }
    }
}

/// Everything a new peer must know: every advertised actor (the first of
/// each message type with its description), then every pg membership of
/// advertised actors, scope by scope.
pub(crate) fn snapshot(adverts: &Adverts) -> Vec<pb::Envelope> {
    let mut described = HashSet::new();
    let mut out: Vec<pb::Envelope> = adverts
        .all()
        .iter()
        .map(|(pid, cell)| {
            let describe = described.insert(cell.get_type_id());
            pb::Envelope::from(Body::Spawned(pb::ActorSpawned {
                actor: Some(actor_ref(*pid, cell, describe)),
            }))
        })
        .collect();
    let mut keys = ractor::pg::which_scopes_and_groups();
    keys.sort();
    for key in keys {
        let actors: Vec<pb::ActorRef> =
            ractor::pg::get_scoped_local_members(&key.get_scope(), &key.get_group())
                .iter()
                .filter_map(|cell| {
                    let pid = local_pid(cell)?;
                    adverts.contains(pid).then(|| actor_ref(pid, cell, false))
                })
                .collect();
        if !actors.is_empty() {
            out.push(pb::Envelope::from(Body::PgJoined(pb::PgJoined {
                scope: key.get_scope(),
                group: key.get_group(),
                actors,
            })));
        }
    }
    out
}

/// Applies a pid-registry event; returns the envelope to tell peers, if any.
pub(crate) fn on_pid_event(
    adverts: &Adverts,
    mode: &Policy,
    event: PidLifecycleEvent,
) -> Option<pb::Envelope> {
    match event {
        PidLifecycleEvent::Spawn(cell) => {
            let pid = local_pid(&cell)?;
            // A fresh actor is in no group yet; if it joins one, that join
            // arrives as its own event and advertises it then.
            (advertisable(&cell, mode, false) && adverts.insert(pid, cell.clone())).then(|| {
                pb::Envelope::from(Body::Spawned(pb::ActorSpawned {
                    actor: Some(new_actor_ref(pid, &cell, adverts)),
                }))
            })
        }
        PidLifecycleEvent::Terminate(cell) => {
            let pid = local_pid(&cell)?;
            adverts
                .remove(pid)
                .then(|| pb::Envelope::from(Body::Terminated(pb::ActorTerminated { pid })))
        }
    }
}

/// Applies a pg event; returns the envelopes to tell peers.
pub(crate) fn on_pg_event(
    adverts: &Adverts,
    mode: &Policy,
    change: GroupChangeMessage,
) -> Vec<pb::Envelope> {
    match change {
        GroupChangeMessage::Join(scope, group, cells) => {
            let mut out = Vec::new();
            let mut actors = Vec::new();
            for cell in cells {
                let Some(pid) = local_pid(&cell) else {
                    continue;
                };
                if !cell.supports_remoting() {
                    continue;
                }
                // Joining a group can make an actor advertisable.
                if !adverts.contains(pid)
                    && advertisable(&cell, mode, true)
                    && adverts.insert(pid, cell.clone())
                {
                    out.push(pb::Envelope::from(Body::Spawned(pb::ActorSpawned {
                        actor: Some(new_actor_ref(pid, &cell, adverts)),
                    })));
                }
                if adverts.contains(pid) {
                    actors.push(actor_ref(pid, &cell, false));
                }
            }
            if !actors.is_empty() {
                out.push(pb::Envelope::from(Body::PgJoined(pb::PgJoined {
                    scope,
                    group,
                    actors,
                })));
            }
            out
        }
        GroupChangeMessage::Leave(scope, group, cells) => {
            let pids: Vec<u64> = cells
                .iter()
                .filter_map(local_pid)
                .filter(|pid| adverts.contains(*pid))
                .collect();
            if pids.is_empty() {
                Vec::new()
            } else {
                vec![pb::Envelope::from(Body::PgLeft(pb::PgLeft {
                    scope,
                    group,
                    pids,
                }))]
            }
        }
    }
}
