//! The NodeServer actor: dispatch. It routes what arrives (user requests,
//! session reports, dial results, ractor's pid-registry and pg events) to
//! the parts that decide (the session table, the arbiter, the waiters, the
//! subscribers, the advertiser) and carries out their answers.
//!
//! Owns the node's parts; holds no protocol rule of its own. Starting and
//! stopping live in `lifecycle`. The gRPC face it serves is handed to it by
//! `service` (see [`Serve`]), which the node must not import.

use std::{
    collections::HashMap, future::Future, net::SocketAddr, pin::Pin, sync::Arc, time::Instant,
};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use tokio::net::TcpListener;
use tracing::{Span, debug, info, warn};

use super::{
    advertise,
    arbiter::{Arbiter, Verdict},
    config::{ConnectionMode, HandshakeLimits, NodeConfig},
    connect::ConnectError,
    info::{NodeInfo, SessionId, SessionInfo, SessionState},
    introspect,
    messages::{Internal, InternalMsg, NodeServerMessage, SessionEvent},
    on_demand,
    reach::{self, Candidate},
    redial::Redial,
    selector::Reached,
    session::SessionMsg,
    subscribers::Subscribers,
    table::{Found, SessionTable},
    waiters::{Answer, Waiters},
};
use crate::{
    auth::{Local, TokenVerifier},
    pb::{self, envelope::Body},
    reason::{DisconnectCause, DisconnectReason},
    registry::{Adverts, end_proxy},
    telemetry,
    transport::{self, Serving, Settings},
};

/// What a node's gRPC face is started with.
#[derive(Debug)]
pub(crate) struct Face {
    /// The bound listener; `None` for a mounted node, whose services the
    /// application serves (see [`NodeServer::mounted`](crate::NodeServer::mounted)).
    pub(crate) listener: Option<TcpListener>,
    /// HTTP/2 and TLS settings.
    pub(crate) settings: Settings,
    /// Checks the bearer tokens of unary RPCs.
    pub(crate) tokens: TokenVerifier,
    /// Limits on strangers' Session streams.
    pub(crate) limits: HandshakeLimits,
    /// The node server that streams and questions go to.
    pub(crate) node: ActorRef<NodeServerMessage>,
}

/// Starts a node's gRPC face: `service` provides it.
pub(crate) type Serve =
    fn(Face) -> Pin<Box<dyn Future<Output = Result<Serving, ActorProcessingErr>> + Send>>;

/// A node of the cluster, as a ractor actor: it listens for Session streams,
/// dials peers, and owns one session actor per stream.
///
/// Spawn it like any actor; the listener is bound before `spawn` returns.
/// (One made with [`NodeServer::mounted`] binds none: an application serves
/// its services, see [`services`](crate::services).)
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
    serve: Serve,
    /// Whether the node binds its listener (false: mounted).
    bind: bool,
}

impl NodeServer {
    /// A node server with these settings that serves the face `serve`
    /// starts, on a listener of its own if `bind`, else only handing its
    /// services out. [`NodeServer::new`] lives in `service` and passes its
    /// own.
    pub(crate) fn with_face(config: NodeConfig, serve: Serve, bind: bool) -> Self {
        Self {
            config,
            serve,
            bind,
        }
    }
}

pub(super) type ConnectReply = RpcReplyPort<Result<SessionInfo, ConnectError>>;

/// The node server's state.
pub struct NodeServerState {
    pub(super) config: NodeConfig,
    pub(super) local: Arc<Local>,
    pub(super) listen_addr: SocketAddr,
    pub(super) started: Instant,
    pub(super) serving: Serving,
    pub(super) table: SessionTable<ActorRef<SessionMsg>>,
    pub(super) arbiter: Arbiter,
    pub(super) waiters: Waiters<ConnectReply>,
    pub(super) subscribers: Subscribers,
    pub(super) adverts: Arc<Adverts>,
    pub(super) policy: advertise::Policy,
    pub(super) redial: Redial,
    /// Each open session's span: the server's lines about a session are
    /// logged in it (see `session::span`).
    pub(super) spans: HashMap<SessionId, Span>,
}

impl std::fmt::Debug for NodeServerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeServerState")
            .field("name", &self.local.name)
            .field("listen_addr", &self.listen_addr)
            .field("sessions", &self.table.handles().count())
            .finish_non_exhaustive()
    }
}

/// Sends each caller its answer.
pub(super) fn answer(answers: Vec<Answer<ConnectReply>>) {
    for (reply, result) in answers {
        let _ = reply.send(result);
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
        NodeServerState::start(self.config.clone(), self.serve, self.bind, myself).await
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
                tls,
                reply,
            } => match state.table.ready_peer_at(&addr) {
                Some(peer) => {
                    let _ = reply.send(Err(ConnectError::AlreadyConnected { peer }));
                }
                None => state.dial(&myself, addr, tls, Some((reply, until_ready))),
            },
            NodeServerMessage::KeepConnected { target, reply } => {
                let _ = reply.send(state.keep_connected(&myself, target));
            }
            NodeServerMessage::ListTargets(reply) => {
                let _ = reply.send(state.redial.snapshot(Instant::now()));
            }
            NodeServerMessage::GetInfo(reply) => {
                let _ = reply.send(state.node_info());
            }
            NodeServerMessage::GetServices(reply) => {
                let _ = reply.send(state.serving.routes());
            }
            NodeServerMessage::ListSessions(reply) => {
                let _ = reply.send(state.table.snapshots());
            }
            NodeServerMessage::Subscribe { id, subscription } => {
                state.subscribers.insert(id, subscription);
            }
            NodeServerMessage::Unsubscribe(id) => state.subscribers.remove(&id),
            NodeServerMessage::Disconnect { peer, reply } => {
                state.redial.forget_peer(&peer);
                let ids = state.table.sessions_with(&peer);
                let reason = DisconnectReason::local(DisconnectCause::Stopped, "closed on request");
                let close: Vec<_> = ids.iter().map(|id| (*id, reason.clone())).collect();
                state.close_sessions(&close);
                let _ = reply.send(!ids.is_empty());
            }
            NodeServerMessage::WhereIs(lookup) => {
                let found = state.table.where_is(lookup.peer.as_deref(), &lookup.name);
                let missing = found.iter().filter_map(Found::needs_proxy).collect();
                on_demand::answer(&state.table, missing, lookup.reply, move |started| {
                    found
                        .into_iter()
                        .filter_map(|f| {
                            let cell = f.cell(started)?;
                            Some(f.into_info(cell))
                        })
                        .collect()
                });
            }
            NodeServerMessage::DescribeActor { target, reply } => {
                let found = reach::advertised_actor(&state.local.name, &state.adverts, &target);
                let _ = reply.send(found.as_ref().map(introspect::describe_reached));
            }
            NodeServerMessage::ListActors(reply) => {
                let _ = reply.send(introspect::local_actors(&state.adverts));
            }
            NodeServerMessage::ListGroups(reply) => {
                let owners = state.table.proxy_owners();
                let _ = reply.send(introspect::groups(&state.local.name, &owners));
            }
            NodeServerMessage::Internal(Internal(m)) => state.internal(&myself, m).await,
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let policy = &state.policy;
        match event {
            SupervisionEvent::PidLifecycleEvent(e) => {
                if let Some(envelope) = advertise::on_pid_event(&state.adverts, policy, e) {
                    state.broadcast(vec![envelope]);
                }
            }
            SupervisionEvent::ProcessGroupChanged(change) => {
                let envelopes = advertise::on_pg_event(&state.adverts, policy, change);
                if !envelopes.is_empty() {
                    state.broadcast(envelopes);
                }
            }
            // A session reports its own end before it stops; this catches
            // one that failed instead (a bug), so its entry does not linger.
            SupervisionEvent::ActorFailed(cell, err) => {
                if let Some(id) = state.table.find(|h| h.get_id() == cell.get_id()) {
                    state.in_session(id, || warn!(error = %err, "session actor failed"));
                    let detail = format!("session failed: {err}");
                    let reason = DisconnectReason::local(DisconnectCause::Transport, detail);
                    state.session_closed(&myself, id, reason);
                }
            }
            _ => {}
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
    async fn internal(&mut self, myself: &ActorRef<NodeServerMessage>, m: InternalMsg) {
        match m {
            InternalMsg::Dialled { id, addr, result } => match result {
                Ok(stream) => self.spawn_session(myself, id, *stream).await,
                Err(e) => {
                    debug!(node = %self.local.name, %addr, error = %e, "dial failed");
                    self.table.dial_failed(id);
                    self.dial_failed(myself, id, &e);
                    answer(self.waiters.failed(id, &e.into()));
                }
            },
            InternalMsg::Accepted(stream) => {
                let id = self.table.next_id();
                self.spawn_session(myself, id, *stream).await;
            }
            InternalMsg::Reach { wanted, reply } => {
                match reach::reach(&self.local.name, &self.adverts, &self.table, &wanted) {
                    Err(e) => {
                        let _ = reply.send(Err(e));
                    }
                    Ok(candidates) => self.reach_with_proxies(candidates, reply),
                }
            }
            InternalMsg::Claim {
                id,
                direction,
                peer,
                reply,
            } => {
                self.table.named(id, &peer);
                let verdict = self
                    .arbiter
                    .claim(id, direction, &peer.name, peer.incarnation);
                if let Verdict::Proceed(close) = &verdict {
                    self.close_sessions(close);
                }
                let _ = reply.send(verdict);
            }
            InternalMsg::Session { id, event } => self.on_session_event(myself, id, event),
            InternalMsg::ExpireWaiters => answer(self.waiters.expired(Instant::now())),
            InternalMsg::Redial => self.redial_due(myself),
            InternalMsg::Resolve => self.resolve(myself),
            InternalMsg::Resolved { name, addrs } => self.resolved(myself, &name, addrs),
        }
    }

    /// Answers a unary Cast or Call's lookup once the peer actors it found
    /// have proxies.
    fn reach_with_proxies(
        &self,
        candidates: Vec<Candidate>,
        reply: RpcReplyPort<Result<Vec<Reached>, String>>,
    ) {
        let missing = candidates
            .iter()
            .filter_map(|c| match c {
                Candidate::Peer(f) => f.needs_proxy(),
                Candidate::Here(_) => None,
            })
            .collect();
        on_demand::answer(&self.table, missing, reply, move |started| {
            let reached: Vec<Reached> = candidates
                .into_iter()
                .filter_map(|c| match c {
                    Candidate::Here(r) => Some(r),
                    Candidate::Peer(f) => {
                        let cell = f.cell(started)?;
                        Some(reach::reached(f, cell))
                    }
                })
                .collect();
            if reached.is_empty() {
                Err("the actor found is no longer advertised by its node".to_owned())
            } else {
                Ok(reached)
            }
        });
    }

    fn on_session_event(
        &mut self,
        myself: &ActorRef<NodeServerMessage>,
        id: SessionId,
        event: SessionEvent,
    ) {
        match event {
            SessionEvent::Authenticated { peer, link } => {
                let Some(e) = self.table.authenticated(id, &peer, link) else {
                    return;
                };
                // The snapshot goes out before any change broadcast after
                // this point (both travel through the session's mailbox).
                let _ = e
                    .handle
                    .cast(SessionMsg::Sync(advertise::snapshot(&self.adverts)));
                let info = e.info().clone();
                self.redial.authenticated(id, &peer.name);
                self.in_session(id, || info!("authenticated"));
                self.publish_states();
                if info.direction == transport::Direction::Outbound {
                    let close = self.arbiter.established(id);
                    self.close_sessions(&close);
                }
                self.subscribers.authenticated(&info);
            }
            SessionEvent::Ready => {
                let Some(info) = self.table.ready(id) else {
                    return;
                };
                self.in_session(id, || info!("ready"));
                self.publish_states();
                self.subscribers.ready(&info);
                answer(self.waiters.ready(&info));
                if self.config.mode() == ConnectionMode::Transitive {
                    for (to, peers) in self.table.introductions(id) {
                        let list = Body::Peers(pb::PeerList { peers }).into();
                        self.send_to(to, SessionMsg::Send(vec![list]));
                    }
                }
            }
            SessionEvent::PeersAdvertised(peers) => {
                if self.config.mode() == ConnectionMode::Transitive {
                    // A named peer that reached this node first (it won the
                    // race to dial) is kept connected too: the mesh heals
                    // from this side whichever side dialled.
                    for p in &peers {
                        if p.name != self.local.name
                            && !p.listen_addr.is_empty()
                            && !self.table.sessions_with(&p.name).is_empty()
                        {
                            self.redial
                                .keep_connected_peer(p.listen_addr.clone(), None, &p.name);
                        }
                    }
                    for addr in self.table.unknown_peers(&self.local.name, peers) {
                        info!(node = %self.local.name, %addr, "dialling an advertised peer");
                        self.dial(myself, addr, None, None);
                    }
                }
            }
            SessionEvent::Proxies(changes) => self.table.proxies(id, changes),
            SessionEvent::Closed(reason) => self.session_closed(myself, id, reason),
        }
    }

    fn session_closed(
        &mut self,
        myself: &ActorRef<NodeServerMessage>,
        id: SessionId,
        reason: DisconnectReason,
    ) {
        self.arbiter.release(id);
        let Some(entry) = self.table.remove(id) else {
            return;
        };
        // Normally the session did this itself; a session that failed could
        // not, and its calls in flight and proxies must still end.
        if let Some(link) = entry.link() {
            link.close(&reason, None);
        }
        entry.proxy_cells().for_each(end_proxy);
        let info = entry.info();
        self.count_closed(info, &reason);
        self.publish_states();
        let peer = info.peer_name.as_deref();
        // The span names the node, the session and the peer.
        let span = self.spans.remove(&id).unwrap_or_else(Span::none);
        span.in_scope(|| info!(%reason, "disconnected"));
        self.subscribers.disconnected(info, &reason);
        let survivor = peer.and_then(|p| self.table.with_peer(p));
        answer(self.waiters.closed(id, peer, &reason, survivor));
        let peer = peer.map(str::to_owned);
        self.session_lost(myself, id, peer.as_deref(), &reason);
    }

    /// Counts session `info` as closed for `reason` (a refused handshake
    /// too, if it ended before the peer was authenticated).
    pub(super) fn count_closed(&self, info: &SessionInfo, reason: &DisconnectReason) {
        telemetry::session_closed(
            &self.local.name,
            reason.cause.as_str(),
            if reason.by_peer { "peer" } else { "local" },
            info.state != SessionState::Handshake,
        );
    }

    /// Sets the node's session gauges from the table.
    pub(super) fn publish_states(&self) {
        let mut counts = [("handshake", 0), ("authenticated", 0), ("ready", 0)];
        for state in self.table.states() {
            let i = match state {
                SessionState::Handshake => 0,
                SessionState::Authenticated => 1,
                SessionState::Ready => 2,
            };
            counts[i].1 += 1;
        }
        telemetry::session_states(&self.local.name, counts);
    }

    /// Runs `log` in session `id`'s span (outside any, once it is gone).
    fn in_session(&self, id: SessionId, log: impl FnOnce()) {
        match self.spans.get(&id) {
            Some(span) => span.in_scope(log),
            None => log(),
        }
    }

    fn send_to(&self, id: SessionId, msg: SessionMsg) {
        if let Some(e) = self.table.get(id) {
            let _ = e.handle.cast(msg);
        }
    }

    fn close_sessions(&self, close: &[(SessionId, DisconnectReason)]) {
        for (other, reason) in close {
            self.in_session(*other, || info!(%reason, "closing session"));
            self.send_to(*other, SessionMsg::Close(reason.clone()));
        }
    }

    /// Sends advertisement changes to every session past authentication.
    fn broadcast(&self, envelopes: Vec<pb::Envelope>) {
        for handle in self.table.authenticated_handles() {
            let _ = handle.cast(SessionMsg::Send(envelopes.clone()));
        }
    }

    fn node_info(&self) -> NodeInfo {
        NodeInfo {
            name: self.local.name.clone(),
            version: env!("CARGO_PKG_VERSION"),
            protocol_versions: (self.local.min_version, self.local.max_version),
            listen_addr: self.listen_addr,
            advertise_addr: self.local.listen_addr.clone(),
            mode: self.config.mode(),
            uptime: self.started.elapsed(),
            peer_count: self.table.peer_count(),
            incarnation: self.local.incarnation,
            tasks: tokio::runtime::Handle::try_current()
                .map_or(0, |h| h.metrics().num_alive_tasks()),
        }
    }
}
