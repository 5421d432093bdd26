//! One Session stream with one peer: the actor that drives the handshake, the
//! first sync, and the traffic that follows.
//!
//! A session is a ractor actor linked to its node server. Its stream has two
//! halves: a reader task that turns inbound frames into actor messages (so
//! the actor never blocks on the network while handling a message), and an
//! outbound queue that tonic drains into the stream. The outbound queue is
//! shared through a [`SessionLink`] with the proxies of the peer's actors, so
//! a cast goes from the proxy straight into the stream.

use std::{sync::Arc, time::Duration};

use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent, rpc::CallResult};
use tokio::{
    sync::{mpsc, oneshot},
    task::JoinHandle,
};
use tonic::{Code, Status, Streaming, transport::Channel};

use super::{
    arbiter::Verdict,
    info::{Direction, SessionId},
    server::{InternalMsg, NodeServerMessage, SessionEvent},
};
use crate::{
    auth::{
        NONCE_LEN, Nonce,
        handshake::{
            self, AwaitChallenge, AwaitHello, AwaitProof, AwaitWelcome, HandshakeError, Local, Peer,
        },
    },
    pb::{self, envelope::Body},
    reason::{DisconnectCause, DisconnectReason},
    registry::{
        adverts::Adverts,
        mirror::{AdvertBody, PeerMirror},
    },
    remote_actor::{
        deliver::Delivery,
        link::{FrameTx, SessionLink},
        report::{Registration, Sink},
    },
};

/// Most entries a PeerList may carry.
const MAX_PEER_LIST: usize = 1024;

/// Frames a session may queue towards its peer before senders wait.
pub(crate) const OUTBOUND_QUEUE_FRAMES: usize = 128;

/// How long a closing session keeps reading, so the peer's last frames (its
/// Goodbye, or the end of its stream) arrive before the stream is torn down.
const LINGER: Duration = Duration::from_secs(1);

/// How often calls whose callers gave up are swept from the pending table.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// The sending half of a Session stream, as the node server hands it over.
#[derive(Debug)]
pub(crate) enum Outbound {
    /// This node serves the stream.
    Acceptor(mpsc::Sender<Result<pb::Frame, Status>>),
    /// This node opened the stream. The channel owns the HTTP/2 connection,
    /// so it lives as long as the session.
    Dialer {
        tx: mpsc::Sender<pb::Frame>,
        channel: Channel,
    },
}

/// Everything a session starts with.
#[derive(Debug)]
pub(crate) struct SessionArgs {
    pub(crate) id: SessionId,
    pub(crate) node: ActorRef<NodeServerMessage>,
    pub(crate) local: Arc<Local>,
    pub(crate) inbound: Streaming<pb::Frame>,
    pub(crate) outbound: Outbound,
    pub(crate) handshake_timeout: Duration,
    pub(crate) adverts: Arc<Adverts>,
    pub(crate) max_message_size: usize,
}

/// Messages a session handles.
#[derive(Debug)]
pub(crate) enum SessionMsg {
    /// A frame from the peer (sent by the reader task). With `ack`, the
    /// reader waits to hear whether the peer's Ready has been taken, so it
    /// can deliver traffic itself from then on (see [`read_frames`]).
    Inbound(pb::Frame, Option<oneshot::Sender<bool>>),
    /// The peer's half of the stream ended, with the status if it failed.
    InboundEnded(Option<Status>),
    /// The handshake deadline passed.
    Deadline,
    /// The node server ends this session.
    Close(DisconnectReason),
    /// The node server's snapshot of this node's actors and groups: send it,
    /// then Ready.
    Sync(Vec<pb::Envelope>),
    /// The node server sends the peer these envelopes (advertisement
    /// changes, peer lists).
    Send(Vec<pb::Envelope>),
    /// Time to sweep abandoned calls.
    Sweep,
}

impl ractor::Message for SessionMsg {}

/// Where the session is.
#[derive(Debug)]
enum Phase {
    AwaitHello(AwaitHello),
    AwaitProof(AwaitProof),
    AwaitChallenge(AwaitChallenge),
    AwaitWelcome(AwaitWelcome),
    /// Authenticated; waiting for our snapshot (from the node server) and the
    /// peer's Ready, in either order.
    Syncing {
        sent_ready: bool,
        got_ready: bool,
    },
    Ready,
    /// Closed; the actor is stopping.
    Done,
}

/// A session's state.
#[derive(Debug)]
pub(crate) struct SessionState {
    id: SessionId,
    direction: Direction,
    node: ActorRef<NodeServerMessage>,
    link: Arc<SessionLink>,
    channel: Option<Channel>,
    reader: Option<JoinHandle<()>>,
    writer: Option<JoinHandle<()>>,
    phase: Phase,
    handshake_timeout: Duration,
    mirror: PeerMirror,
    delivery: Delivery,
}

/// The session actor.
#[derive(Debug)]
pub(crate) struct NodeSession;

fn fresh_nonce() -> Nonce {
    let mut nonce = [0u8; NONCE_LEN];
    rand::fill(&mut nonce);
    nonce
}

fn violation(detail: impl Into<String>) -> DisconnectReason {
    DisconnectReason::local(DisconnectCause::ProtocolViolation, detail)
}

fn handshake_failed(e: &HandshakeError) -> DisconnectReason {
    DisconnectReason::local(e.cause(), e.to_string())
}

fn single(body: Body) -> pb::Frame {
    pb::Frame {
        envelopes: vec![pb::Envelope { body: Some(body) }],
    }
}

fn is_traffic(envelope: &pb::Envelope) -> bool {
    matches!(
        envelope.body,
        Some(Body::Cast(_) | Body::Call(_) | Body::CallReply(_) | Body::CallError(_))
    )
}

/// Reads the stream until it ends or the session is gone. Runs as its own
/// task so a slow network never blocks the actor.
///
/// Until the peer's Ready has been taken, every frame goes to the session
/// actor, in order. The frame that carries the peer's Ready is sent with an
/// acknowledgement, and the reader reads nothing more until the session has
/// handled it, so no later frame can overtake an earlier one. From then on
/// the reader delivers casts, calls and call answers itself (one actor hop
/// less per message) and passes everything else to the session.
async fn read_frames(
    mut inbound: Streaming<pb::Frame>,
    session: ActorRef<SessionMsg>,
    delivery: Delivery,
) {
    let mut fast_mode = false;
    loop {
        let frame = match inbound.message().await {
            Ok(Some(frame)) => frame,
            Ok(None) => {
                let _ = session.cast(SessionMsg::InboundEnded(None));
                return;
            }
            Err(status) => {
                let _ = session.cast(SessionMsg::InboundEnded(Some(status)));
                return;
            }
        };
        if !fast_mode {
            let has_ready = frame
                .envelopes
                .iter()
                .any(|e| matches!(e.body, Some(Body::Ready(_))));
            if !has_ready {
                if session.cast(SessionMsg::Inbound(frame, None)).is_err() {
                    return;
                }
                continue;
            }
            let (ack, acked) = oneshot::channel();
            if session.cast(SessionMsg::Inbound(frame, Some(ack))).is_err() {
                return;
            }
            fast_mode = acked.await.unwrap_or(false);
            continue;
        }
        if frame.envelopes.is_empty() || !frame.envelopes.iter().any(is_traffic) {
            if session.cast(SessionMsg::Inbound(frame, None)).is_err() {
                return;
            }
            continue;
        }
        let mut rest = Vec::new();
        for envelope in frame.envelopes {
            if let Err(body) = delivery.traffic(envelope.body) {
                rest.push(pb::Envelope { body });
            }
        }
        if !rest.is_empty()
            && session
                .cast(SessionMsg::Inbound(pb::Frame { envelopes: rest }, None))
                .is_err()
        {
            return;
        }
    }
}

impl Actor for NodeSession {
    type Msg = SessionMsg;
    type State = SessionState;
    type Arguments = SessionArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: SessionArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let (direction, tx, channel) = match args.outbound {
            Outbound::Acceptor(tx) => (Direction::Inbound, FrameTx::Acceptor(tx), None),
            Outbound::Dialer { tx, channel } => {
                (Direction::Outbound, FrameTx::Dialer(tx), Some(channel))
            }
        };
        let (link, writer) = SessionLink::new(tx, args.max_message_size);
        let link = Arc::new(link);
        let delivery = Delivery {
            link: link.clone(),
            adverts: args.adverts,
            cast_report: Arc::new(Registration::new(Sink::Counter(
                link.stats.undecodable.clone(),
            ))),
        };
        let reader = tokio::spawn(read_frames(args.inbound, myself.clone(), delivery.clone()));
        let phase = match direction {
            Direction::Inbound => Phase::AwaitHello(AwaitHello::new(args.local, fresh_nonce())),
            Direction::Outbound => {
                let (state, hello) = AwaitChallenge::start(args.local, fresh_nonce());
                // The queue is empty and far larger than one frame, so this
                // cannot wait; a closed stream shows up as InboundEnded.
                link.send_control(hello);
                Phase::AwaitChallenge(state)
            }
        };
        myself.send_after(args.handshake_timeout, || SessionMsg::Deadline);
        Ok(SessionState {
            id: args.id,
            direction,
            node: args.node,
            mirror: PeerMirror::new(link.clone()),
            link,
            channel,
            reader: Some(reader),
            writer: Some(writer),
            phase,
            handshake_timeout: args.handshake_timeout,
            delivery,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if matches!(state.phase, Phase::Done) {
            return Ok(());
        }
        let outcome = match msg {
            SessionMsg::Inbound(frame, ack) => {
                let outcome = state.on_frame(&myself, frame).await;
                if let Some(ack) = ack {
                    let peer_ready = matches!(
                        state.phase,
                        Phase::Ready
                            | Phase::Syncing {
                                got_ready: true,
                                ..
                            }
                    );
                    let _ = ack.send(outcome.is_ok() && peer_ready);
                }
                outcome
            }
            SessionMsg::InboundEnded(status) => Err(state.inbound_ended(status)),
            SessionMsg::Deadline => match state.phase {
                Phase::Ready => Ok(()),
                _ => Err(DisconnectReason::local(
                    DisconnectCause::HandshakeTimeout,
                    format!(
                        "the handshake did not finish within {} ms",
                        state.handshake_timeout.as_millis()
                    ),
                )),
            },
            SessionMsg::Close(reason) => Err(reason),
            SessionMsg::Sync(envelopes) => state.send_sync(&myself, envelopes).await,
            SessionMsg::Send(envelopes) => {
                for envelope in envelopes {
                    state.link.send_control(envelope);
                }
                Ok(())
            }
            SessionMsg::Sweep => {
                state.link.sweep();
                Ok(())
            }
        };
        if let Err(reason) = outcome {
            state.end(&myself, reason);
        }
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
            tracing::warn!(peer = %state.link.peer(), error = %err, "a proxy failed");
            state.report(SessionEvent::Proxies(vec![change]));
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        // Stopped from outside (the node server stopping): still say goodbye.
        state.end(
            &myself,
            DisconnectReason::local(DisconnectCause::Stopped, "node stopping"),
        );
        Ok(())
    }
}

impl SessionState {
    /// Tells the node server about this session.
    fn report(&self, event: SessionEvent) {
        let _ = self
            .node
            .cast(InternalMsg::Session { id: self.id, event }.into());
    }

    async fn on_frame(
        &mut self,
        myself: &ActorRef<SessionMsg>,
        frame: pb::Frame,
    ) -> Result<(), DisconnectReason> {
        if frame.envelopes.is_empty() {
            return Err(violation("empty frame"));
        }
        for envelope in frame.envelopes {
            self.on_envelope(myself, envelope).await?;
        }
        Ok(())
    }

    async fn on_envelope(
        &mut self,
        myself: &ActorRef<SessionMsg>,
        env: pb::Envelope,
    ) -> Result<(), DisconnectReason> {
        if let Some(Body::Goodbye(goodbye)) = &env.body {
            return Err(DisconnectReason::from_goodbye(goodbye));
        }
        match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::AwaitHello(s) => {
                let (next, challenge) = s.on_envelope(env).map_err(|e| handshake_failed(&e))?;
                self.link.send_control(challenge);
                self.phase = Phase::AwaitProof(next);
            }
            Phase::AwaitProof(s) => {
                let verified = s.on_envelope(env).map_err(|e| handshake_failed(&e))?;
                self.claim(verified.peer()).await?;
                let (auth, welcome) = verified.welcome();
                self.link.send_control(welcome);
                self.authenticated(myself, auth.peer);
            }
            Phase::AwaitChallenge(s) => {
                let received = s.on_envelope(env).map_err(|e| handshake_failed(&e))?;
                self.claim(received.peer()).await?;
                let (next, proof) = received.prove();
                self.link.send_control(proof);
                self.phase = Phase::AwaitWelcome(next);
            }
            Phase::AwaitWelcome(s) => {
                let auth = s.on_envelope(env).map_err(|e| handshake_failed(&e))?;
                self.authenticated(myself, auth.peer);
            }
            Phase::Syncing {
                sent_ready,
                got_ready,
            } => {
                self.phase = Phase::Syncing {
                    sent_ready,
                    got_ready,
                };
                match env.body {
                    Some(Body::Ready(_)) if !got_ready => {
                        self.phase = Phase::Syncing {
                            sent_ready,
                            got_ready: true,
                        };
                        self.maybe_ready();
                    }
                    // The peer may already send traffic (its own actors may
                    // react to our snapshot before our Ready is out).
                    body => self.on_traffic(myself, pb::Envelope { body }).await?,
                }
            }
            Phase::Ready => {
                self.phase = Phase::Ready;
                self.on_traffic(myself, env).await?;
            }
            Phase::Done => {}
        }
        Ok(())
    }

    /// Sync-time and later: the peer's actors and groups.
    async fn on_advert(
        &mut self,
        myself: &ActorRef<SessionMsg>,
        body: Option<Body>,
        during: &str,
    ) -> Result<(), DisconnectReason> {
        let advert = match body {
            Some(Body::Spawned(b)) => AdvertBody::Spawned(b),
            Some(Body::Terminated(b)) => AdvertBody::Terminated(b),
            Some(Body::PgJoined(b)) => AdvertBody::PgJoined(b),
            Some(Body::PgLeft(b)) => AdvertBody::PgLeft(b),
            other => {
                let kind = handshake::kind(&pb::Envelope { body: other });
                return Err(violation(format!("unexpected {kind} during {during}")));
            }
        };
        let changes = self.mirror.apply(&myself.get_cell(), advert).await;
        if !changes.is_empty() {
            self.report(SessionEvent::Proxies(changes));
        }
        Ok(())
    }

    /// After Ready: messages, replies, advertisement changes, peer lists.
    async fn on_traffic(
        &mut self,
        myself: &ActorRef<SessionMsg>,
        env: pb::Envelope,
    ) -> Result<(), DisconnectReason> {
        match self.delivery.traffic(env.body) {
            Ok(()) => Ok(()),
            Err(Some(Body::Peers(list))) => {
                if list.peers.len() > MAX_PEER_LIST {
                    return Err(violation("a PeerList longer than 1024 entries"));
                }
                self.report(SessionEvent::PeersAdvertised(list.peers));
                Ok(())
            }
            Err(body) => self.on_advert(myself, body, "traffic").await,
        }
    }

    /// Asks the node server whether a session with `peer` may go on.
    async fn claim(&self, peer: &Peer) -> Result<(), DisconnectReason> {
        let result = self
            .node
            .call(
                |reply| {
                    InternalMsg::Claim {
                        id: self.id,
                        direction: self.direction,
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

    /// Both sides proved the cookie: report it. The node server answers with
    /// the snapshot to sync ([`SessionMsg::Sync`]).
    fn authenticated(&mut self, myself: &ActorRef<SessionMsg>, peer: Peer) {
        self.link.set_peer(&peer.name);
        self.report(SessionEvent::Authenticated {
            peer,
            link: self.link.clone(),
            session: myself.clone(),
        });
        myself.send_interval(SWEEP_EVERY, || SessionMsg::Sweep);
        self.phase = Phase::Syncing {
            sent_ready: false,
            got_ready: false,
        };
    }

    /// Sends our snapshot, then Ready.
    async fn send_sync(
        &mut self,
        _myself: &ActorRef<SessionMsg>,
        envelopes: Vec<pb::Envelope>,
    ) -> Result<(), DisconnectReason> {
        let Phase::Syncing {
            sent_ready: false,
            got_ready,
        } = self.phase
        else {
            return Ok(());
        };
        let mut envelopes = envelopes;
        envelopes.push(pb::Envelope {
            body: Some(Body::Ready(pb::Ready {})),
        });
        for envelope in envelopes {
            self.link.send_control(envelope);
        }
        self.phase = Phase::Syncing {
            sent_ready: true,
            got_ready,
        };
        self.maybe_ready();
        Ok(())
    }

    fn maybe_ready(&mut self) {
        if let Phase::Syncing {
            sent_ready: true,
            got_ready: true,
        } = self.phase
        {
            self.phase = Phase::Ready;
            self.report(SessionEvent::Ready);
        }
    }

    /// Classifies the end of the peer's half of the stream.
    fn inbound_ended(&self, status: Option<Status>) -> DisconnectReason {
        let Some(status) = status else {
            return DisconnectReason::peer(
                DisconnectCause::Transport,
                "the peer closed the stream without a goodbye",
            );
        };
        let decode_error = matches!(
            status.code(),
            Code::Internal | Code::OutOfRange | Code::ResourceExhausted | Code::DataLoss
        );
        let has_cause = status
            .metadata()
            .get(crate::reason::CAUSE_METADATA_KEY)
            .is_some();
        match self.direction {
            // An acceptor's read fails only for the transport or a frame it
            // could not decode (too large, not protobuf).
            Direction::Inbound if decode_error => DisconnectReason::local(
                DisconnectCause::ProtocolViolation,
                format!("bad frame from the peer: {}", status.message()),
            ),
            Direction::Inbound => {
                DisconnectReason::peer(DisconnectCause::Transport, status.message())
            }
            Direction::Outbound if decode_error && !has_cause => DisconnectReason::local(
                DisconnectCause::ProtocolViolation,
                format!("bad frame from the peer: {}", status.message()),
            ),
            Direction::Outbound => DisconnectReason::from_status(&status),
        }
    }

    /// Ends the session once: tells the peer, fails calls in flight, stops the
    /// proxies, reports to the node server and stops the actor. The reader
    /// lingers briefly so the peer's farewell arrives before the stream is
    /// dropped.
    fn end(&mut self, myself: &ActorRef<SessionMsg>, reason: DisconnectReason) {
        if matches!(self.phase, Phase::Done) && self.reader.is_none() && self.writer.is_none() {
            return;
        }
        self.phase = Phase::Done;
        let last = (!reason.by_peer).then(|| match self.direction {
            Direction::Inbound if reason.cause != DisconnectCause::Stopped => {
                Err(reason.to_status())
            }
            _ => Ok(single(Body::Goodbye(reason.to_goodbye()))),
        });
        self.link.close(&reason, last);
        self.mirror
            .stop_all(&format!("the session with {} ended", self.link.peer()));
        let channel = self.channel.take();
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
            drop(channel);
        });
        self.report(SessionEvent::Closed(reason));
        myself.stop(None);
    }
}
