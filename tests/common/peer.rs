//! A scripted peer: test code that plays a whole node by hand over the wire,
//! so a test can make a real node face exact envelopes and watch every
//! envelope it sends.
//!
//! It implements the protocol from `proto/ractor_grpc/v1/cluster.proto` on
//! its own (the handshake proofs from `integration::by_hand`) and uses nothing of the library
//! but the generated `pb` types and `wire` (for payload bytes).

use std::{collections::VecDeque, time::Duration};

use integration::by_hand::{ACCEPTOR_LABEL, DIALER_LABEL, proof};
use ractor_grpc::pb::{self, cluster_node_client::ClusterNodeClient, envelope::Body};
use tokio::{sync::mpsc, time::Instant};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Status, Streaming, transport::Channel};

/// How long `dial` waits for each step, and `send` for room in the queue.
pub const STEP: Duration = Duration::from_secs(10);

/// The protocol version the peer speaks unless told otherwise (no Ping).
const VERSION: u32 = 1;
const NONCE_LEN: usize = 32;

/// How the node's half of the stream ended.
#[derive(Debug)]
pub enum Ended {
    /// The stream ended without an error status.
    Clean,
    /// The stream ended with this status.
    Status(Status),
}

/// An authenticated Session with a real node, this side the dialer.
pub struct ScriptedPeer {
    /// Our node name.
    pub name: String,
    /// Our incarnation (random, non-zero).
    pub incarnation: u64,
    /// What the node said in its Challenge.
    pub challenge: pb::Challenge,
    tx: Option<mpsc::Sender<pb::Frame>>,
    inbound: Streaming<pb::Frame>,
    buffer: VecDeque<pb::Envelope>,
    ended: Option<Ended>,
}

impl std::fmt::Debug for ScriptedPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptedPeer")
            .field("name", &self.name)
            .field("node", &self.challenge.name)
            .field("buffered", &self.buffer.len())
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

fn frame(envelopes: Vec<pb::Envelope>) -> pb::Frame {
    pb::Frame::from(envelopes)
}

fn describe(status: &Status) -> String {
    let cause = status
        .metadata()
        .get("ractor-grpc-cause")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    format!(
        "status {:?} (cause {cause:?}): {}",
        status.code(),
        status.message()
    )
}

impl ScriptedPeer {
    /// Opens a Session to the node at `addr` ("127.0.0.1:port") and runs the
    /// dialer's handshake as `name` with `cookie`. Returns once the node's
    /// Welcome is verified; nothing of the sync is sent yet.
    pub async fn dial(addr: &str, name: &str, cookie: &str) -> Result<Self, String> {
        Self::dial_version(addr, name, cookie, VERSION).await
    }

    /// [`Self::dial`], offering protocol versions 1 to `max_version` (2 adds
    /// Ping and Pong) and requiring the node to choose `max_version`.
    pub async fn dial_version(
        addr: &str,
        name: &str,
        cookie: &str,
        max_version: u32,
    ) -> Result<Self, String> {
        Self::dial_with(addr, name, cookie, max_version, "").await
    }

    /// [`Self::dial_version`], saying `listen_addr` in the Hello (empty:
    /// cannot be dialled).
    pub async fn dial_with(
        addr: &str,
        name: &str,
        cookie: &str,
        max_version: u32,
        listen_addr: &str,
    ) -> Result<Self, String> {
        let channel = Channel::from_shared(format!("http://{addr}"))
            .map_err(|e| format!("bad address {addr}: {e}"))?
            .connect_timeout(STEP);
        let channel = tokio::time::timeout(STEP, channel.connect())
            .await
            .map_err(|_| format!("connecting to {addr} took over {STEP:?}"))?
            .map_err(|e| format!("connecting to {addr}: {e}"))?;
        let mut client = ClusterNodeClient::new(channel);

        let mut nonce = vec![0u8; NONCE_LEN];
        rand::fill(nonce.as_mut_slice());
        let hello = pb::Hello {
            name: name.to_owned(),
            nonce,
            min_version: VERSION,
            max_version,
            incarnation: rand::random::<u64>().max(1),
            listen_addr: listen_addr.to_owned(),
        };
        let (tx, rx) = mpsc::channel(64);
        // Queued before the call so it goes out with the stream.
        tx.send(frame(vec![envelope(Body::Hello(hello.clone()))]))
            .await
            .map_err(|_| "the request stream closed before Hello".to_owned())?;
        let response = tokio::time::timeout(STEP, client.session(ReceiverStream::new(rx)))
            .await
            .map_err(|_| format!("the Session call took over {STEP:?}"))?
            .map_err(|s| format!("the Session call failed: {}", describe(&s)))?;
        let mut peer = Self {
            name: name.to_owned(),
            incarnation: hello.incarnation,
            challenge: pb::Challenge::default(),
            tx: Some(tx),
            inbound: response.into_inner(),
            buffer: VecDeque::new(),
            ended: None,
        };

        let challenge = match peer.handshake_step("Challenge").await? {
            Body::Challenge(c) => c,
            other => return Err(format!("expected Challenge, got {other:?}")),
        };
        if challenge.version != max_version {
            return Err(format!(
                "the node chose version {}, not {max_version}",
                challenge.version
            ));
        }
        if challenge.nonce.len() != NONCE_LEN {
            return Err(format!(
                "the Challenge nonce has {} bytes, not {NONCE_LEN}",
                challenge.nonce.len()
            ));
        }
        if challenge.name.is_empty() {
            return Err("the Challenge names no node".to_owned());
        }
        let ours = proof(DIALER_LABEL, cookie.as_bytes(), &hello, &challenge);
        peer.send(vec![envelope(Body::Proof(pb::Proof { proof: ours }))])
            .await?;
        let welcome = match peer.handshake_step("Welcome").await? {
            Body::Welcome(w) => w,
            other => return Err(format!("expected Welcome, got {other:?}")),
        };
        let expected = proof(ACCEPTOR_LABEL, cookie.as_bytes(), &hello, &challenge);
        if welcome.proof != expected {
            return Err(format!(
                "the node's Welcome proof is wrong ({} bytes)",
                welcome.proof.len()
            ));
        }
        peer.challenge = challenge;
        Ok(peer)
    }

    /// The next envelope of the handshake, or why there is none.
    async fn handshake_step(&mut self, what: &str) -> Result<Body, String> {
        match self.next_envelope(STEP).await {
            Some(pb::Envelope { body: Some(body) }) => Ok(body),
            Some(pb::Envelope { body: None }) => {
                Err(format!("expected {what}, got an empty envelope"))
            }
            None => Err(match &self.ended {
                Some(Ended::Status(s)) => format!(
                    "expected {what}; the node ended the stream with {}",
                    describe(s)
                ),
                Some(Ended::Clean) => format!("expected {what}; the node ended the stream"),
                None => format!("expected {what}; nothing within {STEP:?}"),
            }),
        }
    }

    /// The node's name (from its Challenge).
    pub fn node_name(&self) -> &str {
        &self.challenge.name
    }

    /// Sends our sync: `envelopes` (adverts), then `Ready`, in one frame.
    pub async fn sync(&mut self, mut envelopes: Vec<pb::Envelope>) -> Result<(), String> {
        envelopes.push(ready());
        self.send(envelopes).await
    }

    /// Sends one frame carrying `envelopes` (none: an empty, malformed frame).
    pub async fn send(&mut self, envelopes: Vec<pb::Envelope>) -> Result<(), String> {
        let tx = self.tx.as_ref().ok_or("our half of the stream is closed")?;
        tokio::time::timeout(STEP, tx.send(frame(envelopes)))
            .await
            .map_err(|_| format!("no room to send within {STEP:?}"))?
            .map_err(|_| "the request stream is gone".to_owned())
    }

    /// Ends our half of the stream (no Goodbye unless one was sent).
    pub fn close(&mut self) {
        self.tx = None;
    }

    /// The node's next envelope, within `within`; `None` on timeout or when
    /// the stream has ended (see [`Self::ended`]).
    pub async fn next_envelope(&mut self, within: Duration) -> Option<pb::Envelope> {
        let deadline = Instant::now() + within;
        // Bounded by the deadline: each pass reads one frame or gives up.
        loop {
            if let Some(e) = self.buffer.pop_front() {
                return Some(e);
            }
            if self.ended.is_some() {
                return None;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            // `Streaming::message` keeps its state in the stream, so a
            // timeout loses nothing.
            match tokio::time::timeout(left, self.inbound.message()).await {
                Err(_) => return None,
                Ok(Ok(Some(f))) => self.buffer.extend(f.envelopes),
                Ok(Ok(None)) => self.ended = Some(Ended::Clean),
                Ok(Err(s)) => self.ended = Some(Ended::Status(s)),
            }
        }
    }

    /// Reads until an envelope matches `pred`; returns everything read,
    /// that one last. Panics with what it saw if the deadline passes or the
    /// stream ends first.
    pub async fn until(
        &mut self,
        within: Duration,
        pred: impl Fn(&pb::Envelope) -> bool,
    ) -> Vec<pb::Envelope> {
        let deadline = Instant::now() + within;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(e) = self.next_envelope(left).await else {
                panic!(
                    "{}: no matching envelope within {within:?}; stream ended: {:?}; saw {seen:?}",
                    self.name, self.ended
                );
            };
            let hit = pred(&e);
            seen.push(e);
            if hit {
                return seen;
            }
        }
    }

    /// Reads the node's sync: everything up to its `Ready`, which is not
    /// returned. Panics if it does not come within `within`.
    pub async fn their_sync(&mut self, within: Duration) -> Vec<pb::Envelope> {
        let mut seen = self.until(within, is_ready).await;
        seen.pop();
        seen
    }

    /// Reads until the node ends the stream; returns the envelopes read and
    /// how it ended, or `None` as the end if it did not end within `within`.
    pub async fn finish(&mut self, within: Duration) -> (Vec<pb::Envelope>, Option<&Ended>) {
        let deadline = Instant::now() + within;
        let mut seen = Vec::new();
        while let Some(e) = self
            .next_envelope(deadline.saturating_duration_since(Instant::now()))
            .await
        {
            seen.push(e);
        }
        (seen, self.ended.as_ref())
    }

    /// How the node's half of the stream ended, if it has (as far as read).
    pub fn ended(&self) -> Option<&Ended> {
        self.ended.as_ref()
    }

    /// The status the stream ended with, if it ended with one.
    pub fn status(self) -> Option<Status> {
        match self.ended {
            Some(Ended::Status(s)) => Some(s),
            _ => None,
        }
    }
}

// Envelope builders.

/// An envelope with this body.
pub fn envelope(body: Body) -> pb::Envelope {
    pb::Envelope { body: Some(body) }
}

/// The payload encoding of a variant's arguments: pass them as a tuple
/// (`&("hi".to_string(), 7u64)`), one value as a 1-tuple (`&(5u8,)`), none
/// as `&()`. The derive concatenates the fields' encodings, and so does a
/// tuple's.
pub fn args_of<T: ractor_grpc::Wire>(value: &T) -> Vec<u8> {
    ractor_grpc::wire::to_bytes(value)
}

pub fn ready() -> pb::Envelope {
    envelope(Body::Ready(pb::Ready {}))
}

pub fn spawned(pid: u64, name: &str) -> pb::Envelope {
    envelope(Body::Spawned(pb::ActorSpawned {
        actor: Some(pb::ActorRef {
            pid,
            name: name.to_owned(),
            message_type: String::new(),
            message: None,
        }),
    }))
}

pub fn terminated(pid: u64) -> pb::Envelope {
    envelope(Body::Terminated(pb::ActorTerminated { pid }))
}

pub fn cast(to: u64, variant: &str, args: Vec<u8>) -> pb::Envelope {
    envelope(Body::Cast(pb::Cast {
        to,
        variant: variant.to_owned(),
        args,
        traceparent: String::new(),
    }))
}

pub fn call(tag: u64, to: u64, variant: &str, args: Vec<u8>, timeout_ms: u64) -> pb::Envelope {
    envelope(Body::Call(pb::Call {
        to,
        variant: variant.to_owned(),
        args,
        tag,
        timeout_ms,
        traceparent: String::new(),
    }))
}

pub fn call_reply(tag: u64, result: Vec<u8>) -> pb::Envelope {
    envelope(Body::CallReply(pb::CallReply { tag, result }))
}

pub fn call_error(tag: u64, code: pb::CallErrorCode, detail: &str) -> pb::Envelope {
    envelope(Body::CallError(pb::CallError {
        tag,
        code: code as i32,
        detail: detail.to_owned(),
    }))
}

pub fn goodbye(code: tonic::Code, reason: &str, cause: &str) -> pb::Envelope {
    envelope(Body::Goodbye(pb::Goodbye {
        code: code as i32,
        reason: reason.to_owned(),
        cause: cause.to_owned(),
    }))
}

// Predicates for `until`.

pub fn is_ready(e: &pb::Envelope) -> bool {
    matches!(e.body, Some(Body::Ready(_)))
}

/// Dials `node` as `name`, syncs `adverts`, reads the node's sync and waits
/// until the node reports the session ready. Returns the peer and the
/// node's snapshot.
pub async fn ready_peer(
    node: &mut super::TestNode,
    name: &str,
    adverts: Vec<pb::Envelope>,
) -> (ScriptedPeer, Vec<pb::Envelope>) {
    let mut peer = ScriptedPeer::dial(&node.addr, name, super::COOKIE)
        .await
        .expect("the handshake completes");
    peer.sync(adverts).await.expect("sync sent");
    let snapshot = peer.their_sync(super::WAIT).await;
    node.wait_for(
        super::WAIT,
        |e| matches!(e, super::Event::Ready(_, n) if n == name),
    )
    .await;
    (peer, snapshot)
}
