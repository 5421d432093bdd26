//! Speaking `ClusterNode/Session` by hand, for tests that play a broken or
//! hostile client against a node running in another process: raw message
//! bodies on a Session stream, and a dialer that runs the handshake from the
//! recipe in `cluster.proto` (nothing of the library's own handshake), so it
//! can also replay, stall or misbehave after authenticating.

use std::time::Duration;

pub use integration::by_hand::proof;
use integration::by_hand::{ACCEPTOR_LABEL, DIALER_LABEL, RawCodec};
use prost::Message as _;
use ractor_grpc::pb::{self, envelope::Body};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{
    Code, Status,
    transport::{Channel, Endpoint},
};

/// How long each step here may take before the test gives up on it.
pub const STEP: Duration = Duration::from_secs(10);

const SESSION: &str = "/ractor_grpc.v1.ClusterNode/Session";

/// The cause word in a status's `ractor-grpc-cause` trailer ("" if none).
pub fn cause(status: &Status) -> &str {
    status
        .metadata()
        .get("ractor-grpc-cause")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// `CODE/cause` (or `CODE` alone), for tallies.
pub fn outcome(status: &Status) -> String {
    match cause(status) {
        "" => format!("{:?}", status.code()),
        c => format!("{:?}/{c}", status.code()),
    }
}

/// A plaintext connection to `addr`, without limits on what it sends.
pub async fn channel(addr: &str) -> Channel {
    let endpoint = Endpoint::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect_timeout(STEP);
    tokio::time::timeout(STEP, endpoint.connect())
        .await
        .expect("connects in time")
        .expect("connects")
}

/// An open Session stream carrying raw message bodies.
#[derive(Debug)]
pub struct RawSession {
    pub tx: mpsc::Sender<Vec<u8>>,
    pub inbound: tonic::Streaming<Vec<u8>>,
}

/// Opens a Session stream on `channel`, or returns the status the node
/// refused it with. Nothing is sent on it yet.
pub async fn open_on(channel: Channel) -> Result<RawSession, Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    tokio::time::timeout(STEP, grpc.ready())
        .await
        .map_err(|_| Status::deadline_exceeded("test: the channel was not ready in time"))?
        .map_err(|e| Status::unavailable(format!("test: {e}")))?;
    let (tx, rx) = mpsc::channel(16);
    let path = http::uri::PathAndQuery::from_static(SESSION);
    let call = grpc.streaming(tonic::Request::new(ReceiverStream::new(rx)), path, RawCodec);
    let response = tokio::time::timeout(STEP, call)
        .await
        .map_err(|_| Status::deadline_exceeded("test: no response headers in time"))??;
    Ok(RawSession {
        tx,
        inbound: response.into_inner(),
    })
}

/// [`open_on`] a connection of its own.
pub async fn try_open(addr: &str) -> Result<RawSession, Status> {
    open_on(channel(addr).await).await
}

/// Whether the node refused a stream for its handshake rate (one source
/// over 20 a second): the refusal a paced client waits out.
pub fn is_rate_refusal(status: &Status) -> bool {
    status.code() == Code::ResourceExhausted && status.message().contains("too many handshakes")
}

/// Opens a Session stream, waiting out refusals for the handshake rate (50
/// ms apart, at most [`STEP`]); returns it and how many such refusals came
/// first. Any other refusal fails the test.
pub async fn open_paced(addr: &str) -> (RawSession, u32) {
    let deadline = tokio::time::Instant::now() + STEP;
    let mut refused = 0;
    loop {
        match try_open(addr).await {
            Ok(session) => return (session, refused),
            Err(s) if is_rate_refusal(&s) && tokio::time::Instant::now() < deadline => {
                refused += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(s) => panic!("a Session stream was refused: {s:?}"),
        }
    }
}

impl RawSession {
    /// Sends one message body.
    pub async fn send(&self, body: Vec<u8>) {
        tokio::time::timeout(STEP, self.tx.send(body))
            .await
            .expect("room to send in time")
            .expect("the request stream is open");
    }

    /// Reads until the node ends the stream, at most `within`; returns the
    /// messages read and the end (`None`: a clean end; `Err`: still open at
    /// the deadline).
    pub async fn finish(
        mut self,
        within: Duration,
    ) -> (
        Vec<Vec<u8>>,
        Result<Option<Status>, tokio::time::error::Elapsed>,
    ) {
        let mut messages = Vec::new();
        let read = async {
            loop {
                match self.inbound.message().await {
                    Ok(Some(m)) => messages.push(m),
                    Ok(None) => return None,
                    Err(s) => return Some(s),
                }
            }
        };
        let end = tokio::time::timeout(within, read).await;
        (messages, end)
    }

    /// [`finish`](Self::finish), expecting the node to end the stream with
    /// an error status within `within`.
    pub async fn refused(self, within: Duration) -> Status {
        let (messages, end) = self.finish(within).await;
        match end {
            Ok(Some(status)) => status,
            Ok(None) => panic!("the node ended the stream cleanly after {messages:?}"),
            Err(_) => panic!("the node did not end the stream within {within:?}"),
        }
    }
}

/// One frame of envelopes with these bodies, encoded.
pub fn frame(bodies: Vec<Body>) -> Vec<u8> {
    frame_of(bodies.into_iter().map(envelope).collect())
}

/// One frame of these envelopes, encoded.
pub fn frame_of(envelopes: Vec<pb::Envelope>) -> Vec<u8> {
    pb::Frame::from(envelopes).encode_to_vec()
}

/// An envelope with this body.
pub fn envelope(body: Body) -> pb::Envelope {
    pb::Envelope { body: Some(body) }
}

/// A well-formed Hello from `name` with a fresh nonce and incarnation,
/// offering protocol version 1 only: without Ping and Pong, a scripted
/// client that stops reading for a while is never declared down by the
/// node's heartbeat, whatever it is configured to.
pub fn hello(name: &str) -> pb::Hello {
    let mut nonce = vec![0u8; 32];
    rand::fill(nonce.as_mut_slice());
    pb::Hello {
        name: name.to_owned(),
        nonce,
        min_version: 1,
        max_version: 1,
        incarnation: rand::random::<u64>().max(1),
        listen_addr: String::new(),
    }
}

/// The dialer's proof for `hello` and `challenge` under `cookie`.
pub fn dialer_proof(cookie: &str, hello: &pb::Hello, challenge: &pb::Challenge) -> Vec<u8> {
    proof(DIALER_LABEL, cookie.as_bytes(), hello, challenge)
}

/// A Session stream that has sent a Hello and read the node's Challenge.
#[derive(Debug)]
pub struct Challenged {
    pub session: RawSession,
    pub hello: pb::Hello,
    pub challenge: pb::Challenge,
    /// Refusals for the handshake rate waited out before the stream opened.
    pub rate_refusals: u32,
}

/// Opens a Session stream (paced, see [`open_paced`]), sends `hello` and
/// reads the Challenge.
pub async fn challenged(addr: &str, hello: pb::Hello) -> Challenged {
    let (mut session, rate_refusals) = open_paced(addr).await;
    session.send(frame(vec![Body::Hello(hello.clone())])).await;
    let message = tokio::time::timeout(STEP, session.inbound.message())
        .await
        .expect("a Challenge in time")
        .expect("a Challenge, not a status")
        .expect("a Challenge, not the end");
    let got = pb::Frame::decode(message.as_slice()).expect("the node's frame decodes");
    let challenge = match got.envelopes.as_slice() {
        [
            pb::Envelope {
                body: Some(Body::Challenge(c)),
            },
        ] => c.clone(),
        other => panic!("expected one Challenge, got {other:?}"),
    };
    Challenged {
        session,
        hello,
        challenge,
        rate_refusals,
    }
}

/// An authenticated Session (this side the dialer): the handshake done and
/// the node's Welcome checked; nothing of the sync sent yet.
#[derive(Debug)]
pub struct Authenticated {
    pub session: RawSession,
    pub hello: pb::Hello,
    pub challenge: pb::Challenge,
    /// The Proof this side sent (to replay elsewhere).
    pub proof: Vec<u8>,
    /// Envelopes the node sent after its Welcome, not yet taken.
    buffered: std::collections::VecDeque<pb::Envelope>,
}

/// Runs the dialer's handshake as `name` with `cookie`.
pub async fn authenticate(addr: &str, name: &str, cookie: &str) -> Authenticated {
    let Challenged {
        mut session,
        hello,
        challenge,
        ..
    } = challenged(addr, hello(name)).await;
    let ours = dialer_proof(cookie, &hello, &challenge);
    session
        .send(frame(vec![Body::Proof(pb::Proof {
            proof: ours.clone(),
        })]))
        .await;
    let message = tokio::time::timeout(STEP, session.inbound.message())
        .await
        .expect("a Welcome in time")
        .expect("a Welcome, not a status")
        .expect("a Welcome, not the end");
    let got = pb::Frame::decode(message.as_slice()).expect("the node's frame decodes");
    let mut envelopes = std::collections::VecDeque::from(got.envelopes);
    let Some(pb::Envelope {
        body: Some(Body::Welcome(welcome)),
    }) = envelopes.pop_front()
    else {
        panic!("expected a Welcome first");
    };
    let expected = proof(ACCEPTOR_LABEL, cookie.as_bytes(), &hello, &challenge);
    assert_eq!(welcome.proof, expected, "the node's Welcome proof");
    Authenticated {
        session,
        hello,
        challenge,
        proof: ours,
        buffered: envelopes,
    }
}

impl Authenticated {
    /// Sends one frame of these envelopes.
    pub async fn send(&self, envelopes: Vec<pb::Envelope>) {
        self.session.send(frame_of(envelopes)).await;
    }

    /// The node's next envelope, within `within`; `None` if none came (or
    /// the stream ended: then `ended` holds how).
    pub async fn next(
        &mut self,
        within: Duration,
        ended: &mut Option<Option<Status>>,
    ) -> Option<pb::Envelope> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(e) = self.buffered.pop_front() {
                return Some(e);
            }
            if ended.is_some() {
                return None;
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.session.inbound.message()).await {
                Err(_) => return None,
                Ok(Ok(Some(m))) => {
                    let f = pb::Frame::decode(m.as_slice()).expect("the node's frame decodes");
                    self.buffered.extend(f.envelopes);
                }
                Ok(Ok(None)) => *ended = Some(None),
                Ok(Err(s)) => *ended = Some(Some(s)),
            }
        }
    }

    /// Reads until an envelope matches `pred` (at most `within`); returns
    /// everything read, that one last. Panics if it does not come.
    pub async fn until(
        &mut self,
        within: Duration,
        pred: impl Fn(&pb::Envelope) -> bool,
    ) -> Vec<pb::Envelope> {
        let deadline = tokio::time::Instant::now() + within;
        let mut seen = Vec::new();
        let mut ended = None;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let Some(e) = self.next(left, &mut ended).await else {
                panic!("no matching envelope within {within:?}; ended {ended:?}; saw {seen:?}");
            };
            let hit = pred(&e);
            seen.push(e);
            if hit {
                return seen;
            }
        }
    }
}

/// Whether `e` is a Ready.
pub fn is_ready(e: &pb::Envelope) -> bool {
    matches!(e.body, Some(Body::Ready(_)))
}

/// The pid the node advertised for the actor named `name` in `sync`.
pub fn advertised_pid(sync: &[pb::Envelope], name: &str) -> Option<u64> {
    sync.iter().find_map(|e| match &e.body {
        Some(Body::Spawned(s)) => s.actor.as_ref().filter(|a| a.name == name).map(|a| a.pid),
        Some(Body::PgJoined(j)) => j.actors.iter().find(|a| a.name == name).map(|a| a.pid),
        _ => None,
    })
}

/// How a Session request framed by hand over HTTP/2 ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct H2End {
    /// The gRPC status (from the trailers, or from the headers of a
    /// trailers-only answer); `None` if the stream ended without one.
    pub code: Option<Code>,
    pub message: String,
    /// The `ractor-grpc-cause` trailer ("" if none).
    pub cause: String,
}

impl H2End {
    /// `CODE/cause`, `CODE`, or `no status`, for tallies.
    pub fn outcome(&self) -> String {
        match (self.code, self.cause.as_str()) {
            (None, _) => "no status".into(),
            (Some(code), "") => format!("{code:?}"),
            (Some(code), cause) => format!("{code:?}/{cause}"),
        }
    }

    fn from_headers(headers: &http::HeaderMap) -> Option<Self> {
        let text = |name: &str| {
            percent_decoded(
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or(""),
            )
        };
        let code = headers
            .get("grpc-status")?
            .to_str()
            .ok()?
            .parse::<i32>()
            .ok()?;
        Some(Self {
            code: Some(Code::from_i32(code)),
            message: text("grpc-message"),
            cause: text("ractor-grpc-cause"),
        })
    }
}

/// `grpc-message` as sent: percent-encoded (gRPC's rule for the header).
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An HTTP/2 connection to `addr` made with `h2` directly, so a test
/// controls every byte of a request body; its driver runs on a task.
pub async fn h2_connect(addr: &str) -> h2::client::SendRequest<bytes::Bytes> {
    let tcp = tokio::time::timeout(STEP, tokio::net::TcpStream::connect(addr))
        .await
        .expect("TCP connects in time")
        .expect("TCP connects");
    let (client, connection) = tokio::time::timeout(STEP, h2::client::handshake(tcp))
        .await
        .expect("HTTP/2 handshake in time")
        .expect("HTTP/2 handshake");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// The request line and headers of a Session call.
pub fn session_request(addr: &str) -> http::Request<()> {
    http::Request::builder()
        .method("POST")
        .uri(format!("http://{addr}{SESSION}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .expect("a request")
}

/// Sends `body` (gRPC framing included: the caller writes the 5-byte
/// message headers) as a Session request on a connection of its own,
/// ending the request there if `end`, and reads the answer to its end (at
/// most `within`). Refusals for the handshake rate are waited out (50 ms
/// apart, at most [`STEP`]) and counted in the second value.
pub async fn h2_session(addr: &str, body: &[u8], end: bool, within: Duration) -> (H2End, u32) {
    let deadline = tokio::time::Instant::now() + STEP;
    let mut rate_refusals = 0;
    loop {
        let got = h2_exchange(addr, body, end, within).await;
        let rate = got.code == Some(Code::ResourceExhausted)
            && got.message.contains("too many handshakes");
        if !rate || tokio::time::Instant::now() >= deadline {
            return (got, rate_refusals);
        }
        rate_refusals += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn h2_exchange(addr: &str, body: &[u8], end: bool, within: Duration) -> H2End {
    let client = h2_connect(addr).await;
    let mut client = tokio::time::timeout(STEP, client.ready())
        .await
        .expect("the connection is ready in time")
        .expect("the connection is ready");
    let (response, mut send) = client
        .send_request(session_request(addr), false)
        .expect("the request goes out");
    send.send_data(bytes::Bytes::copy_from_slice(body), end)
        .expect("the body goes out");
    let answer = async {
        let response = response.await.expect("response headers");
        if let Some(end) = H2End::from_headers(response.headers()) {
            return end;
        }
        let mut body = response.into_body();
        while let Some(chunk) = body.data().await {
            let Ok(chunk) = chunk else { break };
            let _ = body.flow_control().release_capacity(chunk.len());
        }
        match body.trailers().await {
            Ok(Some(trailers)) => H2End::from_headers(&trailers),
            _ => None,
        }
        .unwrap_or(H2End {
            code: None,
            message: String::new(),
            cause: String::new(),
        })
    };
    let got = tokio::time::timeout(within, answer)
        .await
        .expect("the node ends the stream in time");
    // Kept until the answer is in: dropping it would reset the stream.
    drop(send);
    got
}

/// A gRPC message header: the compression flag and a declared length.
pub fn grpc_header(flag: u8, len: u32) -> Vec<u8> {
    let mut h = vec![flag];
    h.extend_from_slice(&len.to_be_bytes());
    h
}
