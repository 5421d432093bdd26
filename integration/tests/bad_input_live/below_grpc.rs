//! Attacks below gRPC: raw TCP (random bytes, HTTP/1.1, silence) and
//! HTTP/2 written by hand (gRPC framing tonic never sends, rapid reset).

use std::time::{Duration, Instant};

use rand::{Rng, rngs::StdRng};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tonic::Code;

use super::{HANDSHAKE, KEEPALIVE_BOUND, SLACK, Tally, WAIT, add, count, end_within, futures_join};
use crate::common::wire::{self, STEP};

/// The HTTP/2 client preface.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// How a raw TCP exchange ended.
struct RawEnd {
    /// What the node sent back.
    replied: Vec<u8>,
    /// "closed" (EOF), "reset" (an error), or "open" at the deadline.
    end: &'static str,
    /// From the connect to the end.
    took: Duration,
}

/// Connects, writes `bytes` (the node may close before all are taken), and
/// reads until the node closes the connection or `within` passes.
async fn raw_exchange(addr: &str, bytes: &[u8], within: Duration) -> RawEnd {
    let started = Instant::now();
    let mut tcp = tokio::time::timeout(STEP, TcpStream::connect(addr))
        .await
        .expect("TCP connects in time")
        .expect("TCP connects");
    let _ = tcp.write_all(bytes).await;
    let mut replied = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) => return "closed",
                Ok(n) => replied.extend_from_slice(&buf[..n]),
                Err(_) => return "reset",
            }
        }
    };
    let end = tokio::time::timeout(within, read).await.unwrap_or("open");
    RawEnd {
        replied,
        end,
        took: started.elapsed(),
    }
}

/// The HTTP/2 frames in `bytes`, as text: `SETTINGS`, `GOAWAY(code)`, ...
fn h2_frames(bytes: &[u8]) -> String {
    let mut out = Vec::new();
    let mut rest = bytes;
    while rest.len() >= 9 {
        let len = usize::from(rest[0]) << 16 | usize::from(rest[1]) << 8 | usize::from(rest[2]);
        let kind = rest[3];
        let payload = &rest[9..(9 + len).min(rest.len())];
        out.push(match kind {
            4 => "SETTINGS".to_owned(),
            6 => "PING".to_owned(),
            7 if payload.len() >= 8 => {
                let code = u32::from_be_bytes([payload[4], payload[5], payload[6], payload[7]]);
                format!("GOAWAY({code})")
            }
            8 => "WINDOW_UPDATE".to_owned(),
            other => format!("type{other}"),
        });
        rest = &rest[(9 + len).min(rest.len())..];
    }
    if out.is_empty() {
        "nothing".into()
    } else {
        out.join(",")
    }
}

/// The largest HTTP/2 frame a node accepts (ractor_grpc's transport
/// settings): a frame header declaring more is refused at once.
const MAX_FRAME: usize = 1024 * 1024;

/// Whether `after_preface` ends inside an HTTP/2 frame the node would wait
/// for the rest of: a header cut short, or one that declares an acceptable
/// length the bytes do not fill.
fn stalls_mid_frame(after_preface: &[u8]) -> bool {
    let Some(header) = after_preface.get(..9) else {
        return true;
    };
    let len = usize::from(header[0]) << 16 | usize::from(header[1]) << 8 | usize::from(header[2]);
    len <= MAX_FRAME && 9 + len > after_preface.len()
}

/// Random bytes on raw TCP connections, all at once: half of them plain,
/// half after a valid HTTP/2 preface (so HTTP/2's frame parser meets them).
/// The node must close every connection: at once, or, when the bytes end
/// inside a frame it would wait for the rest of, once its HTTP/2 keepalive
/// gives up on the silent client (see [`super::KEEPALIVE_BOUND`]).
pub(super) async fn random_bytes(addr: &str, connections: usize, rng: &mut StdRng) -> Tally {
    let mut attempts: Vec<(&str, bool, Vec<u8>)> = (0..connections)
        .map(|i| {
            let len = rng.random_range(1..4096);
            let mut bytes = vec![0u8; len];
            rng.fill(bytes.as_mut_slice());
            if i % 2 == 0 {
                // Never a prefix of the preface: that would be silence.
                if bytes[0] == PREFACE[0] {
                    bytes[0] = !bytes[0];
                }
                ("random", false, bytes)
            } else {
                let stalls = stalls_mid_frame(&bytes);
                ("preface+random", stalls, [PREFACE, &bytes].concat())
            }
        })
        .collect();
    // One that surely stops inside a frame: a header declaring 1,000 bytes,
    // then 10.
    let cut_off = [&[0, 0x03, 0xe8, 0, 0, 0, 0, 0, 1][..], &[0; 10]].concat();
    assert!(stalls_mid_frame(&cut_off));
    attempts.push(("preface+cut-off frame", true, [PREFACE, &cut_off].concat()));
    let within = KEEPALIVE_BOUND + SLACK;
    let ends = futures_join(attempts.iter().map(|(_, _, bytes)| {
        let (addr, bytes) = (addr.to_owned(), bytes.clone());
        async move { raw_exchange(&addr, &bytes, within).await }
    }))
    .await;
    let mut tally = Tally::new();
    let mut slowest = Duration::ZERO;
    for (i, ((kind, stalls, _), got)) in attempts.iter().zip(ends).enumerate() {
        assert_ne!(
            got.end, "open",
            "{kind} #{i}: node-a kept the connection open for {within:?}"
        );
        slowest = slowest.max(got.took);
        let what = if *stalls {
            format!("{kind}, ending inside a frame: {}", got.end)
        } else {
            format!("{kind}: {}", got.end)
        };
        count(
            &mut tally,
            format!("{what}, replied {}", h2_frames(&got.replied)),
        );
    }
    count(
        &mut tally,
        format!("all closed within {} ms", slowest.as_millis()),
    );
    tally
}

/// HTTP/1.1 requests (a plain GET, a gRPC-looking POST, an h2c upgrade).
/// The node speaks only HTTP/2: it must close each connection without an
/// HTTP/1.1 response.
pub(super) async fn http1(addr: &str) -> Tally {
    let requests: [(&str, String); 3] = [
        ("GET /", format!("GET / HTTP/1.1\r\nHost: {addr}\r\n\r\n")),
        (
            "POST Session",
            format!(
                "POST /ractor_grpc.v1.ClusterNode/Session HTTP/1.1\r\nHost: {addr}\r\n\
                 content-type: application/grpc\r\nte: trailers\r\ncontent-length: 5\r\n\r\n\
                 \0\0\0\0\0"
            ),
        ),
        (
            "GET h2c upgrade",
            format!(
                "GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade, HTTP2-Settings\r\n\
                 Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"
            ),
        ),
    ];
    let mut tally = Tally::new();
    for (kind, request) in requests {
        let got = raw_exchange(addr, request.as_bytes(), WAIT).await;
        assert_ne!(got.end, "open", "{kind}: node-a kept the connection open");
        assert!(
            !got.replied.starts_with(b"HTTP/1"),
            "{kind}: node-a answered HTTP/1: {:?}",
            String::from_utf8_lossy(&got.replied)
        );
        count(
            &mut tally,
            format!("{kind}: {}, replied {}", got.end, h2_frames(&got.replied)),
        );
    }
    tally
}

/// TCP connections that send nothing at all (not even the HTTP/2 preface).
/// The node must close them once the handshake deadline has passed.
pub(super) async fn silent_tcp(addr: &str, connections: usize) -> Tally {
    let started = Instant::now();
    let ends = futures_join((0..connections).map(|_| {
        let addr = addr.to_owned();
        async move { raw_exchange(&addr, &[], HANDSHAKE + SLACK).await }
    }))
    .await;
    let took = started.elapsed();
    let mut tally = Tally::new();
    for got in ends {
        assert_ne!(
            got.end, "open",
            "node-a kept a silent TCP connection open past its handshake deadline"
        );
        count(
            &mut tally,
            format!("{}, replied {}", got.end, h2_frames(&got.replied)),
        );
    }
    count(
        &mut tally,
        format!("all closed after {} ms", took.as_millis()),
    );
    tally
}

/// gRPC framing tonic never sends, written by hand over HTTP/2: a length
/// prefix far over the limit (4 GiB, with 5 bytes behind it), one just over
/// it with nothing behind it, the compressed flag without a `grpc-encoding`,
/// an unknown flag, a message cut off by the end of the request, half a
/// message header. Each is a frame that does not decode:
/// INVALID_ARGUMENT/protocol-violation. A request that ends before any
/// message ends the session without a refusal (status OK or none).
pub(super) async fn bad_grpc_framing(addr: &str) -> Tally {
    let max = u32::try_from(ractor_grpc::DEFAULT_MAX_MESSAGE_SIZE).expect("fits");
    let hdr = wire::grpc_header;
    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        (
            "4 GiB declared",
            [hdr(0, u32::MAX), vec![0; 5]].concat(),
            false,
        ),
        ("max+1 declared, nothing sent", hdr(0, max + 1), false),
        (
            "compressed flag, no grpc-encoding",
            [hdr(1, 3), vec![1, 2, 3]].concat(),
            true,
        ),
        ("flag 7", [hdr(7, 2), vec![0x0a, 0x00]].concat(), true),
        (
            "cut off: 100 declared, 10 sent",
            [hdr(0, 100), vec![0; 10]].concat(),
            true,
        ),
        ("half a header", vec![0, 0, 0], true),
    ];
    let mut tally = Tally::new();
    for (kind, body, end) in cases {
        let (got, waited) = wire::h2_session(addr, &body, end, end_within()).await;
        add(&mut tally, "rate refusals waited out", waited);
        assert_eq!(
            (got.code, got.cause.as_str()),
            (Some(Code::InvalidArgument), "protocol-violation"),
            "{kind}: {got:?}"
        );
        count(&mut tally, format!("{kind}: {}", got.outcome()));
    }
    let (got, waited) = wire::h2_session(addr, &[], true, end_within()).await;
    add(&mut tally, "rate refusals waited out", waited);
    assert!(
        matches!(got.code, None | Some(Code::Ok)),
        "a request with no message: {got:?}"
    );
    count(&mut tally, format!("no message at all: {}", got.outcome()));
    tally
}

/// HTTP/2 rapid reset: `n` Session streams opened and reset at once on one
/// connection. hyper answers a burst of resets with GOAWAY; whatever it
/// lets through reaches the Session handler and its limits. node-a must
/// stay up (checked after the phase) and give back what the streams took
/// (checked at the end).
pub(super) async fn rapid_reset(addr: &str, n: usize) -> Tally {
    let mut tally = Tally::new();
    let client = wire::h2_connect(addr).await;
    let mut client = tokio::time::timeout(STEP, client.ready())
        .await
        .expect("the connection is ready in time")
        .expect("the connection is ready");
    let mut opened = 0;
    for _ in 0..n {
        let ready = tokio::time::timeout(STEP, client.clone().ready()).await;
        let Ok(Ok(ready)) = ready else {
            count(&mut tally, "the connection ended");
            break;
        };
        client = ready;
        match client.send_request(wire::session_request(addr), false) {
            Ok((_, mut send)) => {
                send.send_reset(h2::Reason::CANCEL);
                opened += 1;
            }
            Err(e) => {
                let why = e
                    .reason()
                    .map_or_else(|| e.to_string(), |r| format!("GOAWAY {r:?}"));
                count(&mut tally, format!("refused: {why}"));
                break;
            }
        }
    }
    add(&mut tally, "streams opened and reset", opened);
    tally
}
