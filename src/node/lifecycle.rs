//! The node's lifecycle: starting (listener, gRPC face, ractor monitors, the
//! first scan of local actors), dialing and starting sessions, stopping.
//!
//! Owns the moments a node or a session begins and the node ends; the
//! server's dispatch calls into it. Holds no rule of its own.

use std::{sync::Arc, time::Instant};

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
    server::{ConnectReply, NodeServerState, Serve, answer},
    session::{NodeSession, SessionArgs, SessionMsg},
    subscribers::Subscribers,
    table::SessionTable,
    waiters::Waiters,
};
use crate::{
    auth::{Local, MAX_PROTOCOL_VERSION, MIN_PROTOCOL_VERSION, TokenVerifier},
    reason::{DisconnectCause, DisconnectReason},
    registry::Adverts,
    transport::{self, SessionStream},
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
    /// Binds the listener, starts the face `serve` gives, watches ractor's
    /// registries and takes stock of the local actors to advertise.
    pub(super) async fn start(
        config: NodeConfig,
        serve: Serve,
        myself: ActorRef<NodeServerMessage>,
    ) -> Result<Self, ActorProcessingErr> {
        config.validate()?;
        let listener = TcpListener::bind(config.listen_addr()).await?;
        let listen_addr = listener.local_addr()?;
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
        let serving = serve(listener, config.http2(), tokens, myself.clone()).await?;
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
        info!(node = %local.name, %listen_addr, advertised = %local.listen_addr, "listening");
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
        })
    }

    /// Dials `addr` in the background; the outcome goes to `waiter`, if any.
    pub(super) fn dial(
        &mut self,
        myself: &ActorRef<NodeServerMessage>,
        addr: String,
        waiter: Option<(ConnectReply, bool)>,
    ) {
        let id = self.table.next_id();
        self.table.dialing(id, addr.clone());
        if let Some((reply, until_ready)) = waiter {
            // Dial, handshake and first sync.
            let budget = self.config.handshake_timeout() * 2;
            self.waiters
                .add(id, until_ready, Instant::now() + budget, reply);
            myself.send_after(budget, || InternalMsg::ExpireWaiters.into());
        }
        let settings = self.config.http2();
        let node = myself.clone();
        tokio::spawn(async move {
            let result = transport::dial(&addr, &settings).await.map(Box::new);
            let _ = node.cast(InternalMsg::Dialled { id, addr, result }.into());
        });
    }

    pub(super) async fn spawn_session(
        &mut self,
        myself: &ActorRef<NodeServerMessage>,
        id: SessionId,
        stream: SessionStream,
    ) {
        let info = SessionInfo::opened(id, stream.direction, stream.remote_addr);
        let args = SessionArgs {
            id,
            node: myself.clone(),
            local: self.local.clone(),
            stream,
            handshake_timeout: self.config.handshake_timeout(),
            heartbeat: self.config.heartbeat(),
            adverts: self.adverts.clone(),
            max_message_size: self.config.max_message_size(),
        };
        let actor = match Actor::spawn_linked(None, NodeSession, args, myself.get_cell()).await {
            Ok((actor, _)) => actor,
            Err(e) => {
                warn!(session = id, error = %e, "could not start a session");
                self.table.dial_failed(id);
                let reason = DisconnectReason::local(
                    DisconnectCause::Stopped,
                    "could not start the session actor",
                );
                answer(self.waiters.failed(id, &ConnectError::Refused(reason)));
                return;
            }
        };
        debug!(node = %self.local.name, session = id, direction = ?info.direction, peer_addr = ?info.peer_addr, "session opened");
        self.subscribers.opened(&info);
        answer(self.waiters.opened(&info));
        self.table.opened(actor, info);
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
            self.subscribers.disconnected(info, &reason);
        }
        answer(self.waiters.stopped());
        self.serving.stop(grace).await;
    }
}
