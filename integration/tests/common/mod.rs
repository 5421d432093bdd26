//! Runs node processes (the `node` binary and scenario binaries) for
//! multi-process tests.

#![allow(dead_code, unreachable_pub)]

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use ractor_grpc::{
    Cookie, TokenScope,
    pb::{self, cluster_node_client::ClusterNodeClient},
};
use tonic::{Request, metadata::MetadataValue};

/// A `node` process; killed when dropped.
pub struct NodeProcess {
    pub name: String,
    pub addr: String,
    /// The cookie it runs with, if this side knows it (to mint tokens).
    cookie: Option<String>,
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl NodeProcess {
    /// Starts `node --name NAME --cookie COOKIE EXTRA...` and waits (at most
    /// 20 s) for its `listening on` line.
    pub fn start(name: &str, cookie: &str, extra: &[&str]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_node"));
        command
            .args(["--name", name, "--cookie", cookie])
            .args(extra);
        let mut node = Self::launch(name, command);
        node.cookie = Some(cookie.to_owned());
        node
    }

    /// Runs `command`, a process that prints `... listening on ADDR`, and
    /// waits (at most 20 s) for that line.
    pub fn launch(name: &str, mut command: Command) -> Self {
        let mut child = command
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("process starts");
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
            child,
            lines,
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
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(_) => panic!("{}: no line with {needle:?} within {within:?}", self.name),
            }
        }
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

    /// The node's ListPeers answer.
    pub async fn list_peers(&self) -> Vec<pb::PeerInfo> {
        let mut client = ClusterNodeClient::connect(format!("http://{}", self.addr))
            .await
            .expect("grpc connect");
        client
            .list_peers(self.with_token(pb::ListPeersRequest {}))
            .await
            .expect("ListPeers")
            .into_inner()
            .peers
    }

    /// The node's ListGroups answer: (group, sorted member node names) pairs.
    pub async fn list_groups(&self) -> Vec<(String, Vec<String>)> {
        let mut client = ClusterNodeClient::connect(format!("http://{}", self.addr))
            .await
            .expect("grpc connect");
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
    }
}

/// Whether `peers` holds a ready session with `name`.
pub fn has_ready(peers: &[pb::PeerInfo], name: &str) -> bool {
    peers
        .iter()
        .any(|p| p.name == name && p.state == pb::SessionState::Ready as i32)
}
