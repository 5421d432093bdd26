//! The NodeServer actor: owns the listener, the sessions and their table.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant, SystemTime},
};

use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use tokio::{
    net::TcpListener,
    sync::{mpsc, oneshot},
    task::JoinHandle,
};
use tonic::{Status, Streaming};
use tonic_health::server::HealthReporter;
use tracing::{debug, info, warn};

use super::{
    advertise,
    arbiter::{Arbiter, Verdict},
    config::{ConnectionMode, NodeConfig},
    connect::{self, ConnectError},
    events::NodeEventSubscription,
    info::{Direction, NodeInfo, SessionCounters, SessionId, SessionInfo, SessionState},
    introspect::{self, GroupInfo, LocalActorInfo},
    session::{NodeSession, Outbound, SessionArgs, SessionMsg},
};
use crate::{
    auth::handshake::{Local, MAX_PROTOCOL_VERSION, MIN_PROTOCOL_VERSION, Peer},
    pb,
    reason::{DisconnectCause, DisconnectReason},
    registry::{RemoteActorInfo, adverts::Adverts, mirror::ProxyChange},
    remote_actor::link::SessionLink,
    service,
};

/// A node of the cluster, as a ractor actor: it listens for Session streams,
/// dials peers, and owns one session actor per stream.
///
/// Spawn it like any actor; the listener is bound before `spawn` returns.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use ractor::Actor;
/// use ractor_grpc::{NodeConfig, NodeServer};
///
/// let (node, handle) = Actor::spawn(None, NodeServer::new(NodeConfig::new("a", "cookie")), ()).await?;
/// let info = ractor_grpc::node_info(&node).await?;
/// println!("listening on {}", info.listen_addr);
/// node.stop(None);
/// handle.await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct NodeServer {
    config: NodeConfig,
}

impl NodeServer {
    /// A node server with these settings.
    pub fn new(config: NodeConfig) -> Self {
        Self { config }
    }
}

/// What a session reports to its node server.
#[derive(Debug)]
pub(crate) enum SessionEvent {
    /// The handshake succeeded with this peer.
    Authenticated {
        peer: Peer,
        link: Arc<SessionLink>,
        session: ActorRef<SessionMsg>,
    },
    /// Proxies of the peer's actors started or stopped.
    Proxies(Vec<ProxyChange>),
    /// Both sides finished the first sync.
    Ready,
    /// The peer named nodes it is connected to (transitive mode).
    PeersAdvertised(Vec<pb::KnownPeer>),
    /// The session ended.
    Closed(DisconnectReason),
}

/// Messages the [`NodeServer`] handles. Use the functions of this crate
/// ([`connect`](crate::connect), [`node_info`](crate::node_info), ...) rather
/// than building these by hand.
#[non_exhaustive]
pub enum NodeServerMessage {
    /// Dial `addr`; reply when the stream is open (`until_ready == false`) or
    /// when the session is ready.
    Connect {
        /// `host:port` or `http://host:port`.
        addr: String,
        /// Wait for the first sync rather than just the open stream.
        until_ready: bool,
        /// Where the outcome goes.
        reply: RpcReplyPort<Result<SessionInfo, ConnectError>>,
    },
    /// This node's identity and state.
    GetInfo(RpcReplyPort<NodeInfo>),
    /// Every session, in any state.
    ListSessions(RpcReplyPort<Vec<SessionInfo>>),
    /// Register (or replace) an event subscription under `id`.
    Subscribe {
        /// A key to unsubscribe with.
        id: String,
        /// The receiver of the events.
        subscription: Box<dyn NodeEventSubscription>,
    },
    /// Remove the subscription registered under this id.
    Unsubscribe(String),
    /// Proxies of peers' actors named `name` (on `peer` only, if given).
    WhereIs {
        /// Only this peer, or all.
        peer: Option<String>,
        /// The actor name.
        name: String,
        /// The matches, ordered by peer name.
        reply: RpcReplyPort<Vec<RemoteActorInfo>>,
    },
    /// The local actors this node advertises, with their groups.
    ListActors(RpcReplyPort<Vec<LocalActorInfo>>),
    /// Every pg group with members known to this node (local and proxies).
    ListGroups(RpcReplyPort<Vec<GroupInfo>>),
    /// Traffic between the node server, its sessions and its gRPC service.
    #[doc(hidden)]
    Internal(Internal),
}

/// Opaque: messages the node server sends itself and gets from its sessions.
#[doc(hidden)]
#[derive(Debug)]
pub struct Internal(pub(crate) InternalMsg);

#[derive(Debug)]
pub(crate) enum InternalMsg {
    /// A dial finished.
    Dialled(Box<Dialled>),
    /// A peer opened a Session stream.
    Accepted(Box<Accepted>),
    /// A session asks whether it may go on with a peer.
    Claim {
        id: SessionId,
        direction: Direction,
        peer: Peer,
        reply: RpcReplyPort<Verdict>,
    },
    /// A session's progress.
    Session { id: SessionId, event: SessionEvent },
    /// Time to expire connect waiters.
    ExpireWaiters,
}

impl From<InternalMsg> for NodeServerMessage {
    fn from(m: InternalMsg) -> Self {
        Self::Internal(Internal(m))
    }
}

impl std::fmt::Debug for NodeServerMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Self::Connect { .. } => "Connect",
            Self::GetInfo(_) => "GetInfo",
            Self::ListSessions(_) => "ListSessions",
            Self::Subscribe { .. } => "Subscribe",
            Self::Unsubscribe(_) => "Unsubscribe",
            Self::WhereIs { .. } => "WhereIs",
            Self::ListActors(_) => "ListActors",
            Self::ListGroups(_) => "ListGroups",
            Self::Internal(_) => "Internal",
        };
        write!(f, "NodeServerMessage::{name}")
    }
}

impl ractor::Message for NodeServerMessage {}

/// A finished dial: the open stream, or why there is none.
#[derive(Debug)]
pub(crate) struct Dialled {
    pub(crate) id: SessionId,
    pub(crate) addr: String,
    pub(crate) result: Result<connect::OpenStream, ConnectError>,
}

/// A stream a peer opened.
#[derive(Debug)]
pub(crate) struct Accepted {
    pub(crate) inbound: Streaming<pb::Frame>,
    pub(crate) outbound: mpsc::Sender<Result<pb::Frame, Status>>,
    pub(crate) remote_addr: Option<SocketAddr>,
}

#[derive(Debug)]
enum WaitTarget {
    Session(SessionId),
    Peer(String),
}

struct Waiter {
    target: WaitTarget,
    until_ready: bool,
    deadline: Instant,
    /// `None` once answered; answered waiters are swept out.
    reply: Option<RpcReplyPort<Result<SessionInfo, ConnectError>>>,
}

type ConnectReply = RpcReplyPort<Result<SessionInfo, ConnectError>>;

struct Entry {
    actor: ActorRef<SessionMsg>,
    info: SessionInfo,
    /// Set once authenticated.
    link: Option<Arc<SessionLink>>,
    /// The peer's actors by pid, as proxies (name, cell).
    proxies: HashMap<u64, (Option<String>, ActorCell)>,
}

impl Entry {
    /// The session's info with its counters as they are now.
    fn snapshot(&self) -> SessionInfo {
        let mut info = self.info.clone();
        if let Some(link) = &self.link {
            info.counters = link.counters();
        }
        info.remote_actors = self.proxies.len();
        info
    }
}

/// The node server's state.
pub struct NodeServerState {
    config: NodeConfig,
    local: Arc<Local>,
    listen_addr: SocketAddr,
    started: Instant,
    next_id: SessionId,
    sessions: HashMap<SessionId, Entry>,
    arbiter: Arbiter,
    subscriptions: HashMap<String, Box<dyn NodeEventSubscription>>,
    waiters: Vec<Waiter>,
    health: HealthReporter,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    adverts: Arc<Adverts>,
    policy: advertise::Policy,
    /// Addresses being dialled, until the session is named or ends.
    dialing: HashMap<SessionId, String>,
}

impl std::fmt::Debug for NodeServerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeServerState")
            .field("name", &self.local.name)
            .field("listen_addr", &self.listen_addr)
            .field("sessions", &self.sessions.len())
            .finish_non_exhaustive()
    }
}

fn random_incarnation() -> u64 {
    loop {
        let id: u64 = rand::random();
        if id != 0 {
            return id;
        }
    }
}

impl Actor for NodeServer {
    type Msg = NodeServerMessage;
    type State = NodeServerState;
    type Arguments = ();

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        (): (),
    ) -> Result<Self::State, ActorProcessingErr> {
        let config = self.config.clone();
        config.validate()?;
        let listener = TcpListener::bind(config.listen_addr()).await?;
        let listen_addr = listener.local_addr()?;
        let local = Arc::new(Local {
            name: config.name().to_owned(),
            incarnation: random_incarnation(),
            listen_addr: listen_addr.to_string(),
            cookie: config.cookie().clone(),
            min_version: MIN_PROTOCOL_VERSION,
            max_version: MAX_PROTOCOL_VERSION,
        });
        let (shutdown, shutdown_rx) = oneshot::channel();
        let (health, server) =
            service::serve(listener, &config, myself.clone(), shutdown_rx).await?;
        // Watch local actors come and go, and pg changes in every scope.
        ractor::registry::pid_registry::monitor(myself.get_cell());
        ractor::pg::monitor_scope(
            ractor::pg::ALL_SCOPES_NOTIFICATION.to_owned(),
            myself.get_cell(),
        );
        let adverts = Arc::new(Adverts::default());
        let policy = advertise::Policy {
            mode: config.advertise(),
            filter: config.advertise_filter().cloned(),
        };
        advertise::scan(&adverts, &policy);
        info!(node = %local.name, %listen_addr, "listening");
        Ok(NodeServerState {
            arbiter: Arbiter::new(local.name.clone()),
            config,
            local,
            listen_addr,
            started: Instant::now(),
            next_id: 1,
            sessions: HashMap::new(),
            subscriptions: HashMap::new(),
            waiters: Vec::new(),
            health,
            shutdown: Some(shutdown),
            server: Some(server),
            adverts,
            policy,
            dialing: HashMap::new(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            NodeServerMessage::Connect {
                addr,
                until_ready,
                reply,
            } => {
                if let Some(peer) = state.ready_peer_at(&addr) {
                    let _ = reply.send(Err(ConnectError::AlreadyConnected { peer }));
                    return Ok(());
                }
                state.dial(&myself, addr, Some((reply, until_ready)));
            }
            NodeServerMessage::Internal(Internal(m)) => match m {
                InternalMsg::Dialled(d) => state.on_dialled(&myself, *d).await,
                InternalMsg::Accepted(a) => state.on_accepted(&myself, *a).await,
                InternalMsg::Claim {
                    id,
                    direction,
                    peer,
                    reply,
                } => {
                    let verdict = state.claim(id, direction, &peer);
                    let _ = reply.send(verdict);
                }
                InternalMsg::Session { id, event } => state.on_session_event(&myself, id, event),
                InternalMsg::ExpireWaiters => state.expire_waiters(),
            },
            NodeServerMessage::GetInfo(reply) => {
                let _ = reply.send(state.node_info());
            }
            NodeServerMessage::ListSessions(reply) => {
                let mut all: Vec<SessionInfo> =
                    state.sessions.values().map(Entry::snapshot).collect();
                all.sort_by_key(|s| s.id);
                let _ = reply.send(all);
            }
            NodeServerMessage::Subscribe { id, subscription } => {
                state.subscriptions.insert(id, subscription);
            }
            NodeServerMessage::Unsubscribe(id) => {
                state.subscriptions.remove(&id);
            }
            NodeServerMessage::WhereIs { peer, name, reply } => {
                let _ = reply.send(state.where_is(peer.as_deref(), &name));
            }
            NodeServerMessage::ListActors(reply) => {
                let _ = reply.send(introspect::local_actors(&state.adverts));
            }
            NodeServerMessage::ListGroups(reply) => {
                let _ = reply.send(introspect::groups(&state.local.name, &state.proxy_owners()));
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let mode = &state.policy;
        match event {
            SupervisionEvent::PidLifecycleEvent(e) => {
                if let Some(envelope) = advertise::on_pid_event(&state.adverts, mode, e) {
                    state.broadcast(vec![envelope]);
                }
                return Ok(());
            }
            SupervisionEvent::ProcessGroupChanged(change) => {
                let envelopes = advertise::on_pg_event(&state.adverts, mode, change);
                if !envelopes.is_empty() {
                    state.broadcast(envelopes);
                }
                return Ok(());
            }
            _ => {}
        }
        // A session reports its own end before it stops; this catches one
        // that failed instead (a bug), so its entry does not linger.
        if let SupervisionEvent::ActorFailed(cell, err) = event {
            let id = state
                .sessions
                .iter()
                .find(|(_, e)| e.actor.get_id() == cell.get_id())
                .map(|(id, _)| *id);
            if let Some(id) = id {
                warn!(session = id, error = %err, "session actor failed");
                state.session_closed(
                    id,
                    DisconnectReason::local(
                        DisconnectCause::Transport,
                        format!("session failed: {err}"),
                    ),
                );
            }
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        state.shut_down(&myself).await;
        Ok(())
    }
}

impl NodeServerState {
    fn next_session_id(&mut self) -> SessionId {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Dials `addr` in the background; the outcome goes to `waiter`, if any.
    fn dial(
        &mut self,
        myself: &ActorRef<NodeServerMessage>,
        addr: String,
        waiter: Option<(ConnectReply, bool)>,
    ) {
        let id = self.next_session_id();
        self.dialing.insert(id, addr.clone());
        if let Some((reply, until_ready)) = waiter {
            self.waiters.push(Waiter {
                target: WaitTarget::Session(id),
                until_ready,
                deadline: Instant::now() + self.connect_budget(),
                reply: Some(reply),
            });
            myself.send_after(self.connect_budget(), || InternalMsg::ExpireWaiters.into());
        }
        let settings = connect::DialSettings::from_config(&self.config);
        let node = myself.clone();
        tokio::spawn(async move {
            let result = connect::open_stream(&addr, &settings).await;
            let _ = node.cast(InternalMsg::Dialled(Box::new(Dialled { id, addr, result })).into());
        });
    }

    /// Transitive mode: tells a newly ready peer about our other ready peers,
    /// and them about it.
    fn introduce(&self, newcomer: &SessionInfo) {
        let known = |info: &SessionInfo| -> Option<pb::KnownPeer> {
            Some(pb::KnownPeer {
                name: info.peer_name.clone()?,
                listen_addr: info.peer_listen_addr.clone()?,
            })
        };
        let Some(newcomer_entry) = known(newcomer) else {
            return;
        };
        let list = |peers: Vec<pb::KnownPeer>| {
            vec![pb::Envelope {
                body: Some(pb::envelope::Body::Peers(pb::PeerList { peers })),
            }]
        };
        let others: Vec<&Entry> = self
            .sessions
            .values()
            .filter(|e| e.info.id != newcomer.id && e.info.state == SessionState::Ready)
            .collect();
        let for_newcomer: Vec<pb::KnownPeer> =
            others.iter().filter_map(|e| known(&e.info)).collect();
        if let Some(e) = self.sessions.get(&newcomer.id)
            && !for_newcomer.is_empty()
        {
            let _ = e.actor.cast(SessionMsg::Send(list(for_newcomer)));
        }
        for e in others {
            let _ = e
                .actor
                .cast(SessionMsg::Send(list(vec![newcomer_entry.clone()])));
        }
    }

    /// Sends advertisement changes to every session past authentication.
    /// Sessions still in the handshake get them in their snapshot instead.
    fn broadcast(&self, envelopes: Vec<pb::Envelope>) {
        for e in self.sessions.values() {
            if e.info.state >= SessionState::Authenticated {
                let _ = e.actor.cast(SessionMsg::Send(envelopes.clone()));
            }
        }
    }

    /// Proxies named `name`, on `peer` only if given, ordered by peer.
    fn where_is(&self, peer: Option<&str>, name: &str) -> Vec<RemoteActorInfo> {
        let mut found: Vec<RemoteActorInfo> = self
            .sessions
            .values()
            .filter(|e| e.info.state == SessionState::Ready)
            .filter_map(|e| Some((e.info.peer_name.clone()?, e)))
            .filter(|(p, _)| peer.is_none_or(|want| want == p))
            .flat_map(|(p, e)| {
                e.proxies
                    .iter()
                    .filter(|(_, (n, _))| n.as_deref() == Some(name))
                    .map(move |(pid, (n, cell))| RemoteActorInfo {
                        peer: p.clone(),
                        pid: *pid,
                        name: n.clone(),
                        cell: cell.clone(),
                    })
            })
            .collect();
        found.sort_by(|a, b| (&a.peer, a.pid).cmp(&(&b.peer, b.pid)));
        found
    }

    /// Which peer each proxy (by actor id) stands for.
    fn proxy_owners(&self) -> HashMap<ractor::ActorId, (String, u64, Option<String>)> {
        self.sessions
            .values()
            .filter_map(|e| Some((e.info.peer_name.clone()?, e)))
            .flat_map(|(peer, e)| {
                e.proxies.iter().map(move |(pid, (name, cell))| {
                    (cell.get_id(), (peer.clone(), *pid, name.clone()))
                })
            })
            .collect()
    }

    /// The name of a ready peer that listens on `addr`, if any.
    fn ready_peer_at(&self, addr: &str) -> Option<String> {
        let addr = addr.strip_prefix("http://").unwrap_or(addr);
        self.sessions.values().find_map(|e| {
            let listens_there = e.info.peer_listen_addr.as_deref() == Some(addr);
            (e.info.state == SessionState::Ready && listens_there)
                .then(|| e.info.peer_name.clone())
                .flatten()
        })
    }

    /// How long a connect may wait in all: dial, handshake and first sync.
    fn connect_budget(&self) -> Duration {
        self.config.handshake_timeout() * 2
    }

    fn node_info(&self) -> NodeInfo {
        NodeInfo {
            name: self.local.name.clone(),
            version: env!("CARGO_PKG_VERSION"),
            protocol_versions: (self.local.min_version, self.local.max_version),
            listen_addr: self.listen_addr,
            mode: self.config.mode(),
            uptime: self.started.elapsed(),
            peer_count: self
                .sessions
                .values()
                .filter(|e| e.info.state >= SessionState::Authenticated)
                .count(),
            incarnation: self.local.incarnation,
        }
    }

    async fn spawn_session(
        &mut self,
        myself: &ActorRef<NodeServerMessage>,
        id: SessionId,
        inbound: Streaming<pb::Frame>,
        outbound: Outbound,
        peer_addr: Option<SocketAddr>,
    ) {
        let direction = match outbound {
            Outbound::Acceptor(_) => Direction::Inbound,
            Outbound::Dialer { .. } => Direction::Outbound,
        };
        let args = SessionArgs {
            id,
            node: myself.clone(),
            local: self.local.clone(),
            inbound,
            outbound,
            handshake_timeout: self.config.handshake_timeout(),
            adverts: self.adverts.clone(),
            max_message_size: self.config.max_message_size(),
        };
        let spawned = Actor::spawn_linked(None, NodeSession, args, myself.get_cell()).await;
        let actor = match spawned {
            Ok((actor, _)) => actor,
            Err(e) => {
                warn!(session = id, error = %e, "could not start a session");
                self.resolve_waiters_for_session(id, |_| {
                    Err(ConnectError::Refused(DisconnectReason::local(
                        DisconnectCause::Stopped,
                        "could not start the session actor",
                    )))
                });
                return;
            }
        };
        let info = SessionInfo {
            id,
            peer_name: None,
            peer_addr,
            peer_listen_addr: None,
            direction,
            state: SessionState::Handshake,
            connected_since: SystemTime::now(),
            protocol_version: None,
            counters: SessionCounters::default(),
            remote_actors: 0,
        };
        debug!(node = %self.local.name, session = id, ?direction, ?peer_addr, "session opened");
        for sub in self.subscriptions.values() {
            sub.session_opened(&info);
        }
        // client_connect returns as soon as the stream is open.
        let opened = info.clone();
        self.waiters.retain_mut(|w| {
            if matches!(w.target, WaitTarget::Session(s) if s == id) && !w.until_ready {
                if let Some(reply) = w.reply.take() {
                    let _ = reply.send(Ok(opened.clone()));
                }
                false
            } else {
                true
            }
        });
        self.sessions.insert(
            id,
            Entry {
                actor,
                info,
                link: None,
                proxies: HashMap::new(),
            },
        );
    }

    async fn on_dialled(&mut self, myself: &ActorRef<NodeServerMessage>, d: Dialled) {
        match d.result {
            Ok(open) => {
                let peer_addr = d.addr.parse().ok();
                let outbound = Outbound::Dialer {
                    tx: open.tx,
                    channel: open.channel,
                };
                self.spawn_session(myself, d.id, open.inbound, outbound, peer_addr)
                    .await;
            }
            Err(e) => {
                self.dialing.remove(&d.id);
                debug!(node = %self.local.name, addr = %d.addr, error = %e, "dial failed");
                let mut e = Some(e);
                self.resolve_waiters_for_session(d.id, |_| {
                    Err(e.take().unwrap_or(ConnectError::Unreachable {
                        addr: d.addr.clone(),
                        detail: "dial failed".into(),
                    }))
                });
            }
        }
    }

    async fn on_accepted(&mut self, myself: &ActorRef<NodeServerMessage>, a: Accepted) {
        let id = self.next_session_id();
        self.spawn_session(
            myself,
            id,
            a.inbound,
            Outbound::Acceptor(a.outbound),
            a.remote_addr,
        )
        .await;
    }

    fn claim(&mut self, id: SessionId, direction: Direction, peer: &Peer) -> Verdict {
        // Named now: the session table answers "is this peer known" from here.
        self.dialing.remove(&id);
        if let Some(e) = self.sessions.get_mut(&id) {
            e.info.peer_name = Some(peer.name.clone());
            e.info.peer_listen_addr = Some(peer.listen_addr.clone()).filter(|a| !a.is_empty());
            e.info.protocol_version = Some(peer.version);
        }
        let verdict = self
            .arbiter
            .claim(id, direction, &peer.name, peer.incarnation);
        if let Verdict::Proceed(close) = &verdict {
            self.close_sessions(close);
        }
        verdict
    }

    fn close_sessions(&self, close: &[(SessionId, DisconnectReason)]) {
        for (other, reason) in close {
            if let Some(e) = self.sessions.get(other) {
                info!(node = %self.local.name, session = other, %reason, "closing session");
                let _ = e.actor.cast(SessionMsg::Close(reason.clone()));
            }
        }
    }

    fn on_session_event(
        &mut self,
        myself: &ActorRef<NodeServerMessage>,
        id: SessionId,
        event: SessionEvent,
    ) {
        match event {
            SessionEvent::Authenticated {
                peer,
                link,
                session,
            } => {
                let Some(e) = self.sessions.get_mut(&id) else {
                    return;
                };
                e.link = Some(link);
                // The snapshot goes out before any change broadcast after
                // this point (both travel through the session's mailbox).
                let _ = session.cast(SessionMsg::Sync(advertise::snapshot(&self.adverts)));
                e.info.state = SessionState::Authenticated;
                e.info.peer_name = Some(peer.name.clone());
                e.info.protocol_version = Some(peer.version);
                let info = e.info.clone();
                info!(node = %self.local.name, peer = %peer.name, session = id, "authenticated");
                if info.direction == Direction::Outbound {
                    let close = self.arbiter.established(id);
                    self.close_sessions(&close);
                }
                for sub in self.subscriptions.values() {
                    sub.session_authenticated(&info);
                }
            }
            SessionEvent::Ready => {
                let Some(e) = self.sessions.get_mut(&id) else {
                    return;
                };
                e.info.state = SessionState::Ready;
                let info = e.info.clone();
                info!(node = %self.local.name, peer = info.peer_name.as_deref().unwrap_or(""), session = id, "ready");
                for sub in self.subscriptions.values() {
                    sub.session_ready(&info);
                }
                self.resolve_ready_waiters(&info);
                if self.config.mode() == ConnectionMode::Transitive {
                    self.introduce(&info);
                }
            }
            SessionEvent::PeersAdvertised(peers) => {
                if self.config.mode() == ConnectionMode::Transitive {
                    for p in peers {
                        // Known: ourselves, a peer with a session in any
                        // state, or an address a dial is already under way to.
                        let known = p.name == self.local.name
                            || self.sessions.values().any(|e| {
                                e.info.peer_name.as_deref() == Some(p.name.as_str())
                                    || e.info.peer_listen_addr.as_deref()
                                        == Some(p.listen_addr.as_str())
                            })
                            || self.dialing.values().any(|a| *a == p.listen_addr);
                        if !known && !p.listen_addr.is_empty() {
                            info!(node = %self.local.name, peer = %p.name, addr = %p.listen_addr, "dialling an advertised peer");
                            self.dial(myself, p.listen_addr, None);
                        }
                    }
                }
            }
            SessionEvent::Proxies(changes) => {
                let Some(e) = self.sessions.get_mut(&id) else {
                    return;
                };
                for change in changes {
                    match change {
                        ProxyChange::Up { pid, name, cell } => {
                            e.proxies.insert(pid, (name, cell));
                        }
                        ProxyChange::Down { pid } => {
                            e.proxies.remove(&pid);
                        }
                    }
                }
            }
            SessionEvent::Closed(reason) => self.session_closed(id, reason),
        }
    }

    fn session_closed(&mut self, id: SessionId, reason: DisconnectReason) {
        self.arbiter.release(id);
        self.dialing.remove(&id);
        let Some(entry) = self.sessions.remove(&id) else {
            return;
        };
        // Normally the session did this itself; a session that failed could
        // not, and its calls in flight and proxies must still end.
        if let Some(link) = &entry.link {
            link.close(&reason, None);
        }
        for (_, cell) in entry.proxies.values() {
            cell.stop(Some("the session ended".into()));
        }
        let info = entry.info;
        info!(
            node = %self.local.name,
            peer = info.peer_name.as_deref().unwrap_or("?"),
            session = id,
            %reason,
            "disconnected"
        );
        for sub in self.subscriptions.values() {
            sub.session_disconnected(&info, &reason);
        }
        // A dial that lost a simultaneous connect, or found one already being
        // set up, waits for the session that won instead.
        let retarget = matches!(
            reason.cause,
            DisconnectCause::SimultaneousConnect | DisconnectCause::AlreadyConnected
        );
        let peer = info.peer_name.clone();
        let mut resolved = Vec::new();
        for w in &mut self.waiters {
            if !matches!(w.target, WaitTarget::Session(s) if s == id) {
                continue;
            }
            match (&peer, retarget) {
                (Some(name), true) => {
                    let winner = self
                        .sessions
                        .values()
                        .find(|e| e.info.peer_name.as_deref() == Some(name.as_str()));
                    match winner {
                        // The dial raced another session with the same peer
                        // (ours or theirs) and that one is up: the caller has
                        // what it asked for.
                        Some(e) if e.info.state == SessionState::Ready => {
                            resolved.push((w.reply.take(), Ok(e.info.clone())));
                        }
                        None if reason.cause == DisconnectCause::AlreadyConnected => {
                            resolved.push((
                                w.reply.take(),
                                Err(ConnectError::AlreadyConnected { peer: name.clone() }),
                            ));
                        }
                        _ => w.target = WaitTarget::Peer(name.clone()),
                    }
                }
                _ => resolved.push((
                    w.reply.take(),
                    Err(ConnectError::from_reason(reason.clone())),
                )),
            }
        }
        self.waiters.retain(|w| w.reply.is_some());
        send_all(resolved);
    }

    fn resolve_ready_waiters(&mut self, info: &SessionInfo) {
        let name = info.peer_name.as_deref();
        let mut done = Vec::new();
        for w in &mut self.waiters {
            let hit = match &w.target {
                WaitTarget::Session(s) => *s == info.id,
                WaitTarget::Peer(p) => Some(p.as_str()) == name,
            };
            if hit {
                done.push(w.reply.take());
            }
        }
        self.waiters.retain(|w| w.reply.is_some());
        send_all(done.into_iter().map(|r| (r, Ok(info.clone()))).collect());
    }

    fn resolve_waiters_for_session(
        &mut self,
        id: SessionId,
        mut result: impl FnMut(&Waiter) -> Result<SessionInfo, ConnectError>,
    ) {
        let mut done = Vec::new();
        for w in &mut self.waiters {
            if matches!(w.target, WaitTarget::Session(s) if s == id) {
                let r = result(w);
                done.push((w.reply.take(), r));
            }
        }
        self.waiters.retain(|w| w.reply.is_some());
        send_all(done);
    }

    fn expire_waiters(&mut self) {
        let now = Instant::now();
        let mut done = Vec::new();
        for w in &mut self.waiters {
            if w.deadline <= now {
                done.push(w.reply.take());
            }
        }
        self.waiters.retain(|w| w.reply.is_some());
        send_all(
            done.into_iter()
                .map(|r| (r, Err(ConnectError::Timeout)))
                .collect(),
        );
    }

    async fn shut_down(&mut self, myself: &ActorRef<NodeServerMessage>) {
        info!(node = %self.local.name, "stopping");
        ractor::registry::pid_registry::demonitor(myself.get_id());
        ractor::pg::demonitor_scope(
            ractor::pg::ALL_SCOPES_NOTIFICATION.to_owned(),
            myself.get_id(),
        );
        self.health
            .set_service_status(
                pb::CLUSTER_NODE_SERVICE,
                tonic_health::ServingStatus::NotServing,
            )
            .await;
        self.health
            .set_service_status("", tonic_health::ServingStatus::NotServing)
            .await;
        let reason = DisconnectReason::local(DisconnectCause::Stopped, "node stopping");
        for e in self.sessions.values() {
            let _ = e.actor.cast(SessionMsg::Close(reason.clone()));
        }
        // Wait for them together, not one after another.
        let mut waits = tokio::task::JoinSet::new();
        for e in self.sessions.values() {
            let actor = e.actor.clone();
            waits.spawn(async move { actor.wait(Some(Duration::from_secs(2))).await });
        }
        while waits.join_next().await.is_some() {}
        for (_, e) in self.sessions.drain() {
            for sub in self.subscriptions.values() {
                sub.session_disconnected(&e.info, &reason);
            }
        }
        for w in self.waiters.drain(..) {
            if let Some(reply) = w.reply {
                let _ = reply.send(Err(ConnectError::NodeStopped));
            }
        }
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(mut server) = self.server.take()
            && tokio::time::timeout(Duration::from_secs(2), &mut server)
                .await
                .is_err()
        {
            server.abort();
        }
    }
}

fn send_all<T>(done: Vec<(Option<ConnectReply>, T)>)
where
    T: Into<Result<SessionInfo, ConnectError>>,
{
    for (reply, result) in done {
        if let Some(reply) = reply {
            let _ = reply.send(result.into());
        }
    }
}
