//! What a session knows of its peer's actors: one proxy per advertised actor,
//! joined to the same pg groups, under a node id unique to this session.
//!
//! Owns the proxies of one session and their pg memberships; reports each
//! change so the node's directory can answer lookups. Never touches the
//! stream: proxies send through the session's link.

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

/// A change to the proxies, reported to the node server's directory.
#[derive(Debug)]
pub(crate) enum ProxyChange {
    Up {
        pid: u64,
        name: Option<String>,
        /// Its message type's name, as the peer advertised it.
        message_type: Option<String>,
        /// That type's description, if the peer sent one.
        schema: Option<Arc<MessageSchema>>,
        cell: ActorCell,
    },
    Down {
        pid: u64,
    },
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct PeerMirror {
    node_id: u64,
    link: Arc<SessionLink>,
    /// Where [`crate::send`] finds the link by `node_id`.
    _findable: Registered,
    proxies: HashMap<u64, ActorRef<ProxyMsg>>,
    /// The message types the peer described, by name.
    schemas: HashMap<String, Arc<MessageSchema>>,
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

impl PeerMirror {
    pub(crate) fn new(link: Arc<SessionLink>) -> Self {
        let node_id = next_node_id();
        Self {
            node_id,
            _findable: register(node_id, &link),
            link,
            proxies: HashMap::new(),
            schemas: HashMap::new(),
        }
    }

    /// The proxy for the peer's actor `actor`, started if new.
    async fn ensure(
        &mut self,
        supervisor: &ActorCell,
        mut actor: pb::ActorRef,
        changes: &mut Vec<ProxyChange>,
    ) -> Option<ActorCell> {
        if let Some(description) = actor.message.take() {
            self.learn(description);
        }
        if let Some(p) = self.proxies.get(&actor.pid) {
            return Some(p.get_cell());
        }
        let name = non_empty(actor.name);
        let message_type = non_empty(actor.message_type);
        let label = format!(
            "{}@{}",
            name.clone().unwrap_or_else(|| actor.pid.to_string()),
            self.link.peer()
        );
        let id = ActorId::Remote {
            node_id: self.node_id,
            pid: actor.pid,
        };
        let state = ProxyState {
            link: self.link.clone(),
            pid: actor.pid,
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
                debug!(peer = %self.link.peer(), pid = actor.pid, ?name, "proxy started");
                let cell = proxy.get_cell();
                let schema = message_type
                    .as_ref()
                    .and_then(|t| self.schemas.get(t))
                    .cloned();
                changes.push(ProxyChange::Up {
                    pid: actor.pid,
                    name,
                    message_type,
                    schema,
                    cell: cell.clone(),
                });
                self.proxies.insert(actor.pid, proxy);
                Some(cell)
            }
            Err(e) => {
                warn!(peer = %self.link.peer(), pid = actor.pid, error = %e, "could not start a proxy");
                None
            }
        }
    }

    /// Keeps a message type's description the peer sent; one that does not
    /// parse is logged and left out (its actors are still reachable, with
    /// payload bytes).
    fn learn(&mut self, description: pb::MessageDescription) {
        let name = description.type_name.clone();
        match MessageSchema::from_pb(description) {
            Ok(schema) => {
                self.schemas.insert(name, Arc::new(schema));
            }
            Err(e) => {
                warn!(peer = %self.link.peer(), message_type = %name, error = %e, "ignoring a message type description that does not parse");
            }
        }
    }

    /// Applies one advertisement envelope from the peer. Returns the proxy
    /// changes for the node server's directory.
    pub(crate) async fn apply(
        &mut self,
        supervisor: &ActorCell,
        body: AdvertBody,
    ) -> Vec<ProxyChange> {
        let mut changes = Vec::new();
        match body {
            AdvertBody::Spawned(s) => {
                if let Some(actor) = s.actor {
                    self.ensure(supervisor, actor, &mut changes).await;
                }
            }
            AdvertBody::Terminated(t) => {
                if let Some(p) = self.proxies.remove(&t.pid) {
                    end_proxy(&p.get_cell());
                    changes.push(ProxyChange::Down { pid: t.pid });
                }
            }
            AdvertBody::PgJoined(j) => {
                let mut cells = Vec::with_capacity(j.actors.len());
                for actor in j.actors {
                    if let Some(cell) = self.ensure(supervisor, actor, &mut changes).await {
                        cells.push(cell);
                    }
                }
                if !cells.is_empty() {
                    ractor::pg::join_scoped(j.scope, j.group, cells);
                }
            }
            AdvertBody::PgLeft(l) => {
                let cells: Vec<ActorCell> = l
                    .pids
                    .iter()
                    .filter_map(|pid| self.proxies.get(pid).map(ActorRef::get_cell))
                    .collect();
                if !cells.is_empty() {
                    ractor::pg::leave_scoped(l.scope, l.group, cells);
                }
            }
        }
        changes
    }

    /// Forgets the proxy with actor id `id` (it failed).
    pub(crate) fn forget(&mut self, id: ActorId) -> Option<ProxyChange> {
        let pid = *self.proxies.iter().find(|(_, p)| p.get_id() == id)?.0;
        self.proxies.remove(&pid);
        Some(ProxyChange::Down { pid })
    }

    /// Ends every proxy (the session ended); their pg memberships go with
    /// them. Each first drains its mailbox into the closed link, so a call
    /// still queued in it fails as a disconnect and a queued cast is counted
    /// as refused, rather than vanishing with the mailbox.
    pub(crate) fn stop_all(&mut self) {
        for (_, p) in self.proxies.drain() {
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
