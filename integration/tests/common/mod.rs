//! Runs node processes (the `node` binary and scenario binaries) for
//! multi-process tests.

#![allow(dead_code, unreachable_pub)]

pub mod cluster;
pub mod netns;
pub mod probe;
pub mod wire;

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex, mpsc},
    time::{Duration, Instant},
};

use integration::inspect;
use netns::NetLab;
use ractor_grpc::{
    Cookie, TokenScope,
    pb::{self, cluster_node_client::ClusterNodeClient},
};
use tonic::{Request, metadata::MetadataValue};

/// The `node` binary.
const NODE: &str = env!("CARGO_BIN_EXE_node");
/// The load generator of the reliability scenarios.
pub const LOADGEN: &str = env!("CARGO_BIN_EXE_loadgen");
/// The flood of the slow-consumer scenario.
pub const FLOOD: &str = env!("CARGO_BIN_EXE_flood");

/// `node` flags for a quick reconnect (after 100 ms, backing off to 500 ms)
/// and a member in pg group `workers`.
pub const FAST_RECONNECT: [&str; 6] = [
    "--reconnect-initial",
    "100ms",
    "--reconnect-max",
    "500ms",
    "--join",
    "workers",
];

/// [`FAST_RECONNECT`] and a fast liveness check: heartbeat every 250 ms,
/// down after 1 s of silence, handshakes within 1 s.
pub fn fast_liveness() -> Vec<&'static str> {
    let heartbeat = [
        "--heartbeat-interval",
        "250ms",
        "--heartbeat-timeout",
        "1s",
        "--handshake-timeout",
        "1s",
    ];
    [&heartbeat[..], &FAST_RECONNECT].concat()
}

/// How soon a silent peer must be declared down under [`fast_liveness`]:
/// the heartbeat timeout plus a second.
pub const FAST_DETECTION_BOUND: Duration = Duration::from_millis(1000 + 1000);

/// A ListGroups view holding only group `workers`, with members on `nodes`
/// (given sorted).
pub fn workers(nodes: &[&str]) -> Vec<(String, Vec<String>)> {
    let nodes = nodes.iter().map(|&n| n.to_owned()).collect();
    vec![("workers".to_owned(), nodes)]
}

/// `times` sorted, in whole milliseconds, to print.
pub fn sorted_ms(times: &mut [Duration]) -> Vec<u128> {
    times.sort();
    times.iter().map(Duration::as_millis).collect()
}

/// What a process holds, from /proc.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resources {
    /// Resident memory in KiB.
    pub rss_kib: u64,
    /// Open file descriptors.
    pub fds: usize,
    /// Threads.
    pub threads: u64,
}

/// A `node` process; killed when dropped.
pub struct NodeProcess {
    pub name: String,
    pub addr: String,
    /// The cookie it runs with, if this side knows it (to mint tokens).
    cookie: Option<String>,
    /// The network namespace it runs in, if not the test's.
    netns: Option<String>,
    child: Child,
    lines: mpsc::Receiver<String>,
    /// The stdout lines read so far, for failure messages.
    seen: Vec<String>,
    /// Its stderr lines, when started [`watched`](Self::start_watched).
    stderr: Option<Arc<Mutex<Vec<String>>>>,
}

impl NodeProcess {
    /// Starts `node --name NAME --cookie COOKIE EXTRA...` and waits (at most
    /// 20 s) for its `listening on` line.
    pub fn start(name: &str, cookie: &str, extra: &[&str]) -> Self {
        Self::start_with(Command::new(NODE), name, cookie, extra)
    }

    /// As [`start`](Self::start), for another `program` with `node`'s flags.
    pub fn start_program(program: &str, name: &str, cookie: &str, extra: &[&str]) -> Self {
        Self::start_with(Command::new(program), name, cookie, extra)
    }

    /// As [`start`](Self::start), on host `name` of `lab` (in its network
    /// namespace, listening on its address unless `extra` says otherwise).
    pub fn start_in(lab: &NetLab, name: &str, cookie: &str, extra: &[&str]) -> Self {
        Self::start_in_on(lab, name, cookie, 0, extra)
    }

    /// As [`start_in`](Self::start_in), listening on `port` (0: any).
    pub fn start_in_on(lab: &NetLab, name: &str, cookie: &str, port: u16, extra: &[&str]) -> Self {
        Self::start_program_in(lab, NODE, name, cookie, port, extra)
    }

    /// `program` (a binary with the `node` flags `--name`, `--cookie` and
    /// `--listen`) on host `name` of `lab`, listening on `port` (0: any).
    pub fn start_program_in(
        lab: &NetLab,
        program: &str,
        name: &str,
        cookie: &str,
        port: u16,
        extra: &[&str],
    ) -> Self {
        let host = lab.host(name);
        let listen = format!("{}:{port}", host.ip);
        let extra = [&["--listen", &listen][..], extra].concat();
        let mut node = Self::start_with(lab.command(name, program), name, cookie, &extra);
        node.netns = Some(host.netns.clone());
        node
    }

    /// `command` (the `node` binary, maybe behind a wrapper) with
    /// `--name NAME --cookie COOKIE EXTRA...`, launched.
    fn start_with(mut command: Command, name: &str, cookie: &str, extra: &[&str]) -> Self {
        command
            .args(["--name", name, "--cookie", cookie])
            .args(extra);
        let mut node = Self::launch(name, command);
        node.cookie = Some(cookie.to_owned());
        node
    }

    /// As [`start`](Self::start), keeping its stderr (its log at level
    /// warn, and any panic message) for [`stderr_lines`](Self::stderr_lines)
    /// instead of passing it through.
    pub fn start_watched(name: &str, cookie: &str, extra: &[&str]) -> Self {
        let mut command = Command::new(NODE);
        command
            .args(["--name", name, "--cookie", cookie])
            .args(extra);
        let mut node = Self::spawn(name, command, true);
        node.cookie = Some(cookie.to_owned());
        node
    }

    /// Runs `command`, a process that prints `... listening on ADDR`, and
    /// waits (at most 20 s) for that line.
    pub fn launch(name: &str, command: Command) -> Self {
        Self::spawn(name, command, false)
    }

    /// [`launch`](Self::launch), keeping stderr if `watch`.
    fn spawn(name: &str, mut command: Command, watch: bool) -> Self {
        let stderr_to = if watch {
            Stdio::piped()
        } else {
            Stdio::inherit()
        };
        let mut child = command
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(stderr_to)
            .spawn()
            .expect("process starts");
        let stderr = child.stderr.take().map(|pipe| {
            let lines = Arc::new(Mutex::new(Vec::new()));
            let kept = lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    kept.lock().expect("stderr lines").push(line);
                }
            });
            lines
        });
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut node = Self {
            name: name.to_owned(),
            addr: String::new(),
            cookie: None,
            netns: None,
            child,
            lines,
            seen: Vec::new(),
            stderr,
        };
        let line = node.wait_line(Duration::from_secs(20), "listening on");
        node.addr = line.rsplit(' ').next().expect("address").to_owned();
        node
    }

    /// Waits (bounded) for a stdout line containing `needle`.
    pub fn wait_line(&mut self, within: Duration, needle: &str) -> String {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "{}: no line with {needle:?} within {within:?}; its lines so far: {:#?}",
                    self.name, self.seen
                ),
            }
        }
    }

    /// Every stdout line a wait has read so far.
    pub fn lines_seen(&self) -> &[String] {
        &self.seen
    }

    /// The stdout lines printed since the last wait, without waiting.
    pub fn take_lines(&mut self) -> Vec<String> {
        let lines: Vec<String> = self.lines.try_iter().collect();
        self.seen.extend(lines.iter().cloned());
        lines
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running (it has not exited).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Its stderr lines so far (only when started watched).
    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr
            .as_ref()
            .map(|l| l.lock().expect("stderr lines").clone())
            .unwrap_or_default()
    }

    /// Its threads now (`/proc/PID/task`).
    pub fn threads(&self) -> usize {
        proc_entries(self.pid(), "task")
    }

    /// Its open file descriptors now (`/proc/PID/fd`).
    pub fn fds(&self) -> usize {
        proc_entries(self.pid(), "fd")
    }

    /// Sends SIGTERM and waits (bounded) for a clean exit.
    pub fn terminate(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(status.success(), "{} exited with {status}", self.name);
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("{} did not stop within 10 s", self.name);
    }

    /// What the process holds now, from /proc: resident memory (KiB),
    /// open file descriptors, threads.
    pub fn resources(&self) -> Resources {
        let pid = self.pid();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let field = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        let count =
            |dir: &str| std::fs::read_dir(format!("/proc/{pid}/{dir}")).map_or(0, Iterator::count);
        Resources {
            rss_kib: field("VmRSS:"),
            fds: count("fd"),
            threads: field("Threads:"),
        }
    }

    /// Freezes the process (SIGSTOP): it holds its sockets open and says
    /// nothing, as a hung machine would.
    pub fn freeze(&self) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-STOP", &pid]).status();
        assert!(status.is_ok_and(|s| s.success()), "kill -STOP {pid}");
    }

    /// Lets a frozen process run again (SIGCONT).
    pub fn thaw(&self) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-CONT", &pid]).status();
        assert!(status.is_ok_and(|s| s.success()), "kill -CONT {pid}");
    }

    /// Kills the process at once (SIGKILL), as a crash would.
    pub fn crash(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// `message` with a bearer token for this node's introspection RPCs.
    pub fn with_token<T>(&self, message: T) -> Request<T> {
        let cookie = self.cookie.as_deref().expect("started with a known cookie");
        let token = ractor_grpc::mint_token(
            &Cookie::from(cookie),
            &self.name,
            TokenScope::Inspect,
            Duration::from_secs(60),
        )
        .expect("token");
        let mut request = Request::new(message);
        let bearer = MetadataValue::try_from(format!("Bearer {token}")).expect("ASCII");
        request.metadata_mut().insert("authorization", bearer);
        request
    }

    /// A client of the node's ClusterNode service (from the test's
    /// namespace only).
    async fn client(&self) -> ClusterNodeClient<tonic::transport::Channel> {
        ClusterNodeClient::connect(format!("http://{}", self.addr))
            .await
            .expect("grpc connect")
    }

    /// The node's ListPeers answer (from the test's namespace only).
    pub async fn list_peers(&self) -> Vec<pb::PeerInfo> {
        assert!(self.netns.is_none(), "{}: out of reach", self.name);
        let mut client = self.client().await;
        client
            .list_peers(self.with_token(pb::ListPeersRequest {}))
            .await
            .expect("ListPeers")
            .into_inner()
            .peers
    }

    /// The node's count of live tokio tasks (`NodeInfo.tasks`); a node in a
    /// namespace of its own is asked by `node inspect ADDR info`.
    pub async fn tasks(&self) -> u64 {
        if let Some(netns) = &self.netns {
            let text = self.inspect(netns, "info").await;
            return inspect::parse_info_tasks(&text)
                .unwrap_or_else(|| panic!("{}: no task count in {text}", self.name));
        }
        let mut client = self.client().await;
        client
            .get_node_info(self.with_token(pb::GetNodeInfoRequest {}))
            .await
            .expect("GetNodeInfo")
            .into_inner()
            .tasks
    }

    /// The node's ListGroups answer: (group, sorted member node names) pairs.
    /// A node in a namespace of its own is asked from inside it, by
    /// `node inspect`.
    pub async fn list_groups(&self) -> Vec<(String, Vec<String>)> {
        if let Some(netns) = &self.netns {
            return self.inspect_groups(netns).await;
        }
        let mut client = self.client().await;
        let groups = client
            .list_groups(self.with_token(pb::ListGroupsRequest {}))
            .await
            .expect("ListGroups")
            .into_inner()
            .groups;
        groups
            .into_iter()
            .map(|g| {
                let mut nodes: Vec<String> = g.members.into_iter().map(|m| m.node).collect();
                nodes.sort();
                (g.group, nodes)
            })
            .collect()
    }

    /// Runs `node inspect ADDR groups` in `netns` and reads its table.
    async fn inspect_groups(&self, netns: &str) -> Vec<(String, Vec<String>)> {
        inspect::parse_groups(&self.inspect(netns, "groups").await)
    }

    /// Runs `node inspect ADDR LISTING` in `netns`; its stdout.
    async fn inspect(&self, netns: &str, listing: &str) -> String {
        let cookie = self.cookie.as_deref().expect("started with a known cookie");
        let out = tokio::process::Command::new("ip")
            .args(["netns", "exec", netns, NODE, "inspect", &self.addr, listing])
            .args(["--name", &self.name, "--timeout", "5s"])
            .env("RACTOR_GRPC_COOKIE", cookie)
            .env("RUST_LOG", "warn")
            .kill_on_drop(true)
            .output();
        let out = tokio::time::timeout(Duration::from_secs(10), out)
            .await
            .unwrap_or_else(|_| panic!("{}: node inspect did not end within 10 s", self.name))
            .expect("node inspect starts");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{}: node inspect failed ({}): {}{stdout}",
            self.name,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// The names of the peers this node has a ready session with, sorted;
    /// a node in a namespace of its own is asked by `node inspect`.
    pub async fn ready_peers(&self) -> Vec<String> {
        let mut names: Vec<String> = match &self.netns {
            Some(netns) => inspect::parse_peers(&self.inspect(netns, "peers").await)
                .into_iter()
                .filter(|(_, state)| state == "ready")
                .map(|(name, _)| name)
                .collect(),
            None => self
                .list_peers()
                .await
                .into_iter()
                .filter(|p| p.state == pb::SessionState::Ready as i32)
                .map(|p| p.name)
                .collect(),
        };
        names.sort();
        names
    }

    /// Polls ListGroups every 50 ms (at most `within`) until `check` holds.
    pub async fn groups_until(
        &self,
        within: Duration,
        check: impl Fn(&[(String, Vec<String>)]) -> bool,
    ) -> Vec<(String, Vec<String>)> {
        let deadline = Instant::now() + within;
        loop {
            let groups = self.list_groups().await;
            if check(&groups) || Instant::now() >= deadline {
                return groups;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls ListPeers every 50 ms (at most `within`) until `check` holds.
    pub async fn peers_until(
        &self,
        within: Duration,
        check: impl Fn(&[pb::PeerInfo]) -> bool,
    ) -> Vec<pb::PeerInfo> {
        let deadline = Instant::now() + within;
        loop {
            let peers = self.list_peers().await;
            if check(&peers) || Instant::now() >= deadline {
                return peers;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A failing test shows what a watched node said last (a panic, the
        // warnings before it).
        if std::thread::panicking() {
            let lines = self.stderr_lines();
            let tail = &lines[lines.len().saturating_sub(40)..];
            for line in tail {
                eprintln!("[{} stderr] {line}", self.name);
            }
        }
    }
}

/// How many entries `/proc/PID/DIR` has.
fn proc_entries(pid: u32, dir: &str) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/{dir}"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/{dir}: {e}"))
        .count()
}

/// Whether `peers` holds a ready session with `name`.
pub fn has_ready(peers: &[pb::PeerInfo], name: &str) -> bool {
    peers
        .iter()
        .any(|p| p.name == name && p.state == pb::SessionState::Ready as i32)
}
