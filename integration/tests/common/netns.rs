//! Network namespaces for multi-process tests: each node on its own host
//! with its own address, the hosts joined by a switch, and a silent
//! partition at hand.
//!
//! A [`NetLab`] is a "switch" namespace holding a bridge, and one namespace
//! per host with a veth pair: the host's end (`eth0`, with an address in
//! 192.0.2.0/24, a range reserved for documentation that nothing routes) in
//! the host's namespace, the other end enslaved to the bridge. Setting a
//! host's bridge-side end down drops its traffic both ways with no error on
//! either side's sockets, as a cut cable between switches would (setting the
//! host's own end down is not silent: its sends fail at once). Nothing is
//! added to the namespace the test runs in, which cannot reach the hosts:
//! programs run inside a host with [`NetLab::command`].
//!
//! Needs root and a kernel that allows network namespaces ([`available`]);
//! everything is deleted when the lab is dropped, also when a test panics.

use std::{
    net::Ipv4Addr,
    path::Path,
    process::Command,
    sync::atomic::{AtomicUsize, Ordering},
};

/// Labs made by this process so far: with the process id, it keeps
/// namespace names apart between labs, tests and runs.
static LABS: AtomicUsize = AtomicUsize::new(0);

/// Whether namespaces can be made here: `Err` says why not.
pub fn available() -> Result<(), String> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("cannot read /proc/self/status: {e}"))?;
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .ok_or("no effective uid in /proc/self/status")?;
    if euid != "0" {
        return Err(format!("not running as root (effective uid {euid})"));
    }
    let probe = format!("rgprobe{}", std::process::id());
    delete_stale(&probe);
    let out = Command::new("ip")
        .args(["netns", "add", &probe])
        .output()
        .map_err(|e| format!("cannot run `ip` (iproute2): {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`ip netns add {probe}` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    ip(&["netns", "del", &probe]);
    Ok(())
}

/// One host of a [`NetLab`].
#[derive(Debug)]
pub struct Host {
    /// The name the test gave it.
    pub name: String,
    /// Its network namespace.
    pub netns: String,
    /// Its address on the switch.
    pub ip: Ipv4Addr,
    /// Its veth end on the bridge, in the switch namespace.
    port: String,
}

/// A switch and hosts on it, in namespaces of their own; deleted on drop.
#[derive(Debug)]
pub struct NetLab {
    switch: String,
    hosts: Vec<Host>,
}

impl NetLab {
    /// Makes the switch and one host per name, addressed 192.0.2.1, .2, ...
    /// in order, with loopback up everywhere.
    ///
    /// # Panics
    ///
    /// If an `ip` command fails (the panic shows it and its stderr); what
    /// was made until then is deleted.
    pub fn new(names: &[&str]) -> Self {
        assert!(names.len() < 254, "at most 253 hosts on 192.0.2.0/24");
        let prefix = format!(
            "rg{}-{}",
            std::process::id(),
            LABS.fetch_add(1, Ordering::Relaxed)
        );
        let hosts = names
            .iter()
            .zip(1u8..)
            .map(|(name, n)| Host {
                name: (*name).to_owned(),
                netns: format!("{prefix}-{name}"),
                ip: Ipv4Addr::new(192, 0, 2, n),
                port: format!("port{n}"),
            })
            .collect();
        // Named before anything is made, so a panic half-way deletes all.
        let lab = Self {
            switch: format!("{prefix}-switch"),
            hosts,
        };
        for netns in lab.namespaces() {
            delete_stale(netns);
        }
        let sw = lab.switch.as_str();
        ip(&["netns", "add", sw]);
        ip(&["-n", sw, "link", "set", "lo", "up"]);
        ip(&["-n", sw, "link", "add", "br0", "type", "bridge"]);
        ip(&["-n", sw, "link", "set", "br0", "up"]);
        for host in &lab.hosts {
            let (ns, port) = (host.netns.as_str(), host.port.as_str());
            ip(&["netns", "add", ns]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
            ip(&[
                "-n", sw, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns,
            ]);
            ip(&["-n", sw, "link", "set", port, "master", "br0"]);
            ip(&["-n", sw, "link", "set", port, "up"]);
            let addr = format!("{}/24", host.ip);
            ip(&["-n", ns, "addr", "add", &addr, "dev", "eth0"]);
            ip(&["-n", ns, "link", "set", "eth0", "up"]);
        }
        lab
    }

    /// The host named `name`.
    ///
    /// # Panics
    ///
    /// If the lab has no such host.
    pub fn host(&self, name: &str) -> &Host {
        self.hosts
            .iter()
            .find(|h| h.name == name)
            .unwrap_or_else(|| panic!("no host {name:?} in this lab"))
    }

    /// `program` to run inside host `name`'s namespace (`ip netns exec`,
    /// which execs it: the child's pid is the program's).
    pub fn command(&self, name: &str, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.host(name).netns, program]);
        command
    }

    /// Cuts host `name` off the switch, silently: its bridge-side end goes
    /// down, so its packets and those sent to it vanish.
    pub fn partition(&self, name: &str) {
        self.set_port(name, "down");
    }

    /// Puts host `name` back on the switch.
    pub fn heal(&self, name: &str) {
        self.set_port(name, "up");
    }

    /// Limits host `name`'s link to `rate` (e.g. "1mbit") both ways, with
    /// a token bucket (`tc tbf`) on its own end (what it sends) and on its
    /// bridge-side end (what it receives); `None` lifts the limit.
    pub fn shape(&self, name: &str, rate: Option<&str>) {
        let host = self.host(name);
        for (netns, dev) in [
            (host.netns.as_str(), "eth0"),
            (self.switch.as_str(), host.port.as_str()),
        ] {
            let mut args = vec!["-n", netns, "qdisc"];
            match rate {
                Some(rate) => args.extend([
                    "replace", "dev", dev, "root", "tbf", "rate", rate, "burst", "32kbit",
                    "latency", "400ms",
                ]),
                None => args.extend(["del", "dev", dev, "root"]),
            }
            let shown = format!("tc {}", args.join(" "));
            let out = Command::new("tc")
                .args(&args)
                .output()
                .unwrap_or_else(|e| panic!("cannot run `{shown}`: {e}"));
            assert!(
                out.status.success(),
                "`{shown}` failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
    }

    /// Sets host `name`'s bridge-side end `up` or `down`.
    fn set_port(&self, name: &str, state: &str) {
        let port = self.host(name).port.as_str();
        ip(&["-n", &self.switch, "link", "set", port, state]);
    }

    fn namespaces(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.switch.as_str()).chain(self.hosts.iter().map(|h| h.netns.as_str()))
    }
}

impl Drop for NetLab {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veth ends in it, and with one end
        // the pair. Errors are ignored: a panic half-way leaves some unmade.
        for netns in self.namespaces() {
            let _ = Command::new("ip").args(["netns", "del", netns]).output();
        }
    }
}

/// Deletes namespace `netns` if one of that name is left from an earlier run.
fn delete_stale(netns: &str) {
    if Path::new("/run/netns").join(netns).exists() {
        ip(&["netns", "del", netns]);
    }
}

/// Runs `ip ARGS`.
///
/// # Panics
///
/// If it cannot start or fails; the panic shows the command and its stderr.
fn ip(args: &[&str]) {
    let shown = format!("ip {}", args.join(" "));
    let out = Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{shown}`: {e}"));
    assert!(
        out.status.success(),
        "`{shown}` failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
}
