//! `node --metrics-addr` serves the library's metrics for Prometheus: after
//! a known number of calls between two `node` processes, a scrape of each
//! shows them — calls sent and answered (with their durations) on the
//! caller, calls received on the callee, frames both ways, the sessions by
//! state — a wrong cookie as a refused handshake, and a peer's stop as a
//! closed session.

mod common;

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{Ipv4Addr, TcpListener, TcpStream},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use common::NodeProcess;

const WAIT: Duration = Duration::from_secs(10);
const COOKIE: &str = "metrics-cookie";
/// Calls the probe makes through node-b's session with node-a.
const CALLS: u64 = 25;

/// A port free on 127.0.0.1 a moment ago.
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// The body of `GET /metrics` at `addr` (empty if it cannot be read yet).
fn scrape(addr: &str) -> String {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return String::new();
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return String::new();
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, body)| body.to_owned())
}

/// The value of the series `name` whose labels include every `labels` pair.
fn value(body: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    body.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?;
        let (labels_part, value) = rest.strip_prefix('{')?.rsplit_once("} ")?;
        labels
            .iter()
            .all(|(k, v)| {
                labels_part
                    .split(',')
                    .any(|pair| pair == format!("{k}=\"{v}\""))
            })
            .then(|| value.trim().parse().ok())?
    })
}

/// Scrapes `addr` until `series` reads `expected` (bounded); returns the
/// last body for the asserts that follow.
fn until(addr: &str, name: &str, labels: &[(&str, &str)], expected: f64) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let body = scrape(addr);
        if value(&body, name, labels) == Some(expected) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{name}{labels:?} never read {expected} at {addr}; last scrape:\n{body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test]
async fn a_scrape_counts_the_calls_sessions_and_frames_it_carried() {
    let metrics_a = format!("127.0.0.1:{}", free_port());
    let metrics_b = format!("127.0.0.1:{}", free_port());
    let mut a = NodeProcess::start(
        "metrics-a",
        COOKIE,
        &["--demo-actors", "--metrics-addr", &metrics_a],
    );
    let mut b = NodeProcess::start(
        "metrics-b",
        COOKIE,
        &["--connect", &a.addr.clone(), "--metrics-addr", &metrics_b],
    );
    b.wait_line(WAIT, "ready with metrics-a");
    a.wait_line(WAIT, "ready with metrics-b");

    // CALLS calls from node-b to node-a's `pong`, through b's unary Call.
    let mut probe = Command::new(env!("CARGO_BIN_EXE_call_probe"))
        .args([
            "--addr",
            &b.addr,
            "--node",
            "metrics-b",
            "--target-node",
            "metrics-a",
        ])
        .args(["--max-calls", &CALLS.to_string(), "--interval-ms", "1"])
        .env("RACTOR_GRPC_COOKIE", COOKIE)
        // It stops early when its stdin closes: held open until it is done.
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("call_probe starts");
    // Its last line says how the calls went; then stdin is closed, which
    // is what lets it exit.
    let stdout = probe.stdout.take().expect("stdout");
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let deadline = Instant::now() + WAIT;
    let done = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.starts_with("[probe] done") => break line,
            Ok(_) => {}
            Err(_) => panic!("the probe did not finish within {WAIT:?}"),
        }
    };
    assert_eq!(done, format!("[probe] done {CALLS} calls, 0 failed"));
    drop(probe.stdin.take());
    while probe.try_wait().expect("probe status").is_none() {
        assert!(Instant::now() < deadline + WAIT, "the probe did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }

    // The caller: calls sent and answered, each timed.
    let session_b = [("node", "metrics-b"), ("peer", "metrics-a")];
    let calls = CALLS as f64;
    let sent = [session_b[0], session_b[1], ("direction", "sent")];
    let body = until(&metrics_b, "ractor_grpc_calls_total", &sent, calls);
    let ok = [session_b[0], session_b[1], ("outcome", "ok")];
    assert_eq!(
        value(&body, "ractor_grpc_call_results_total", &ok),
        Some(calls),
        "{body}"
    );
    let timed = value(&body, "ractor_grpc_call_duration_seconds_count", &session_b);
    assert_eq!(timed, Some(calls), "{body}");
    let ready = [("node", "metrics-b"), ("state", "ready")];
    assert_eq!(
        value(&body, "ractor_grpc_sessions", &ready),
        Some(1.0),
        "{body}"
    );
    // At least a frame per call each way, plus the handshake's.
    for direction in ["in", "out"] {
        let labels = [session_b[0], session_b[1], ("direction", direction)];
        let frames = value(&body, "ractor_grpc_frames_total", &labels).unwrap_or(0.0);
        assert!(frames > calls, "frames {direction}: {frames}\n{body}");
        let bytes = value(&body, "ractor_grpc_bytes_total", &labels).unwrap_or(0.0);
        assert!(bytes > frames, "bytes {direction}: {bytes}\n{body}");
    }

    // The callee: the same calls received.
    let received = [
        ("node", "metrics-a"),
        ("peer", "metrics-b"),
        ("direction", "received"),
    ];
    until(&metrics_a, "ractor_grpc_calls_total", &received, calls);

    // A node with the wrong cookie is refused: node-a counts a refused
    // handshake, by its cause.
    let mut stranger = NodeProcess::start(
        "metrics-c",
        "another-cookie",
        &["--connect", &a.addr.clone(), "--reconnect", "false"],
    );
    stranger.wait_line(WAIT, "could not connect");
    let refused = [("node", "metrics-a"), ("cause", "bad-cookie")];
    until(
        &metrics_a,
        "ractor_grpc_handshakes_refused_total",
        &refused,
        1.0,
    );
    stranger.terminate();

    // node-a stops: node-b counts a session closed by the peer, none ready.
    a.terminate();
    b.wait_line(WAIT, "disconnected from metrics-a");
    let closed = [
        ("node", "metrics-b"),
        ("cause", "stopped"),
        ("side", "peer"),
    ];
    let body = until(
        &metrics_b,
        "ractor_grpc_sessions_closed_total",
        &closed,
        1.0,
    );
    assert_eq!(
        value(&body, "ractor_grpc_sessions", &ready),
        Some(0.0),
        "{body}"
    );
    b.terminate();
}
