//! One Session stream with one peer: the actor that drives the handshake, the
//! first sync and (in later protocol revisions) the traffic.
//!
//! A session is a ractor actor linked to its node server. Its stream has two
//! halves: a reader task that turns inbound frames into actor messages (so
//! the actor never blocks on the network while handling a message) and an
//! outbound queue that tonic drains into the stream.

use std::{sync::Arc, time::Duration};

use ractor::{Actor, ActorProcessingErr, ActorRef, rpc::CallResult};
use tokio::{sync::mpsc, task::JoinHandle};
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
};

/// Most entries a PeerList may carry.
const MAX_PEER_LIST: usize = 1024;

/// Frames a session may queue towards its peer before senders wait.
pub(crate) const OUTBOUND_QUEUE_FRAMES: usize = 128;

/// How long a closing session keeps reading, so the peer's last frames (its
/// Goodbye, or the end of its stream) arrive before the stream is torn down.
const LINGER: Duration = Duration::from_secs(1);

/// The sending half of a Session stream.
#[derive(Debug)]
pub(crate) enum Outbound {
    /// This node serves the stream: frames, and at the end an optional status,
    /// go into the response.
    Acceptor(mpsc::Sender<Result<pb::Frame, Status>>),
    /// This node opened the stream: frames go into the request. The channel
    /// owns the HTTP/2 connection, so it lives as long as the session.
    Dialer {
        tx: mpsc::Sender<pb::Frame>,
        channel: Channel,
    },
}

impl Outbound {
    fn direction(&self) -> Direction {
        match self {
            Self::Acceptor(_) => Direction::Inbound,
            Self::Dialer { .. } => Direction::Outbound,
        }
    }

    /// Queues one frame; fails when the stream is gone.
    async fn send(&self, frame: pb::Frame) -> Result<(), DisconnectReason> {
        let sent = match self {
            Self::Acceptor(tx) => tx.send(Ok(frame)).await.is_ok(),
            Self::Dialer { tx, .. } => tx.send(frame).await.is_ok(),
        };
        if sent {
            Ok(())
        } else {
            Err(DisconnectReason::peer(
                DisconnectCause::Transport,
                "the stream closed",
            ))
        }
    }

    /// Ends the sending half. When this node ends the session the peer is told
    /// why: an acceptor with a status (or a Goodbye for an orderly stop), a
    /// dialer with a Goodbye. Best effort: a full queue drops the farewell, and
    /// the stream still ends. Returns the channel, to keep until the linger ends.
    fn close(self, reason: &DisconnectReason) -> Option<Channel> {
        let goodbye = || pb::Frame {
            envelopes: vec![pb::Envelope {
                body: Some(Body::Goodbye(reason.to_goodbye())),
            }],
        };
        match self {
            Self::Acceptor(tx) => {
                if !reason.by_peer {
                    let last = if reason.cause == DisconnectCause::Stopped {
                        Ok(goodbye())
                    } else {
                        Err(reason.to_status())
                    };
                    let _ = tx.try_send(last);
                }
                None
            }
            Self::Dialer { tx, channel } => {
                if !reason.by_peer {
                    let _ = tx.try_send(goodbye());
                }
                Some(channel)
            }
        }
    }
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
}

/// Messages a session handles.
#[derive(Debug)]
pub(crate) enum SessionMsg {
    /// A frame from the peer (sent by the reader task).
    Inbound(pb::Frame),
    /// The peer's half of the stream ended, with the status if it failed.
    InboundEnded(Option<Status>),
    /// The handshake deadline passed.
    Deadline,
    /// The node server ends this session.
    Close(DisconnectReason),
    /// The node server sends the peer this frame (once ready).
    Send(pb::Frame),
}

impl ractor::Message for SessionMsg {}

/// Where the session is.
#[derive(Debug)]
enum Phase {
    AwaitHello(AwaitHello),
    AwaitProof(AwaitProof),
    AwaitChallenge(AwaitChallenge),
    AwaitWelcome(AwaitWelcome),
    /// Authenticated and our Ready is sent; waiting for the peer's Ready.
    Syncing,
    Ready,
    /// Closed; the actor is stopping.
    Done,
}

impl Phase {
    fn is_handshake(&self) -> bool {
        matches!(
            self,
            Self::AwaitHello(_)
                | Self::AwaitProof(_)
                | Self::AwaitChallenge(_)
                | Self::AwaitWelcome(_)
        )
    }
}

/// A session's state.
#[derive(Debug)]
pub(crate) struct SessionState {
    id: SessionId,
    direction: Direction,
    node: ActorRef<NodeServerMessage>,
    outbound: Option<Outbound>,
    reader: Option<JoinHandle<()>>,
    phase: Phase,
    handshake_timeout: Duration,
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

/// Turns inbound frames into messages until the stream ends or the session
/// is gone. Runs as its own task so a slow network never blocks the actor.
async fn read_frames(mut inbound: Streaming<pb::Frame>, session: ActorRef<SessionMsg>) {
    loop {
        let msg = match inbound.message().await {
            Ok(Some(frame)) => SessionMsg::Inbound(frame),
            Ok(None) => SessionMsg::InboundEnded(None),
            Err(status) => SessionMsg::InboundEnded(Some(status)),
        };
        let last = matches!(msg, SessionMsg::InboundEnded(_));
        if session.cast(msg).is_err() || last {
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
        let direction = args.outbound.direction();
        let reader = tokio::spawn(read_frames(args.inbound, myself.clone()));
        let phase = match direction {
            Direction::Inbound => Phase::AwaitHello(AwaitHello::new(args.local, fresh_nonce())),
            Direction::Outbound => {
                let (state, hello) = AwaitChallenge::start(args.local, fresh_nonce());
                // The queue is empty and far larger than one frame, so this
                // cannot wait; a closed stream shows up as InboundEnded.
                let _ = args
                    .outbound
                    .send(pb::Frame {
                        envelopes: vec![hello],
                    })
                    .await;
                Phase::AwaitChallenge(state)
            }
        };
        myself.send_after(args.handshake_timeout, || SessionMsg::Deadline);
        Ok(SessionState {
            id: args.id,
            direction,
            node: args.node,
            outbound: Some(args.outbound),
            reader: Some(reader),
            phase,
            handshake_timeout: args.handshake_timeout,
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
            SessionMsg::Inbound(frame) => state.on_frame(frame).await,
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
            SessionMsg::Send(frame) => state.send(frame).await,
        };
        if let Err(reason) = outcome {
            state.end(&myself, reason);
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
    async fn on_frame(&mut self, frame: pb::Frame) -> Result<(), DisconnectReason> {
        if frame.envelopes.is_empty() {
            return Err(violation("empty frame"));
        }
        if self.phase.is_handshake() && frame.envelopes.len() != 1 {
            return Err(violation(
                "a handshake frame must carry exactly one envelope",
            ));
        }
        for envelope in frame.envelopes {
            self.on_envelope(envelope).await?;
        }
        Ok(())
    }

    async fn on_envelope(&mut self, env: pb::Envelope) -> Result<(), DisconnectReason> {
        if let Some(Body::Goodbye(goodbye)) = &env.body {
            return Err(DisconnectReason::from_goodbye(goodbye));
        }
        match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::AwaitHello(s) => {
                let (next, challenge) = s.on_envelope(env).map_err(|e| handshake_failed(&e))?;
                self.send(pb::Frame {
                    envelopes: vec![challenge],
                })
                .await?;
                self.phase = Phase::AwaitProof(next);
            }
            Phase::AwaitProof(s) => {
                let verified = s.on_envelope(env).map_err(|e| handshake_failed(&e))?;
                self.claim(verified.peer()).await?;
                let (auth, welcome) = verified.welcome();
                self.send(pb::Frame {
                    envelopes: vec![welcome],
                })
                .await?;
                self.authenticated(auth.peer).await?;
            }
            Phase::AwaitChallenge(s) => {
                let received = s.on_envelope(env).map_err(|e| handshake_failed(&e))?;
                self.claim(received.peer()).await?;
                let (next, proof) = received.prove();
                self.send(pb::Frame {
                    envelopes: vec![proof],
                })
                .await?;
                self.phase = Phase::AwaitWelcome(next);
            }
            Phase::AwaitWelcome(s) => {
                let auth = s.on_envelope(env).map_err(|e| handshake_failed(&e))?;
                self.authenticated(auth.peer).await?;
            }
            Phase::Syncing => match env.body {
                Some(Body::Ready(_)) => {
                    let _ = self.node.cast(
                        InternalMsg::Session {
                            id: self.id,
                            event: SessionEvent::Ready,
                        }
                        .into(),
                    );
                    self.phase = Phase::Ready;
                }
                _ => {
                    return Err(violation(format!(
                        "expected Ready or sync traffic, got {}",
                        handshake::kind(&env)
                    )));
                }
            },
            Phase::Ready => {
                self.phase = Phase::Ready;
                match env.body {
                    Some(Body::Peers(list)) => {
                        if list.peers.len() > MAX_PEER_LIST {
                            return Err(violation("a PeerList longer than 1024 entries"));
                        }
                        let _ = self.node.cast(
                            InternalMsg::Session {
                                id: self.id,
                                event: SessionEvent::PeersAdvertised(list.peers),
                            }
                            .into(),
                        );
                    }
                    _ => {
                        return Err(violation(format!(
                            "unexpected {} after Ready",
                            handshake::kind(&env)
                        )));
                    }
                }
            }
            Phase::Done => {}
        }
        Ok(())
    }

    async fn send(&self, frame: pb::Frame) -> Result<(), DisconnectReason> {
        match &self.outbound {
            Some(out) => out.send(frame).await,
            None => Ok(()),
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

    /// Both sides proved the cookie: report it, send our sync and Ready.
    async fn authenticated(&mut self, peer: Peer) -> Result<(), DisconnectReason> {
        let _ = self.node.cast(
            InternalMsg::Session {
                id: self.id,
                event: SessionEvent::Authenticated(peer),
            }
            .into(),
        );
        // Protocol version 1 has nothing to sync before Ready.
        self.send(single(Body::Ready(pb::Ready {}))).await?;
        self.phase = Phase::Syncing;
        Ok(())
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

    /// Ends the session once: tells the peer, reports to the node server, and
    /// stops the actor. The reader lingers briefly so the peer's farewell
    /// arrives before the stream is dropped.
    fn end(&mut self, myself: &ActorRef<SessionMsg>, reason: DisconnectReason) {
        if matches!(self.phase, Phase::Done) && self.outbound.is_none() {
            return;
        }
        self.phase = Phase::Done;
        let channel = self.outbound.take().and_then(|out| out.close(&reason));
        if let Some(mut reader) = self.reader.take() {
            tokio::spawn(async move {
                if tokio::time::timeout(LINGER, &mut reader).await.is_err() {
                    reader.abort();
                }
                drop(channel);
            });
        }
        let _ = self.node.cast(
            InternalMsg::Session {
                id: self.id,
                event: SessionEvent::Closed(reason),
            }
            .into(),
        );
        myself.stop(None);
    }
}
