//! What a session knows of its peer's actors: a record of every advertised
//! actor, and a proxy for those something needs, under a node id unique to
//! this session.
//!
//! An advertised actor starts as a plain record (pid, name, message type):
//! a few dozen bytes, where a proxy actor costs kilobytes. Its proxy is
//! started the first time something needs it: a pg join (pg holds actor
//! cells), a lookup by name or pid. Its `ActorId` is fixed by the record
//! (`node_id`, pid), so the step is invisible to users. Owns the proxies of
//! one session and their pg memberships; reports each change so the node's
//! directory can answer lookups. Never touches the stream: proxies send
//! through the session's link.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use ractor::{ActorCell, ActorId, ActorRef, ActorRuntime, ActorStatus};
use tracing::{debug, warn};

use crate::{
    pb,
    remote_actor::{ProxyMsg, ProxyState, Registered, RemoteActor, SessionLink, register},
    wire::MessageSchema,
};

/// Node ids for remote `ActorId`s: never 0, never reused in this process, so
/// a restarted peer's actors can never alias an old proxy.
static NEXT_NODE_ID: AtomicU64 = AtomicU64::new(1);

/// A fresh node id for a new session.
pub(crate) fn next_node_id() -> u64 {
    NEXT_NODE_ID.fetch_add(1, Ordering::Relaxed)
}

/// A message type of the peer's actors, held once however many actors
/// have it.
#[derive(Debug)]
pub(crate) struct ActorType {
    /// Its name, as the peer advertised it.
    pub(crate) name: String,
    /// Its description, if the peer sent one.
    pub(crate) schema: Option<Arc<MessageSchema>>,
}

/// A change to what the mirror knows, reported to the node server's
/// directory.
#[derive(Debug)]
pub(crate) enum ProxyChange {
    /// The peer advertised an actor (no proxy yet).
    Advertised {
        pid: u64,
        name: Option<Arc<str>>,
        /// Its message type, if the peer named one.
        message_type: Option<Arc<ActorType>>,
    },
    /// A proxy now stands for the advertised actor `pid`.
    Started { pid: u64, cell: ActorCell },
    /// The actor is gone (or its proxy failed).
    Down { pid: u64 },
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct PeerMirror {
    node_id: u64,
    link: Arc<SessionLink>,
    /// Where [`crate::send`] finds the link by `node_id`.
    _findable: Registered,
    /// Every actor the peer advertises, by pid, with its proxy once
    /// something needed one. The rest of a record (name, type) is in the
    /// node's directory: this is what the mirror needs per actor.
    known: HashMap<u64, Option<ActorRef<ProxyMsg>>>,
    /// The peer's message types, by name.
    types: HashMap<String, Arc<ActorType>>,
}

impl PeerMirror {
    pub(crate) fn new(link: Arc<SessionLink>) -> Self {
        let node_id = next_node_id();
        Self {
            node_id,
            _findable: register(node_id, &link),
            link,
            known: HashMap::new(),
            types: HashMap::new(),
        }
    }

    /// The message type named `name`, held once.
    fn actor_type(&mut self, name: String) -> Option<Arc<ActorType>> {
        if name.is_empty() {
            return None;
        }
        let kind = self.types.entry(name).or_insert_with_key(|name| {
            Arc::new(ActorType {
                name: name.clone(),
                schema: None,
            })
        });
        Some(kind.clone())
    }

    /// Records the peer's actor `actor` if it is new; returns its pid and
    /// name.
    fn record(
        &mut self,
        mut actor: pb::ActorRef,
        changes: &mut Vec<ProxyChange>,
    ) -> (u64, Option<Arc<str>>) {
        if let Some(description) = actor.message.take() {
            self.learn(description);
        }
        let pid = actor.pid;
        let name: Option<Arc<str>> = (!actor.name.is_empty()).then(|| actor.name.into());
        if !self.known.contains_key(&pid) {
            let message_type = self.actor_type(actor.message_type);
            changes.push(ProxyChange::Advertised {
                pid,
                name: name.clone(),
                message_type,
            });
            self.known.insert(pid, None);
        }
        (pid, name)
    }

    /// The proxy for the advertised actor `pid` (named `name`, for logs),
    /// started if it has none; `None` if the peer does not advertise `pid`
    /// (any more).
    async fn proxy(
        &mut self,
        supervisor: &ActorCell,
        pid: u64,
        name: Option<&str>,
        changes: &mut Vec<ProxyChange>,
    ) -> Option<ActorCell> {
        let slot = self.known.get_mut(&pid)?;
        if let Some(p) = slot {
            return Some(p.get_cell());
        }
        let label = match name {
            Some(name) => format!("{name}@{}", self.link.peer()),
            None => format!("{pid}@{}", self.link.peer()),
        };
        let id = ActorId::Remote {
            node_id: self.node_id,
            pid,
        };
        let state = ProxyState {
            link: self.link.clone(),
            pid,
            label,
        };
        match ActorRuntime::spawn_linked_remote(
            // No name: ractor unregisters a stopping actor's *name* from its
            // process-wide registry whoever holds it, so a named proxy would,
            // on stopping, evict a local actor of the same name. The name
            // lives in the label and in the node's directory instead.
            None,
            RemoteActor,
            id,
            state,
            supervisor.clone(),
        )
        .await
        {
            Ok((proxy, _)) => {
                debug!(peer = %self.link.peer(), pid, ?name, "proxy started");
                let cell = proxy.get_cell();
                *slot = Some(proxy);
                changes.push(ProxyChange::Started {
                    pid,
                    cell: cell.clone(),
                });
                Some(cell)
            }
            Err(e) => {
                warn!(peer = %self.link.peer(), pid, error = %e, "could not start a proxy");
                None
            }
        }
    }

    /// Keeps a message type's description the peer sent, for the actors
    /// of that type recorded from now on; one that does not parse is logged
    /// and left out (its actors are still reachable, with payload bytes).
    fn learn(&mut self, description: pb::MessageDescription) {
        let name = description.type_name.clone();
        match MessageSchema::from_pb(description) {
            Ok(schema) => {
                let kind = ActorType {
                    name: name.clone(),
                    schema: Some(Arc::new(schema)),
                };
                self.types.insert(name, Arc::new(kind));
            }
            Err(e) => {
                warn!(peer = %self.link.peer(), message_type = %name, error = %e, "ignoring a message type description that does not parse");
            }
        }
    }

    /// Applies one advertisement envelope from the peer, adding the proxy
    /// changes for the node server's directory to `changes`.
    pub(crate) async fn apply(
        &mut self,
        supervisor: &ActorCell,
        body: AdvertBody,
        changes: &mut Vec<ProxyChange>,
    ) {
        match body {
            AdvertBody::Spawned(s) => {
                if let Some(actor) = s.actor {
                    self.record(actor, changes);
                }
            }
            AdvertBody::Terminated(t) => {
                if let Some(slot) = self.known.remove(&t.pid) {
                    if let Some(p) = slot {
                        end_proxy(&p.get_cell());
                    }
                    changes.push(ProxyChange::Down { pid: t.pid });
                }
            }
            AdvertBody::PgJoined(j) => {
                // pg holds cells: a member needs its proxy.
                let mut cells = Vec::with_capacity(j.actors.len());
                for actor in j.actors {
                    let (pid, name) = self.record(actor, changes);
                    if let Some(cell) = self.proxy(supervisor, pid, name.as_deref(), changes).await
                    {
                        cells.push(cell);
                    }
                }
                if !cells.is_empty() {
                    ractor::pg::join_scoped(j.scope, j.group, cells);
                }
            }
            AdvertBody::PgLeft(l) => {
                // Only actors with a proxy can be in a group.
                let cells: Vec<ActorCell> = l
                    .pids
                    .iter()
                    .filter_map(|pid| self.known.get(pid)?.as_ref().map(ActorRef::get_cell))
                    .collect();
                if !cells.is_empty() {
                    ractor::pg::leave_scoped(l.scope, l.group, cells);
                }
            }
        }
    }

    /// The proxies of the advertised actors `wanted` (pid and name),
    /// started where they have none yet; pids the peer does not advertise
    /// are left out.
    pub(crate) async fn proxies(
        &mut self,
        supervisor: &ActorCell,
        wanted: Vec<(u64, Option<Arc<str>>)>,
        changes: &mut Vec<ProxyChange>,
    ) -> Vec<(u64, ActorCell)> {
        let mut out = Vec::with_capacity(wanted.len());
        for (pid, name) in wanted {
            if let Some(cell) = self.proxy(supervisor, pid, name.as_deref(), changes).await {
                out.push((pid, cell));
            }
        }
        out
    }

    /// Forgets the actor whose proxy has id `id` (the proxy failed).
    pub(crate) fn forget(&mut self, id: ActorId) -> Option<ProxyChange> {
        let ActorId::Remote { node_id, pid } = id else {
            return None;
        };
        if node_id != self.node_id {
            return None;
        }
        self.known.remove(&pid)?;
        Some(ProxyChange::Down { pid })
    }

    /// Ends every proxy (the session ended); their pg memberships go with
    /// them. Each first drains its mailbox into the closed link, so a call
    /// still queued in it fails as a disconnect and a queued cast is counted
    /// as refused, rather than vanishing with the mailbox.
    pub(crate) fn stop_all(&mut self) {
        for p in self.known.drain().filter_map(|(_, slot)| slot) {
            end_proxy(&p.get_cell());
        }
    }
}

/// Ends a proxy: it drains its mailbox first rather than drop what is in it.
/// When its session ended, into the closed link (a queued call fails as a
/// disconnect, a queued cast is counted as refused); when its actor stopped
/// on the peer, to the peer (which answers a call with UNKNOWN_ACTOR and
/// counts a cast as for an unknown actor), and a cast [`crate::send`]
/// reserved room for gives the room back. A proxy already draining is left
/// to it, since a stop would drop what it has not drained yet.
pub(crate) fn end_proxy(proxy: &ActorCell) {
    if proxy.get_status() < ActorStatus::Draining && proxy.drain().is_err() {
        proxy.stop(None);
    }
}

/// The advertisement envelopes a mirror applies.
#[derive(Debug)]
pub(crate) enum AdvertBody {
    Spawned(pb::ActorSpawned),
    Terminated(pb::ActorTerminated),
    PgJoined(pb::PgJoined),
    PgLeft(pb::PgLeft),
}
