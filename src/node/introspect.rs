//! Answers to ListActors and ListGroups, from the advertised actors, pg and
//! the session table's proxy owners.

use std::collections::HashMap;

use ractor::{ActorCell, ActorId};

use super::selector::Reached;
use crate::{
    pb,
    registry::Adverts,
    wire::{MessageSchema, schema_for},
};

/// A local actor this node advertises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalActorInfo {
    /// Its local id.
    pub pid: u64,
    /// Its name, if it has one.
    pub name: Option<String>,
    /// The (scope, group) pairs it belongs to.
    pub groups: Vec<(String, String)>,
    /// Its message type's name, if the type describes itself.
    pub message_type: Option<String>,
}

/// Which local actor to describe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActorTarget {
    /// By its local id.
    Pid(u64),
    /// By its registered name.
    Name(String),
}

/// A local actor and the shape of the messages it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorDescription {
    /// The actor.
    pub actor: LocalActorInfo,
    /// Its message type's description; `None` if the type does not describe
    /// itself.
    pub message: Option<MessageSchema>,
}

/// A pg group and its members as this node sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfo {
    /// The pg scope.
    pub scope: String,
    /// The group.
    pub group: String,
    /// Members: local actors and proxies of this node's peers.
    pub members: Vec<GroupMember>,
}

/// One member of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    /// The node the actor lives on.
    pub node: String,
    /// Its id on that node.
    pub pid: u64,
    /// Its name, if it has one.
    pub name: Option<String>,
}

pub(crate) fn local_actors(adverts: &Adverts) -> Vec<LocalActorInfo> {
    // Every local member's groups, found with one pass over pg.
    let mut groups: HashMap<ActorId, Vec<(String, String)>> = HashMap::new();
    for key in ractor::pg::which_scopes_and_groups() {
        for cell in ractor::pg::get_scoped_local_members(&key.get_scope(), &key.get_group()) {
            groups
                .entry(cell.get_id())
                .or_default()
                .push((key.get_scope(), key.get_group()));
        }
    }
    adverts
        .all()
        .into_iter()
        .map(|(pid, cell)| {
            let mut g = groups.remove(&cell.get_id()).unwrap_or_default();
            g.sort();
            LocalActorInfo {
                pid,
                name: cell.get_name(),
                groups: g,
                message_type: schema_for(cell.get_type_id()).map(|s| s.type_name),
            }
        })
        .collect()
}

/// The (scope, group) pairs `cell` (a local actor or a proxy) belongs to.
fn groups_of(cell: &ActorCell) -> Vec<(String, String)> {
    let id = cell.get_id();
    let mut groups: Vec<(String, String)> = ractor::pg::which_scopes_and_groups()
        .into_iter()
        .filter(|key| {
            ractor::pg::get_scoped_members(&key.get_scope(), &key.get_group())
                .iter()
                .any(|member| member.get_id() == id)
        })
        .map(|key| (key.get_scope(), key.get_group()))
        .collect();
    groups.sort();
    groups
}

/// An actor a unary request found (here or on a peer), described.
pub(crate) fn describe_reached(actor: &Reached) -> ActorDescription {
    let message = actor.schema.as_deref().cloned();
    ActorDescription {
        actor: LocalActorInfo {
            pid: actor.pid,
            name: actor.name.clone(),
            groups: groups_of(&actor.cell),
            message_type: message.as_ref().map(|m| m.type_name.clone()),
        },
        message,
    }
}

/// `owners` maps this node's proxies to (peer, pid); proxies of other node
/// servers in the same process are left out.
pub(crate) fn groups(
    local: &str,
    owners: &HashMap<ActorId, (String, u64, Option<String>)>,
) -> Vec<GroupInfo> {
    let mut keys = ractor::pg::which_scopes_and_groups();
    keys.sort();
    keys.into_iter()
        .filter_map(|key| {
            let mut members: Vec<GroupMember> =
                ractor::pg::get_scoped_members(&key.get_scope(), &key.get_group())
                    .into_iter()
                    .filter_map(|cell| match cell.get_id() {
                        ActorId::Local(pid) => Some(GroupMember {
                            node: local.to_owned(),
                            pid,
                            name: cell.get_name(),
                        }),
                        id @ ActorId::Remote { .. } => {
                            owners.get(&id).map(|(peer, pid, name)| GroupMember {
                                node: peer.clone(),
                                pid: *pid,
                                name: name.clone(),
                            })
                        }
                    })
                    .collect();
            members.sort_by(|a, b| (&a.node, a.pid).cmp(&(&b.node, b.pid)));
            (!members.is_empty()).then(|| GroupInfo {
                scope: key.get_scope(),
                group: key.get_group(),
                members,
            })
        })
        .collect()
}

impl LocalActorInfo {
    pub(crate) fn to_pb(&self) -> pb::LocalActor {
        pb::LocalActor {
            pid: self.pid,
            name: self.name.clone().unwrap_or_default(),
            groups: self
                .groups
                .iter()
                .map(|(scope, group)| pb::ScopedGroup {
                    scope: scope.clone(),
                    group: group.clone(),
                })
                .collect(),
            message_type: self.message_type.clone().unwrap_or_default(),
        }
    }
}

impl ActorDescription {
    pub(crate) fn to_pb(&self) -> pb::ActorDescription {
        pb::ActorDescription {
            actor: Some(self.actor.to_pb()),
            message: self.message.as_ref().map(MessageSchema::to_pb),
        }
    }
}

impl GroupInfo {
    pub(crate) fn to_pb(&self) -> pb::GroupInfo {
        pb::GroupInfo {
            scope: self.scope.clone(),
            group: self.group.clone(),
            members: self
                .members
                .iter()
                .map(|m| pb::GroupMember {
                    node: m.node.clone(),
                    pid: m.pid,
                    name: m.name.clone().unwrap_or_default(),
                })
                .collect(),
        }
    }
}
