//! The session actor: feeds the machine local requests and carries out the
//! actions that need an actor or the node server.
//!
//! It is linked to its node server and supervises the proxies of the peer's
//! actors. It never reads the stream (the reader does) and never decides a
//! protocol rule (the machine does).

use std::{
    collections::VecDeque,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use ractor::{
    Actor, ActorCell, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent, rpc::CallResult,
};
use tokio::{
    sync::OwnedSemaphorePermit,
    task::{AbortHandle, JoinHandle},
};
use tonic::transport::Channel;
use tracing::{Instrument, Span};

use super::{
    machine::{Action, SessionMachine},
    reader, span,
};
use crate::{
    auth::{Local, NONCE_LEN, Nonce, Peer},
    node::{
        arbiter::Verdict,
        config::HeartbeatConfig,
        messages::{InternalMsg, NodeServerMessage, SessionEvent},
    },
    pb,
    reason::{DisconnectCause, DisconnectReason},
    registry::{Adverts, PeerMirror, ProxyChange},
    remote_actor::{Delivery, SessionLink},
    telemetry::{CallMetrics, SessionMetrics},
    transport::{Direction, Farewell, SessionStream},
};

/// How long a closing session keeps reading, so the peer's last frames (its
/// Goodbye, or the end of its stream) arrive before the stream is torn down.
const LINGER: Duration = Duration::from_secs(1);

/// Everything a session starts with.
#[derive(Debug)]
pub(crate) struct SessionArgs {
    pub(crate) id: u64,
    pub(crate) node: ActorRef<NodeServerMessage>,
    pub(crate) local: Arc<Local>,
    pub(crate) stream: SessionStream,
    pub(crate) handshake_timeout: Duration,
    pub(crate) heartbeat: HeartbeatConfig,
    pub(crate) adverts: Arc<Adverts>,
    pub(crate) max_message_size: usize,
    /// Bytes the session may hold for its peer (see the link).
    pub(crate) queue_limit: usize,
    /// Bytes of casts local actors may hold untaken (see the inbox).
    pub(crate) receive_budget: Option<usize>,
    /// The session's span (see [`span`]).
    pub(crate) span: Span,
}

/// Messages a session handles.
#[derive(Debug)]
pub(crate) enum SessionMsg {
    /// Actions of the machine that the reader handed over, in order (it
    /// counted them as one in `handed_over`).
    Act(Vec<Action>),
    /// The node server needs proxies for these advertised actors of the
    /// peer (pid and name; a lookup found them): start those not started
    /// yet; the reply has each that is still advertised.
    Proxies(
        Vec<(u64, Option<Arc<str>>)>,
        RpcReplyPort<Vec<(u64, ActorCell)>>,
    ),
    /// The node server's snapshot of this node's actors and groups: send it,
    /// then Ready.
    Sync(Vec<pb::Envelope>),
    /// The node server sends the peer these envelopes (advertisement
    /// changes, peer lists).
    Send(Vec<pb::Envelope>),
    /// The node server ends this session.
    Close(DisconnectReason),
    /// The handshake deadline passed.
    Deadline,
    /// The clock's tick: heartbeats, and sweeping calls whose callers gave
    /// up.
    Tick,
}

impl ractor::Message for SessionMsg {}

/// The session actor.
#[derive(Debug)]
pub(crate) struct NodeSession;

/// The session actor's state.
#[derive(Debug)]
pub(crate) struct SessionDriver {
    id: u64,
    node: ActorRef<NodeServerMessage>,
    direction: Direction,
    machine: Arc<Mutex<SessionMachine>>,
    link: Arc<SessionLink>,
    delivery: Delivery,
    mirror: PeerMirror,
    /// A dialer's connection, kept until the stream is torn down.
    connection: Option<Channel>,
    /// An accepted stream's place among the unauthenticated ones, given up
    /// once the handshake succeeds.
    admission: Option<OwnedSemaphorePermit>,
    reader: Option<JoinHandle<()>>,
    writer: Option<JoinHandle<()>>,
    /// The timer of the handshake deadline, cancelled once the session is
    /// ready or ends: a refused stranger's session must not leave a task
    /// behind for the rest of the deadline.
    deadline: Option<AbortHandle>,
    handshake_timeout: Duration,
    /// How often the clock ticks (see [`HeartbeatConfig::tick`]).
    tick: Duration,
    /// Actions the reader handed over and this actor has not finished.
    handed_over: Arc<AtomicUsize>,
    /// The session's span, which every handler runs in.
    span: Span,
    /// The span of the phase under way (handshake, then sync), closed when
    /// it ends.
    phase: Option<Span>,
    /// This node's name, for metric labels.
    node_name: Arc<str>,
    /// The session's metrics, once the peer is known.
    metrics: Option<SessionMetrics>,
}

fn fresh_nonce() -> Nonce {
    let mut nonce = [0u8; NONCE_LEN];
    rand::fill(&mut nonce);
    nonce
}

impl Actor for NodeSession {
    type Msg = SessionMsg;
    type State = SessionDriver;
    type Arguments = SessionArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: SessionArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let span = args.span.clone();
        start(myself, args).instrument(span).await
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let span = state.span.clone();
        state.on_message(myself, msg).instrument(span).await;
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        // Children are proxies; they come and go with the peer's actors, and
        // their end is no reason for the session to end. One that failed is
        // forgotten, so it is not handed out any more.
        if let SupervisionEvent::ActorFailed(cell, err) = event
            && let Some(change) = state.mirror.forget(cell.get_id())
        {
            state
                .span
                .in_scope(|| tracing::warn!(error = %err, "a proxy failed"));
            state.report_proxies(&mut vec![change]);
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        // Stopped from outside (the node server stopping): still say goodbye.
        let reason = DisconnectReason::local(DisconnectCause::Stopped, "node stopping");
        let actions = state.step(|m, out| m.close(reason, out));
        let span = state.span.clone();
        state.run(&myself, actions).instrument(span).await;
        Ok(())
    }
}

/// The session actor's `pre_start`, inside the session's span.
async fn start(
    myself: ActorRef<SessionMsg>,
    args: SessionArgs,
) -> Result<SessionDriver, ActorProcessingErr> {
    let SessionStream {
        direction,
        inbound,
        outbound,
        connection,
        admission,
        ..
    } = args.stream;
    let (link, writer) = SessionLink::new(
        outbound,
        args.max_message_size,
        args.queue_limit,
        args.receive_budget,
        args.span.clone(),
    );
    let link = Arc::new(link);
    let delivery = Delivery::new(link.clone(), args.adverts);
    let mut first = Vec::new();
    let node_name: Arc<str> = args.local.name.as_str().into();
    let machine = match direction {
        Direction::Inbound => SessionMachine::accept(
            args.local,
            fresh_nonce(),
            args.handshake_timeout,
            args.heartbeat,
        ),
        Direction::Outbound => SessionMachine::dial(
            args.local,
            fresh_nonce(),
            args.handshake_timeout,
            args.heartbeat,
            &mut first,
        ),
    };
    let machine = Arc::new(Mutex::new(machine));
    let handed_over = Arc::new(AtomicUsize::new(0));
    let reader = tokio::spawn(
        reader::read(
            inbound,
            machine.clone(),
            myself.clone(),
            delivery.clone(),
            handed_over.clone(),
        )
        .instrument(args.span.clone()),
    );
    let deadline = myself
        .send_after(args.handshake_timeout, || SessionMsg::Deadline)
        .abort_handle();
    let mut driver = SessionDriver {
        id: args.id,
        node: args.node,
        direction,
        machine,
        mirror: PeerMirror::new(link.clone()),
        link,
        delivery,
        connection,
        admission,
        reader: Some(reader),
        writer: Some(writer),
        deadline: Some(deadline),
        handshake_timeout: args.handshake_timeout,
        tick: args.heartbeat.tick(),
        handed_over,
        phase: Some(span::handshake(&args.span)),
        span: args.span,
        node_name,
        metrics: None,
    };
    // A dialer's Hello; the queue is empty, so this cannot wait.
    driver.run(&myself, first).await;
    Ok(driver)
}

/// The machine, locked. Every step is a short, synchronous transition that
/// cannot leave it half-changed, so a poisoned lock is taken as it is.
pub(super) fn lock(machine: &Mutex<SessionMachine>) -> MutexGuard<'_, SessionMachine> {
    machine.lock().unwrap_or_else(PoisonError::into_inner)
}

impl SessionDriver {
    /// One message, inside the session's span.
    async fn on_message(&mut self, myself: ActorRef<SessionMsg>, msg: SessionMsg) {
        let actions = match msg {
            SessionMsg::Act(actions) => {
                self.run(&myself, actions).await;
                // Done: the reader may deliver traffic itself again once
                // nothing it handed over is left.
                self.handed_over.fetch_sub(1, Ordering::Release);
                return;
            }
            SessionMsg::Proxies(wanted, reply) => {
                let mut changes = Vec::new();
                let cells = self
                    .mirror
                    .proxies(&myself.get_cell(), wanted, &mut changes)
                    .await;
                self.report_proxies(&mut changes);
                let _ = reply.send(cells);
                return;
            }
            SessionMsg::Sync(snapshot) => self.step(|m, out| m.sync(snapshot, out)),
            SessionMsg::Send(envelopes) => self.step(|m, out| m.send(envelopes, out)),
            SessionMsg::Close(reason) => self.step(|m, out| m.close(reason, out)),
            SessionMsg::Deadline => self.step(SessionMachine::deadline),
            SessionMsg::Tick => {
                self.link.sweep();
                if let Some(metrics) = &mut self.metrics {
                    metrics.publish(&self.link.totals());
                }
                self.step(|m, out| m.tick(Instant::now(), out))
            }
        };
        self.run(&myself, actions).await;
    }

    /// Feeds the machine one input; returns what it asks for.
    fn step(&self, input: impl FnOnce(&mut SessionMachine, &mut Vec<Action>)) -> Vec<Action> {
        let mut out = Vec::new();
        input(&mut lock(&self.machine), &mut out);
        out
    }

    /// Tells the node server about this session.
    fn report(&self, event: SessionEvent) {
        let _ = self
            .node
            .cast(InternalMsg::Session { id: self.id, event }.into());
    }

    /// Tells the node server what changed among the peer's actors, if
    /// anything did; leaves `changes` empty.
    fn report_proxies(&self, changes: &mut Vec<ProxyChange>) {
        if !changes.is_empty() {
            self.report(SessionEvent::Proxies(std::mem::take(changes)));
        }
    }

    /// Carries out `actions` in order, and what they lead to. The proxy
    /// changes of a run of adverts go to the node server in one report,
    /// before anything else is reported (a sync of many actors is then a
    /// few messages, not one per actor).
    async fn run(&mut self, myself: &ActorRef<SessionMsg>, actions: Vec<Action>) {
        let mut work = VecDeque::from(actions);
        let mut changes = Vec::new();
        while let Some(action) = work.pop_front() {
            if !matches!(action, Action::Advert(_)) {
                self.report_proxies(&mut changes);
            }
            match action {
                Action::Send(envelope) => self.link.send_control(envelope),
                Action::Deliver(traffic) => self.delivery.deliver(traffic),
                Action::Claim(peer) => {
                    // A peer that broke the protocol after naming itself
                    // must not get to displace another session.
                    if self.is_closed() {
                        continue;
                    }
                    let verdict = self.claim(&peer).await;
                    work.extend(self.step(|m, out| m.claimed(verdict, out)));
                }
                Action::Authenticated(peer) => {
                    self.admission = None;
                    span::identified(&self.span, &peer);
                    self.phase = Some(span::sync(&self.span));
                    self.metrics = Some(SessionMetrics::new(&self.node_name, &peer.name));
                    self.link
                        .set_call_metrics(CallMetrics::new(&self.node_name, &peer.name));
                    self.link.set_peer(&peer.name);
                    self.report(SessionEvent::Authenticated {
                        peer,
                        link: self.link.clone(),
                    });
                    myself.send_interval(self.tick, || SessionMsg::Tick);
                }
                Action::Advert(advert) => {
                    self.mirror
                        .apply(&myself.get_cell(), advert, &mut changes)
                        .await;
                }
                Action::Peers(peers) => self.report(SessionEvent::PeersAdvertised(peers)),
                Action::PeerReady => work.extend(self.step(SessionMachine::peer_ready)),
                Action::RoundTrip(rtt) => self.link.stats.record_round_trip(rtt),
                Action::Ready => {
                    self.cancel_deadline();
                    self.phase = None;
                    self.report(SessionEvent::Ready);
                }
                Action::Close { reason, farewell } => self.end(myself, reason, farewell),
            }
        }
        self.report_proxies(&mut changes);
    }

    fn cancel_deadline(&mut self) {
        if let Some(timer) = self.deadline.take() {
            timer.abort();
        }
    }

    fn is_closed(&self) -> bool {
        lock(&self.machine).is_closed()
    }

    /// Asks the node server whether a session with `peer` may go on.
    async fn claim(&self, peer: &Peer) -> Result<(), DisconnectReason> {
        let direction = self.direction;
        let result = self
            .node
            .call(
                |reply| {
                    InternalMsg::Claim {
                        id: self.id,
                        direction,
                        peer: peer.clone(),
                        reply,
                    }
                    .into()
                },
                Some(self.handshake_timeout),
            )
            .await;
        match result {
            Ok(CallResult::Success(Verdict::Proceed(_))) => Ok(()),
            Ok(CallResult::Success(Verdict::Refuse(reason))) => Err(reason),
            _ => Err(DisconnectReason::local(
                DisconnectCause::Stopped,
                "node stopping",
            )),
        }
    }

    /// Ends the session: the writer flushes and sends the farewell, calls in
    /// flight fail, the proxies drain and stop, the node server hears why,
    /// and the actor stops. The reader lingers briefly so the peer's last
    /// frames arrive before the stream is dropped.
    fn end(&mut self, myself: &ActorRef<SessionMsg>, reason: DisconnectReason, farewell: Farewell) {
        self.cancel_deadline();
        self.phase = None;
        self.link.close(&reason, farewell);
        if let Some(metrics) = &mut self.metrics {
            metrics.ended(&self.link.totals());
        }
        self.mirror.stop_all();
        let connection = self.connection.take();
        let tasks: Vec<JoinHandle<()>> = [self.writer.take(), self.reader.take()]
            .into_iter()
            .flatten()
            .collect();
        tokio::spawn(async move {
            for mut task in tasks {
                if tokio::time::timeout(LINGER, &mut task).await.is_err() {
                    task.abort();
                }
            }
            drop(connection);
        });
        self.report(SessionEvent::Closed(reason));
        myself.stop(None);
    }
}
