//! Finding the actors a unary Cast or Call is for: by pid, by name or by pg
//! group, on this node or on a peer through its proxy.
//!
//! Owns the lookup rules the proto documents for `ActorSelector` (this
//! node's actors first, then peers in name order); reads the advertised
//! actors, pg and the session table's proxies, and sends nothing.

use std::collections::HashSet;

use ractor::{ActorCell, ActorId};

use super::{
    introspect::ActorTarget,
    selector::{Reached, Selector, Wanted},
    table::{Found, Proxy, SessionTable},
};
use crate::{
    registry::{Adverts, local_pid},
    remote_actor::LocalActors,
};

/// `cell`, if it is a local actor this node advertises.
fn advertised(local: &str, adverts: &Adverts, cell: &ActorCell) -> Option<Reached> {
    let pid = local_pid(cell)?;
    adverts
        .contains(pid)
        .then(|| Reached::local(local, pid, cell.clone()))
}

/// The actor `target` names among those this node (named `local`)
/// advertises.
pub(crate) fn advertised_actor(
    local: &str,
    adverts: &Adverts,
    target: &ActorTarget,
) -> Option<Reached> {
    match target {
        ActorTarget::Pid(pid) => adverts
            .get(*pid)
            .map(|cell| Reached::local(local, *pid, cell)),
        ActorTarget::Name(name) => ractor::registry::where_is(name.clone())
            .and_then(|cell| advertised(local, adverts, &cell)),
    }
}

/// An actor [`reach`] found: here, or a peer's, whose proxy may not be
/// started yet (the node server has the session start it, then makes it a
/// [`Reached`] with [`reached`]).
#[derive(Debug)]
pub(crate) enum Candidate {
    Here(Reached),
    Peer(Found),
}

/// A peer's actor, reached through its proxy `cell`.
pub(crate) fn reached(found: Found, cell: ActorCell) -> Reached {
    Reached {
        node: found.peer,
        pid: found.pid,
        name: found.proxy.name.as_deref().map(str::to_owned),
        cell,
        schema: found.proxy.schema(),
    }
}

/// Where the actor may live, from `Wanted::node`.
enum Place<'a> {
    Anywhere,
    Here,
    Peer(&'a str),
}

/// The actors `wanted` names: one, or every group member when `all`.
///
/// # Errors
/// A readable NOT_FOUND message when there is none.
pub(crate) fn reach<H>(
    local: &str,
    adverts: &Adverts,
    table: &SessionTable<H>,
    wanted: &Wanted,
) -> Result<Vec<Candidate>, String> {
    let place = match wanted.node.as_deref() {
        None => Place::Anywhere,
        Some(n) if n == local => Place::Here,
        Some(n) => {
            if !table.is_ready_peer(n) {
                return Err(format!(
                    "no node {n:?}: this is {local:?}, and {n:?} is not a ready peer of it"
                ));
            }
            Place::Peer(n)
        }
    };
    let here = !matches!(place, Place::Peer(_));
    let peer_ok = |peer: &str| match place {
        Place::Anywhere => true,
        Place::Here => false,
        Place::Peer(want) => want == peer,
    };
    let remote = |keep: &dyn Fn(u64, &Proxy) -> bool| {
        table
            .find_actors(|peer, pid, p| peer_ok(peer) && keep(pid, p))
            .into_iter()
            .map(Candidate::Peer)
    };
    let where_ = match &place {
        Place::Anywhere => format!("on {local:?} or its peers"),
        Place::Here => format!("on {local:?}"),
        Place::Peer(p) => format!("on {p:?}"),
    };
    match &wanted.selector {
        Selector::Pid(pid) => {
            let found = match place {
                Place::Peer(_) => remote(&|p, _| p == *pid).next(),
                _ => advertised_actor(local, adverts, &ActorTarget::Pid(*pid)).map(Candidate::Here),
            };
            found.map(|r| vec![r]).ok_or_else(|| {
                let on = match place {
                    Place::Peer(p) => p,
                    _ => local,
                };
                format!("no advertised actor with pid {pid} on {on:?}")
            })
        }
        Selector::Name(name) => {
            let mine = here
                .then(|| advertised_actor(local, adverts, &ActorTarget::Name(name.clone())))
                .flatten()
                .map(Candidate::Here);
            mine.or_else(|| remote(&|_, p| p.name.as_deref() == Some(name.as_str())).next())
                .map(|r| vec![r])
                .ok_or_else(|| format!("no advertised actor named {name:?} {where_}"))
        }
        Selector::Group { scope, group } => {
            let members = ractor::pg::get_scoped_members(scope, group);
            let mut mine: Vec<Reached> = if here {
                members
                    .iter()
                    .filter_map(|cell| advertised(local, adverts, cell))
                    .collect()
            } else {
                Vec::new()
            };
            mine.sort_by_key(|r| r.pid);
            let ids: HashSet<ActorId> = members.iter().map(ActorCell::get_id).collect();
            let mut found: Vec<Candidate> = mine.into_iter().map(Candidate::Here).collect();
            // pg members are proxies that are started.
            found.extend(remote(&|_, p| {
                p.cell.as_ref().is_some_and(|c| ids.contains(&c.get_id()))
            }));
            if found.is_empty() {
                return Err(format!(
                    "pg group {group:?} (scope {scope:?}) has no member {where_}"
                ));
            }
            if !wanted.all {
                found.truncate(1);
            }
            Ok(found)
        }
    }
}
