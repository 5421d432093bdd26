//! A scenario's cluster: `node` processes, each on a host of its own with
//! its own address, and the faults a scenario applies to them.
//!
//! Where this process may make network namespaces (root, `ip netns`), each
//! node runs in one on a switch ([`NetLab`], 192.0.2.0/24) and a partition
//! or a slow link is at hand; elsewhere each node listens on its own
//! loopback address (127.0.0.11, .12, ...) and only process faults apply.
//! [`Cluster::network`] says which, for the test's output. Setting
//! `RELIABILITY_LOOPBACK` (to anything) picks loopback even as root.

use std::time::{Duration, Instant};

use super::{NODE, NodeProcess, netns};
use netns::NetLab;

/// Where the nodes run.
enum Net {
    /// Hosts of their own, in network namespaces.
    Hosts(NetLab),
    /// Distinct loopback addresses in the test's namespace; why not hosts.
    Loopback(String),
}

/// One node of the cluster: how it was started, and its process while it
/// runs.
struct Member {
    name: String,
    /// The binary it runs (`node` or another with its flags).
    program: Option<String>,
    /// The loopback address it listens on (loopback mode).
    ip: String,
    extra: Vec<String>,
    process: Option<NodeProcess>,
    /// The address it listened on first: a restart takes it again.
    addr: String,
}

/// See the module docs. Every process is killed and every namespace
/// deleted when the cluster is dropped, also when a test fails.
pub struct Cluster {
    cookie: String,
    members: Vec<Member>,
    // Dropped last: the processes in its namespaces go first.
    net: Net,
}

impl Cluster {
    /// Hosts for `names` (no process started yet), all sharing `cookie`.
    pub fn new(names: &[&str], cookie: &str) -> Self {
        let forced = std::env::var_os("RELIABILITY_LOOPBACK").is_some();
        let net = match netns::available() {
            Ok(()) if !forced => Net::Hosts(NetLab::new(names)),
            Ok(()) => Net::Loopback("RELIABILITY_LOOPBACK is set".into()),
            Err(why) => Net::Loopback(why),
        };
        let members = names
            .iter()
            .zip(11u8..)
            .map(|(name, n)| Member {
                name: (*name).to_owned(),
                program: None,
                ip: format!("127.0.0.{n}"),
                extra: Vec::new(),
                process: None,
                addr: String::new(),
            })
            .collect();
        Self {
            cookie: cookie.to_owned(),
            members,
            net,
        }
    }

    /// What the nodes run on, in words.
    pub fn network(&self) -> String {
        match &self.net {
            Net::Hosts(_) => "network namespaces on a switch (192.0.2.0/24)".into(),
            Net::Loopback(why) => format!("distinct loopback addresses 127.0.0.11+ ({why})"),
        }
    }

    /// Whether network faults (partition, slow link) are possible.
    pub fn has_hosts(&self) -> bool {
        matches!(self.net, Net::Hosts(_))
    }

    fn member(&self, name: &str) -> &Member {
        self.members
            .iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("no node {name:?} in this cluster"))
    }

    fn member_mut(&mut self, name: &str) -> &mut Member {
        self.members
            .iter_mut()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("no node {name:?} in this cluster"))
    }

    /// Starts node `name` with `extra` flags on its host, any port.
    pub fn start(&mut self, name: &str, extra: &[&str]) -> &mut NodeProcess {
        self.start_program(name, None, extra)
    }

    /// Starts `program` (a binary with `node`'s flags; `None`: `node`) as
    /// `name` on its host, any port.
    pub fn start_program(
        &mut self,
        name: &str,
        program: Option<&str>,
        extra: &[&str],
    ) -> &mut NodeProcess {
        let extra: Vec<String> = extra.iter().map(|&e| e.to_owned()).collect();
        self.member_mut(name).program = program.map(str::to_owned);
        let process = self.launch(name, &extra, None);
        let member = self.member_mut(name);
        member.addr = process.addr.clone();
        member.extra = extra;
        member.process.insert(process)
    }

    fn launch(&self, name: &str, extra: &[String], addr: Option<&str>) -> NodeProcess {
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let port = addr.map_or(0, |a| {
            a.rsplit(':')
                .next()
                .and_then(|p| p.parse().ok())
                .expect("an address with a port")
        });
        let member = self.member(name);
        let program = member.program.as_deref().unwrap_or(NODE);
        match &self.net {
            Net::Hosts(lab) => {
                NodeProcess::start_program_in(lab, program, name, &self.cookie, port, &extra)
            }
            Net::Loopback(_) => {
                let listen = format!("{}:{port}", member.ip);
                let extra = [&["--listen", listen.as_str()][..], &extra].concat();
                NodeProcess::start_program(program, name, &self.cookie, &extra)
            }
        }
    }

    /// The running node `name`.
    pub fn node(&self, name: &str) -> &NodeProcess {
        self.member(name)
            .process
            .as_ref()
            .unwrap_or_else(|| panic!("{name} is not running"))
    }

    /// The running node `name`, to wait on its lines.
    pub fn node_mut(&mut self, name: &str) -> &mut NodeProcess {
        self.member_mut(name)
            .process
            .as_mut()
            .unwrap_or_else(|| panic!("{name} is not running"))
    }

    /// The address node `name` listens on (kept across restarts).
    pub fn addr(&self, name: &str) -> String {
        self.member(name).addr.clone()
    }

    /// The names of the nodes running now, in the order given.
    pub fn running(&self) -> Vec<String> {
        self.members
            .iter()
            .filter(|m| m.process.is_some())
            .map(|m| m.name.clone())
            .collect()
    }

    /// Kills node `name` at once (SIGKILL).
    pub fn crash(&mut self, name: &str) {
        if let Some(mut p) = self.member_mut(name).process.take() {
            p.crash();
        }
    }

    /// Starts node `name` again with the same flags on the same address: a
    /// new incarnation of the same node.
    pub fn restart(&mut self, name: &str) -> &mut NodeProcess {
        let member = self.member(name);
        let (extra, addr) = (member.extra.clone(), member.addr.clone());
        let process = self.launch(name, &extra, Some(&addr));
        self.member_mut(name).process.insert(process)
    }

    /// Cuts node `name`'s host off the switch, silently.
    ///
    /// # Panics
    /// On loopback, where there is no link to cut (see [`has_hosts`](Self::has_hosts)).
    pub fn partition(&self, name: &str) {
        self.lab().partition(name);
    }

    /// Puts node `name`'s host back on the switch.
    pub fn heal(&self, name: &str) {
        self.lab().heal(name);
    }

    /// Limits node `name`'s link to `rate` both ways (tc's token bucket,
    /// e.g. "1mbit"); `None` lifts the limit.
    ///
    /// # Panics
    /// On loopback, where there is no link (see [`has_hosts`](Self::has_hosts)).
    pub fn slow_link(&self, name: &str, rate: Option<&str>) {
        self.lab().shape(name, rate);
    }

    fn lab(&self) -> &NetLab {
        match &self.net {
            Net::Hosts(lab) => lab,
            Net::Loopback(why) => panic!("no network to fault on loopback ({why})"),
        }
    }

    /// Each running node's view: (node, its ready peers, its groups).
    pub async fn views(&self) -> Vec<(String, Vec<String>, Vec<(String, Vec<String>)>)> {
        let mut out = Vec::new();
        for m in &self.members {
            if let Some(p) = &m.process {
                out.push((m.name.clone(), p.ready_peers().await, p.list_groups().await));
            }
        }
        out
    }

    /// Waits (at most `within`, polling) until every running node has a
    /// ready session with every other running node and all hold the same
    /// groups, equal to `groups`. `Ok(elapsed)` when they do, else the
    /// views last seen.
    pub async fn converge(
        &self,
        within: Duration,
        groups: &[(String, Vec<String>)],
    ) -> Result<Duration, String> {
        let start = Instant::now();
        let running = self.running();
        loop {
            let views = self.views().await;
            let agreed = views.iter().all(|(name, peers, seen)| {
                let mut others: Vec<&String> = running.iter().filter(|n| *n != name).collect();
                others.sort();
                peers.iter().collect::<Vec<_>>() == others && seen == groups
            });
            if agreed {
                return Ok(start.elapsed());
            }
            if start.elapsed() >= within {
                return Err(format!(
                    "no agreement within {within:?}; views (node, ready peers, groups): {views:#?}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
