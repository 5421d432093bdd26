//! The session table: every session of a node in any state, the dials under
//! way, and the directory of the proxies each session holds, with the
//! questions the node server asks of them.
//!
//! Owns the node's view of its sessions; answers lookups, transitive
//! introductions and introspection from it. Never talks to a session or the
//! network: the server carries out what the table answers. Generic over the
//! session handle so it is tested without actors.

use std::{collections::HashMap, sync::Arc};

use ractor::{ActorCell, ActorId};

use super::info::{SessionId, SessionInfo, SessionState};
use crate::{
    auth::Peer,
    pb,
    registry::{ActorType, ProxyChange, RemoteActorInfo},
    remote_actor::SessionLink,
    wire::MessageSchema,
};

/// A peer's actor as the directory knows it.
#[derive(Debug, Clone)]
pub(crate) struct Proxy {
    pub(crate) name: Option<Arc<str>>,
    /// Its message type (name and description), shared by the actors of
    /// that type.
    pub(crate) message_type: Option<Arc<ActorType>>,
    /// Its proxy, once the session started one (see the mirror).
    pub(crate) cell: Option<ActorCell>,
}

impl Proxy {
    /// Its message type's description, if the peer sent one.
    pub(crate) fn schema(&self) -> Option<Arc<MessageSchema>> {
        self.message_type.as_ref()?.schema.clone()
    }
}

/// A peer's actor the directory found.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    /// The session that knows it.
    pub(crate) session: SessionId,
    pub(crate) peer: String,
    pub(crate) pid: u64,
    pub(crate) proxy: Proxy,
}

impl Found {
    /// What a lookup answers, given the proxy's cell.
    pub(crate) fn into_info(self, cell: ActorCell) -> RemoteActorInfo {
        RemoteActorInfo {
            peer: self.peer,
            pid: self.pid,
            name: self.proxy.name.as_deref().map(str::to_owned),
            message_type: self.proxy.message_type.as_ref().map(|t| t.name.clone()),
            cell,
        }
    }
}

/// One session.
#[derive(Debug)]
pub(crate) struct Entry<H> {
    /// What the server talks to the session through.
    pub(crate) handle: H,
    info: SessionInfo,
    /// Set once authenticated.
    link: Option<Arc<SessionLink>>,
    /// The peer's actors, by pid.
    proxies: HashMap<u64, Proxy>,
}

impl<H> Entry<H> {
    /// The session's info with its counters as they are now.
    pub(crate) fn snapshot(&self) -> SessionInfo {
        let mut info = self.info.clone();
        if let Some(link) = &self.link {
            info.counters = link.counters();
            info.round_trip = link.stats.round_trip();
        }
        info.remote_actors = self.proxies.len();
        info
    }

    pub(crate) fn info(&self) -> &SessionInfo {
        &self.info
    }

    /// The session's link, once authenticated.
    pub(crate) fn link(&self) -> Option<&Arc<SessionLink>> {
        self.link.as_ref()
    }

    /// The cells of the proxies started so far.
    pub(crate) fn proxy_cells(&self) -> impl Iterator<Item = &ActorCell> {
        self.proxies.values().filter_map(|p| p.cell.as_ref())
    }

    fn known_peer(&self) -> Option<pb::KnownPeer> {
        Some(pb::KnownPeer {
            name: self.info.peer_name.clone()?,
            listen_addr: self.info.peer_listen_addr.clone()?,
        })
    }
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct SessionTable<H> {
    next_id: SessionId,
    sessions: HashMap<SessionId, Entry<H>>,
    /// Addresses being dialled, until the session is named or ends.
    dialing: HashMap<SessionId, String>,
}

impl<H> Default for SessionTable<H> {
    fn default() -> Self {
        Self {
            next_id: 1,
            sessions: HashMap::new(),
            dialing: HashMap::new(),
        }
    }
}

impl<H> SessionTable<H> {
    /// A fresh session id.
    pub(crate) fn next_id(&mut self) -> SessionId {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// A dial to `addr` started for session `id`.
    pub(crate) fn dialing(&mut self, id: SessionId, addr: String) {
        self.dialing.insert(id, addr);
    }

    /// The dial for `id` failed before a session existed.
    pub(crate) fn dial_failed(&mut self, id: SessionId) {
        self.dialing.remove(&id);
    }

    /// A session's stream opened.
    pub(crate) fn opened(&mut self, handle: H, info: SessionInfo) {
        self.sessions.insert(
            info.id,
            Entry {
                handle,
                info,
                link: None,
                proxies: HashMap::new(),
            },
        );
    }

    /// The handshake named the peer of `id` (it is no longer just a dial).
    pub(crate) fn named(&mut self, id: SessionId, peer: &Peer) {
        self.dialing.remove(&id);
        if let Some(e) = self.sessions.get_mut(&id) {
            e.info.peer_name = Some(peer.name.clone());
            e.info.peer_listen_addr = Some(peer.listen_addr.clone()).filter(|a| !a.is_empty());
            e.info.peer_incarnation = Some(peer.incarnation);
            e.info.protocol_version = Some(peer.version);
        }
    }

    /// Session `id` authenticated `peer`; `None` if it is gone.
    pub(crate) fn authenticated(
        &mut self,
        id: SessionId,
        peer: &Peer,
        link: Arc<SessionLink>,
    ) -> Option<&Entry<H>> {
        self.named(id, peer);
        let e = self.sessions.get_mut(&id)?;
        e.link = Some(link);
        e.info.state = SessionState::Authenticated;
        Some(e)
    }

    /// Session `id` is ready; `None` if it is gone.
    pub(crate) fn ready(&mut self, id: SessionId) -> Option<SessionInfo> {
        let e = self.sessions.get_mut(&id)?;
        e.info.state = SessionState::Ready;
        Some(e.info.clone())
    }

    /// The peer's actors known to session `id` came, went or got a proxy.
    pub(crate) fn proxies(&mut self, id: SessionId, changes: Vec<ProxyChange>) {
        let Some(e) = self.sessions.get_mut(&id) else {
            return;
        };
        for change in changes {
            match change {
                ProxyChange::Advertised {
                    pid,
                    name,
                    message_type,
                } => {
                    e.proxies.insert(
                        pid,
                        Proxy {
                            name,
                            message_type,
                            cell: None,
                        },
                    );
                }
                ProxyChange::Started { pid, cell } => {
                    if let Some(p) = e.proxies.get_mut(&pid) {
                        p.cell = Some(cell);
                    }
                }
                ProxyChange::Down { pid } => {
                    e.proxies.remove(&pid);
                }
            }
        }
    }

    /// Session `id` ended: its entry, if it had one.
    pub(crate) fn remove(&mut self, id: SessionId) -> Option<Entry<H>> {
        self.dialing.remove(&id);
        self.sessions.remove(&id)
    }

    /// Every entry, emptying the table.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = Entry<H>> + '_ {
        self.dialing.clear();
        self.sessions.drain().map(|(_, e)| e)
    }

    pub(crate) fn get(&self, id: SessionId) -> Option<&Entry<H>> {
        self.sessions.get(&id)
    }

    /// The session whose handle is `handle`.
    pub(crate) fn find(&self, is: impl Fn(&H) -> bool) -> Option<SessionId> {
        self.sessions
            .iter()
            .find(|(_, e)| is(&e.handle))
            .map(|(id, _)| *id)
    }

    /// Every session's handle.
    pub(crate) fn handles(&self) -> impl Iterator<Item = &H> {
        self.sessions.values().map(|e| &e.handle)
    }

    /// The handles of sessions past authentication: the ones that get
    /// advertisement changes (earlier ones get them in their snapshot).
    pub(crate) fn authenticated_handles(&self) -> impl Iterator<Item = &H> {
        self.sessions
            .values()
            .filter(|e| e.info.state >= SessionState::Authenticated)
            .map(|e| &e.handle)
    }

    /// Every session as it is now, ordered by id.
    pub(crate) fn snapshots(&self) -> Vec<SessionInfo> {
        let mut all: Vec<SessionInfo> = self.sessions.values().map(Entry::snapshot).collect();
        all.sort_by_key(|s| s.id);
        all
    }

    /// Each session's state (no counters read).
    pub(crate) fn states(&self) -> impl Iterator<Item = SessionState> + '_ {
        self.sessions.values().map(|e| e.info.state)
    }

    /// Sessions that are authenticated or ready.
    pub(crate) fn peer_count(&self) -> usize {
        self.sessions
            .values()
            .filter(|e| e.info.state >= SessionState::Authenticated)
            .count()
    }

    /// A session with the peer named `name`, in any state.
    pub(crate) fn with_peer(&self, name: &str) -> Option<&SessionInfo> {
        self.sessions
            .values()
            .map(|e| &e.info)
            .find(|i| i.peer_name.as_deref() == Some(name))
    }

    /// Whether some session with the peer named `name` is authenticated (or
    /// ready).
    pub(crate) fn authenticated_with(&self, name: &str) -> bool {
        self.sessions.values().any(|e| {
            e.info.peer_name.as_deref() == Some(name) && e.info.state >= SessionState::Authenticated
        })
    }

    /// Every session with the peer named `name`, in any state, by id.
    pub(crate) fn sessions_with(&self, name: &str) -> Vec<SessionId> {
        let mut ids: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, e)| e.info.peer_name.as_deref() == Some(name))
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        ids
    }

    /// The name of a ready peer that listens on `addr`, if any.
    pub(crate) fn ready_peer_at(&self, addr: &str) -> Option<String> {
        let addr = addr.strip_prefix("http://").unwrap_or(addr);
        self.sessions.values().find_map(|e| {
            let listens_there = e.info.peer_listen_addr.as_deref() == Some(addr);
            (e.info.state == SessionState::Ready && listens_there)
                .then(|| e.info.peer_name.clone())
                .flatten()
        })
    }

    /// Transitive mode: of the peers a peer named, the addresses to dial.
    /// Known ones are left out: this node itself, a peer with a session in
    /// any state (by name or listen address), an address already dialled.
    pub(crate) fn unknown_peers(&self, own_name: &str, peers: Vec<pb::KnownPeer>) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for p in peers {
            let known = p.name == own_name
                || self.sessions.values().any(|e| {
                    e.info.peer_name.as_deref() == Some(p.name.as_str())
                        || e.info.peer_listen_addr.as_deref() == Some(p.listen_addr.as_str())
                })
                || self.dialing.values().any(|a| *a == p.listen_addr)
                || out.contains(&p.listen_addr);
            if !known && !p.listen_addr.is_empty() {
                out.push(p.listen_addr);
            }
        }
        out
    }

    /// Transitive mode: when session `newcomer` is ready, it hears of every
    /// other ready peer it can dial, and each of them hears of it if it can
    /// be dialled (it gave a listen address). Each pair is one session and
    /// the peers to tell it about.
    pub(crate) fn introductions(
        &self,
        newcomer: SessionId,
    ) -> Vec<(SessionId, Vec<pb::KnownPeer>)> {
        let Some(entry) = self.sessions.get(&newcomer) else {
            return Vec::new();
        };
        let new = entry.known_peer();
        let mut others: Vec<(SessionId, Option<pb::KnownPeer>)> = self
            .sessions
            .iter()
            .filter(|(id, e)| **id != newcomer && e.info.state == SessionState::Ready)
            .map(|(id, e)| (*id, e.known_peer()))
            .collect();
        others.sort_by_key(|(id, _)| *id);
        // A newcomer that only dials (no listen address) still hears of the
        // others; the others hear of it only if they could dial it.
        let dialable: Vec<pb::KnownPeer> = others.iter().filter_map(|(_, k)| k.clone()).collect();
        let mut out = Vec::new();
        if !dialable.is_empty() {
            out.push((newcomer, dialable));
        }
        if let Some(new) = new {
            out.extend(others.into_iter().map(|(id, _)| (id, vec![new.clone()])));
        }
        out
    }

    /// Whether a session with the peer `name` is ready.
    pub(crate) fn is_ready_peer(&self, name: &str) -> bool {
        self.sessions.values().any(|e| {
            e.info.state == SessionState::Ready && e.info.peer_name.as_deref() == Some(name)
        })
    }

    /// Every peer actor of every ready session: (session, peer, pid,
    /// actor), in no particular order.
    pub(crate) fn ready_proxies(&self) -> impl Iterator<Item = (SessionId, &str, u64, &Proxy)> {
        self.sessions
            .iter()
            .filter(|(_, e)| e.info.state == SessionState::Ready)
            .filter_map(|(id, e)| Some((*id, e.info.peer_name.as_deref()?, e)))
            .flat_map(|(id, peer, e)| e.proxies.iter().map(move |(pid, p)| (id, peer, *pid, p)))
    }

    /// The ready peers' actors that `keep` (given peer, pid and actor)
    /// wants, ordered by peer then pid.
    pub(crate) fn find_actors(&self, keep: impl Fn(&str, u64, &Proxy) -> bool) -> Vec<Found> {
        let mut found: Vec<Found> = self
            .ready_proxies()
            .filter(|(_, peer, pid, p)| keep(peer, *pid, p))
            .map(|(session, peer, pid, p)| Found {
                session,
                peer: peer.to_owned(),
                pid,
                proxy: p.clone(),
            })
            .collect();
        found.sort_by(|a, b| (&a.peer, a.pid).cmp(&(&b.peer, b.pid)));
        found
    }

    /// Actors named `name`, on `peer` only if given, of ready sessions,
    /// ordered by peer then pid.
    pub(crate) fn where_is(&self, peer: Option<&str>, name: &str) -> Vec<Found> {
        self.find_actors(|p, _, proxy| {
            peer.is_none_or(|want| want == p) && proxy.name.as_deref() == Some(name)
        })
    }

    /// Which peer each started proxy (by actor id) stands for: (peer, pid,
    /// name). Only started ones can be pg members.
    pub(crate) fn proxy_owners(&self) -> HashMap<ActorId, (String, u64, Option<String>)> {
        self.sessions
            .values()
            .filter_map(|e| Some((e.info.peer_name.clone()?, e)))
            .flat_map(|(peer, e)| {
                e.proxies.iter().filter_map(move |(pid, proxy)| {
                    Some((
                        proxy.cell.as_ref()?.get_id(),
                        (peer.clone(), *pid, proxy.name.as_deref().map(str::to_owned)),
                    ))
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
