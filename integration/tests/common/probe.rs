//! The `call_probe` process: a client outside the processes under test that
//! keeps calling an actor through a node's unary `Call` (so each call
//! crosses that node's session with the actor's node), and the record of
//! every call it made.

use std::{
    io::{BufRead, BufReader},
    process::{Child, ChildStdin, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

/// The `call_probe` binary.
const PROBE: &str = env!("CARGO_BIN_EXE_call_probe");

/// One call the probe made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeCall {
    pub seq: u64,
    /// When it started, in microseconds since the Unix epoch.
    pub at_us: u128,
    pub latency: Duration,
    /// `None` for a right reply, else the status (or `WrongReply`) and its
    /// message.
    pub error: Option<String>,
}

/// A running `call_probe`; killed when dropped.
pub struct Probe {
    child: Child,
    stdin: Option<ChildStdin>,
    calls: Arc<Mutex<Vec<ProbeCall>>>,
    /// Lines that are not calls (its banner, its last words, errors).
    other: Arc<Mutex<Vec<String>>>,
}

/// Now, in microseconds since the Unix epoch (the probe's clock too).
pub fn unix_us() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros())
}

fn parse(line: &str) -> Option<ProbeCall> {
    let mut words = line.splitn(6, ' ');
    if words.next()? != "call" {
        return None;
    }
    let seq = words.next()?.parse().ok()?;
    let at_us = words.next()?.parse().ok()?;
    let latency = Duration::from_micros(words.next()?.parse().ok()?);
    let error = match words.next()? {
        "ok" => None,
        _ => Some(words.collect::<Vec<_>>().join(" ")),
    };
    Some(ProbeCall {
        seq,
        at_us,
        latency,
        error,
    })
}

impl Probe {
    /// Starts calling `actor` on `target_node` through the node `via_name`
    /// at `via_addr`, with the cluster's `cookie` (to mint a token), and
    /// waits (at most 10 s) for its first right reply.
    pub fn start(via_addr: &str, via_name: &str, cookie: &str, target_node: &str) -> Self {
        let mut child = Command::new(PROBE)
            .args(["--addr", via_addr, "--node", via_name])
            .args(["--target-node", target_node])
            .env("RACTOR_GRPC_COOKIE", cookie)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("call_probe starts");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout");
        let calls = Arc::new(Mutex::new(Vec::new()));
        let other = Arc::new(Mutex::new(Vec::new()));
        let (c, o) = (calls.clone(), other.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                match parse(&line) {
                    Some(call) => c.lock().expect("calls").push(call),
                    None => o.lock().expect("lines").push(line),
                }
            }
        });
        let probe = Self {
            child,
            stdin,
            calls,
            other,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !probe.calls().iter().any(|c| c.error.is_none()) {
            assert!(
                Instant::now() < deadline,
                "the probe got no reply within 10 s: {:?} {:?}",
                probe.calls(),
                probe.other.lock().expect("lines")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        probe
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<ProbeCall> {
        self.calls.lock().expect("calls").clone()
    }

    /// The calls that started in `[from_us, to_us)`.
    pub fn calls_between(&self, from_us: u128, to_us: u128) -> Vec<ProbeCall> {
        let calls = self.calls.lock().expect("calls");
        calls
            .iter()
            .filter(|c| c.at_us >= from_us && c.at_us < to_us)
            .cloned()
            .collect()
    }

    /// Closes its stdin, so it stops after the call under way, and waits
    /// (at most 15 s) for it to exit; returns every call it made.
    pub fn stop(&mut self) -> Vec<ProbeCall> {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(status.success(), "call_probe exited with {status}");
                break;
            }
            assert!(Instant::now() < deadline, "call_probe did not stop in 15 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        // The reader thread ends with the pipe; give it a moment to drain.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self
            .other
            .lock()
            .expect("lines")
            .iter()
            .any(|l| l.contains("[probe] done"))
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.calls()
    }

    /// Its lines that are not calls.
    pub fn other_lines(&self) -> Vec<String> {
        self.other.lock().expect("lines").clone()
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// p50, p99 and max latency of `calls`, in milliseconds with one decimal,
/// as text ("-" for none).
pub fn latency_summary(calls: &[ProbeCall]) -> String {
    if calls.is_empty() {
        return "no calls".into();
    }
    let mut l: Vec<Duration> = calls.iter().map(|c| c.latency).collect();
    l.sort();
    let at = |q: f64| {
        let i = ((l.len() as f64 - 1.0) * q).round() as usize;
        l[i.min(l.len() - 1)]
    };
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "{} calls, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        calls.len(),
        ms(at(0.5)),
        ms(at(0.99)),
        ms(l[l.len() - 1])
    )
}
