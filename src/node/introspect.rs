//! Answers to ListActors and ListGroups, from the advertised actors, pg and
//! the session table's proxy owners.

use std::collections::HashMap;

use ractor::ActorId;

use crate::{pb, registry::Adverts};

/// A local actor this node advertises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalActorInfo {
    /// Its local id.
    pub pid: u64,
    /// Its name, if it has one.
    pub name: Option<String>,
    /// The (scope, group) pairs it belongs to.
    pub groups: Vec<(String, String)>,
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
            }
        })
        .collect()
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
