//! The node's lifecycle: starting (listener, gRPC face, ractor monitors, the
//! first scan of local actors), dialing and starting sessions, stopping.
//!
//! Owns the moments a node or a session begins and the node ends; the
//! server's dispatch calls into it. Holds no rule of its own.

use std::{collections::HashMap, net::SocketAddr, sync::Arc, time::Instant};

use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::net::TcpListener;
use tracing::{debug, info, warn};

use super::{
    address, advertise,
    arbiter::Arbiter,
    config::NodeConfig,
    connect::ConnectError,
    info::{SessionId, SessionInfo},
    messages::{InternalMsg, NodeServerMessage},
    redial::{Ending, Failure, Next, Redial},
    server::{ConnectReply, Face, NodeServerState, Serve, answer},
    session::{self, NodeSession, SessionArgs, SessionMsg},
    subscribers::Subscribers,
    table::SessionTable,
    waiters::Waiters,
};
use crate::{
    auth::{Local, MAX_PROTOCOL_VERSION, MIN_PROTOCOL_VERSION, TokenVerifier},
    reason::{DisconnectCause, DisconnectReason},
    registry::Adverts,
    telemetry,
    transport::{self, DialError, SessionStream, TlsConfig},
};

fn random_incarnation() -> u64 {
    loop {
        let id: u64 = rand::random();
        if id != 0 {
            return id;
        }
    }
}

impl NodeServerState {
    /// Binds the listener (if `bind`; a mounted node's services are served
    /// by the application, on the configured listen address), starts the
    /// face `serve` gives, watches ractor's registries and takes stock of
    /// the local actors to advertise.
    pub(super) async fn start(
        config: NodeConfig,
        serve: Serve,
        bind: bool,
        myself: ActorRef<NodeServerMessage>,
    ) -> Result<Self, ActorProcessingErr> {
        config.validate()?;
        let (listener, listen_addr) = if bind {
            let listener = TcpListener::bind(config.listen_addr()).await?;
            let listen_addr = listener.local_addr()?;
            (Some(listener), listen_addr)
        } else {
            if config.listen_addr().port() == 0 && config.advertise_addr().is_none() {
                return Err(
                    "a mounted node needs the address its services are served on: \
                     NodeConfig::with_listen_addr with a port, or with_advertise_addr"
                        .into(),
                );
            }
            (None, config.listen_addr())
        };
        let advertised = address::advertised(
            config.advertise_addr(),
            listen_addr,
            config.mode(),
            address::routable_ip,
        )?;
        if advertised.is_empty() {
            warn!(node = config.name(), %listen_addr, "no address to advertise: peers cannot dial this node back");
        }
        let local = Arc::new(Local {
            name: config.name().to_owned(),
            incarnation: random_incarnation(),
            listen_addr: advertised,
            cookie: config.cookie().clone(),
            min_version: MIN_PROTOCOL_VERSION,
            max_version: MAX_PROTOCOL_VERSION,
        });
        let tokens = TokenVerifier::new(local.name.clone(), local.cookie.clone());
        let serving = serve(Face {
            listener,
            settings: config.transport(),
            tokens,
            limits: config.handshake_limits(),
            node: myself.clone(),
        })
        .await?;
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
        telemetry::describe();
        advertise::scan(&adverts, &policy);
        if bind {
            info!(node = %local.name, %listen_addr, advertised = %local.listen_addr, "listening");
        } else {
            info!(node = %local.name, %listen_addr, advertised = %local.listen_addr, "mounted: the application serves the node's services");
        }
        let reconnect = config.reconnect();
        Ok(Self {
            arbiter: Arbiter::new(local.name.clone()),
            config,
            local,
            listen_addr,
            started: Instant::now(),
            serving,
            table: SessionTable::default(),
            waiters: Waiters::default(),
            subscribers: Subscribers::default(),
            adverts,
            policy,
            redial: Redial::new(reconnect),
            spans: HashMap::new(),
        })
    }

    /// Dials `addr` in the background, with `tls` instead of the node's TLS
    /// settings if given; the outcome goes to `waiter`, if any.
    pub(super) fn dial(
        &mut self,
        myself: &ActorRef<NodeServerMessage>,
        addr: String,
        tls: Option<TlsConfig>,
        waiter: Option<(ConnectReply, bool)>,
    ) {
        let id = self.table.next_id();
        self.table.dialing(id, addr.clone());
        self.redial.dialing(id, &addr, tls.clone());
        if let Some((reply, until_ready)) = waiter {
            // Dial, handshake and first sync.
            let budget = self.config.handshake_timeout() * 2;
            self.waiters
                .add(id, until_ready, Instant::now() + budget, reply);
            myself.send_after(budget, || InternalMsg::ExpireWaiters.into());
        }
        let mut settings = self.config.transport();
        if tls.is_some() {
            settings.tls = tls;
        }
        let node = myself.clone();
        tokio::spawn(async move {
            let result = transport::dial(&addr, &settings).await.map(Box::new);
            let _ = node.cast(InternalMsg::Dialled { id, addr, result }.into());
        });
    }

    /// Keeps `target` connected: dials it now, and again whenever its
    /// session is lost. A DNS name is resolved now and every resolve
    /// interval, each address it resolves to kept connected.
    pub(super) fn keep_connected(
        &mut self,
        myself: &ActorRef<NodeServerMessage>,
        target: String,
    ) -> Result<(), ConnectError> {
        let invalid = |detail: &str| ConnectError::InvalidAddress {
            addr: target.clone(),
            detail: detail.to_owned(),
        };
        let (host, port) = target
            .rsplit_once(':')
            .ok_or_else(|| invalid("expected host:port"))?;
        if host.is_empty() || port.parse::<u16>().is_err() {
            return Err(invalid("expected host:port with a port number"));
        }
        if target.parse::<SocketAddr>().is_ok() {
            if self.redial.watch(&target, None, Instant::now()) {
                self.redial_due(myself);
            }
            return Ok(());
        }
        // A name: its addresses are dialled by IP, so TLS checks the
        // certificates for the name unless told otherwise.
        let tls = self
            .config
            .tls()
            .filter(|tls| tls.server_name().is_none())
            .map(|tls| tls.clone().with_server_name(host));
        if self.redial.watch_name(&target, tls) {
            self.look_up(myself, target);
            // Names are never dropped: the first one starts the one timer
            // that resolves them all again.
            if self.redial.names().count() == 1 {
                self.resolve_later(myself);
            }
        }
        Ok(())
    }

    /// Dials every target whose backoff is over.
    pub(super) fn redial_due(&mut self, myself: &ActorRef<NodeServerMessage>) {
        let table = &self.table;
        let due = self
            .redial
            .due(Instant::now(), |peer| table.authenticated_with(peer));
        for (addr, tls) in due {
            debug!(node = %self.local.name, %addr, "dialling a target again");
            self.dial(myself, addr, tls, None);
        }
    }

    /// Resolves every target's DNS name in the background, and again after
    /// the resolve interval.
    pub(super) fn resolve(&self, myself: &ActorRef<NodeServerMessage>) {
        let names: Vec<String> = self.redial.names().map(str::to_owned).collect();
        for name in names {
            self.look_up(myself, name);
        }
        self.resolve_later(myself);
    }

    fn resolve_later(&self, myself: &ActorRef<NodeServerMessage>) {
        let every = self.config.reconnect().resolve_interval;
        myself.send_after(every, || InternalMsg::Resolve.into());
    }

    /// Resolves `name` in the background; the answer comes back as
    /// `Resolved`.
    fn look_up(&self, myself: &ActorRef<NodeServerMessage>, name: String) {
        let node = myself.clone();
        tokio::spawn(async move {
            let addrs = tokio::net::lookup_host(name.as_str())
                .await
                .map(|found| {
                    let mut addrs: Vec<String> = found.map(|a| a.to_string()).collect();
                    addrs.sort_unstable();
                    addrs.dedup();
                    addrs
                })
                .map_err(|e| e.to_string());
            let _ = node.cast(InternalMsg::Resolved { name, addrs }.into());
        });
    }

    pub(super) fn resolved(
        &mut self,
        myself: &ActorRef<NodeServerMessage>,
        name: &str,
        addrs: Result<Vec<String>, String>,
    ) {
        match addrs {
            Ok(addrs) => {
                let new = self.redial.resolved(name, &addrs, Instant::now());
                if !new.is_empty() {
                    info!(node = %self.local.name, %name, addrs = ?new, "new addresses to keep connected");
                    self.redial_due(myself);
                }
            }
            Err(e) => warn!(node = %self.local.name, %name, error = %e, "cannot resolve a target"),
        }
    }

    /// A dial failed before any session existed.
    pub(super) fn dial_failed(
        &mut self,
        myself: &ActorRef<NodeServerMessage>,
        id: SessionId,
        error: &DialError,
    ) {
        let failure = Failure::of_dial(error);
        let ending = Ending {
            id,
            peer: None,
            peer_connected: false,
            failure,
            error: &error.to_string(),
        };
        let next = self.redial.ended(&ending, Instant::now(), rand::random());
        self.carry_out(myself, next);
    }

    /// Session `id` with `peer` ended for `reason`: dial it again later if
    /// it was a target and nothing else connects this node to the peer.
    pub(super) fn session_lost(
        &mut self,
        myself: &ActorRef<NodeServerMessage>,
        id: SessionId,
        peer: Option<&str>,
        reason: &DisconnectReason,
    ) {
        let failure = Failure::of_session(reason);
        let connected = peer.is_some_and(|p| self.table.authenticated_with(p));
        let ending = Ending {
            id,
            peer,
            peer_connected: connected,
            failure,
            error: &reason.to_string(),
        };
        let next = self.redial.ended(&ending, Instant::now(), rand::random());
        self.carry_out(myself, next);
    }

    /// Schedules the retries `next` asks for and reports them.
    fn carry_out(&mut self, myself: &ActorRef<NodeServerMessage>, next: Vec<Next>) {
        let now = Instant::now();
        for step in next {
            match step {
                Next::Retry {
                    addr,
                    delay,
                    failures,
                } => {
                    info!(node = %self.local.name, %addr, failures, ?delay, "reconnecting later");
                    myself.send_after(delay, || InternalMsg::Redial.into());
                    if let Some(target) = self.redial.info(&addr, now) {
                        self.subscribers.reconnecting(&target);
                    }
                }
                Next::GiveUp { addr } => {
                    let target = self.redial.info(&addr, now);
                    let why = target.as_ref().and_then(|t| t.last_error.clone());
                    warn!(node = %self.local.name, %addr, reason = why.as_deref().unwrap_or(""), "giving up on a target: the refusal is permanent");
                    if let Some(target) = target {
                        self.subscribers.gave_up(&target);
                    }
                }
            }
        }
    }

    pub(super) async fn spawn_session(
        &mut self,
        myself: &ActorRef<NodeServerMessage>,
        id: SessionId,
        stream: SessionStream,
    ) {
        let info = SessionInfo::opened(id, stream.direction, stream.remote_addr);
        let span = session::span::session(&self.local.name, id, stream.direction);
        let args = SessionArgs {
            id,
            node: myself.clone(),
            local: self.local.clone(),
            stream,
            handshake_timeout: self.config.handshake_timeout(),
            heartbeat: self.config.heartbeat(),
            adverts: self.adverts.clone(),
            max_message_size: self.config.max_message_size(),
            queue_limit: self.config.queue_limit(),
            receive_budget: self.config.receive_budget(),
            span: span.clone(),
        };
        let actor = match Actor::spawn_linked(None, NodeSession, args, myself.get_cell()).await {
            Ok((actor, _)) => actor,
            Err(e) => {
                span.in_scope(|| warn!(error = %e, "could not start a session"));
                self.table.dial_failed(id);
                let reason = DisconnectReason::local(
                    DisconnectCause::Stopped,
                    "could not start the session actor",
                );
                answer(self.waiters.failed(id, &ConnectError::Refused(reason)));
                return;
            }
        };
        span.in_scope(|| debug!(peer_addr = ?info.peer_addr, "session opened"));
        self.spans.insert(id, span);
        self.subscribers.opened(&info);
        answer(self.waiters.opened(&info));
        self.table.opened(actor, info);
        self.publish_states();
    }

    pub(super) async fn shut_down(&mut self, myself: &ActorRef<NodeServerMessage>) {
        info!(node = %self.local.name, "stopping");
        ractor::registry::pid_registry::demonitor(myself.get_id());
        ractor::pg::demonitor_scope(
            ractor::pg::ALL_SCOPES_NOTIFICATION.to_owned(),
            myself.get_id(),
        );
        self.serving.not_serving().await;
        let grace = self.config.shutdown_grace();
        let reason = DisconnectReason::local(DisconnectCause::Stopped, "node stopping");
        // Close them all, then wait for them together, not one after another.
        let mut waits = tokio::task::JoinSet::new();
        for handle in self.table.handles() {
            let _ = handle.cast(SessionMsg::Close(reason.clone()));
            let handle = handle.clone();
            waits.spawn(async move { handle.wait(Some(grace)).await });
        }
        while waits.join_next().await.is_some() {}
        let ended: Vec<SessionInfo> = self.table.drain().map(|e| e.info().clone()).collect();
        for info in &ended {
            self.count_closed(info, &reason);
            self.subscribers.disconnected(info, &reason);
        }
        self.publish_states();
        answer(self.waiters.stopped());
        self.serving.stop(grace).await;
    }
}
