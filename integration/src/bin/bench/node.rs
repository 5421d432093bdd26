//! Starting, connecting and stopping a node of either system, and finding
//! the sink through pg.

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::Arc,
    time::{Duration, Instant},
};

use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, SupervisionEvent};
use tokio::{sync::Notify, task::JoinHandle};

use crate::{
    Result,
    sink::{ADVERT_GROUP_PREFIX, GROUP},
    tls::NodeTls,
};

/// The cookie every bench node shares.
const COOKIE: &str = "bench-cookie";

/// Which cluster library a node runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum System {
    /// ractor_grpc (this workspace).
    Grpc,
    /// ractor_cluster 0.16.5, the baseline.
    Cluster,
}

impl System {
    /// The name used in flags and progress lines.
    pub(crate) fn flag(self) -> &'static str {
        match self {
            Self::Grpc => "grpc",
            Self::Cluster => "cluster",
        }
    }
}

impl fmt::Display for System {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.flag())
    }
}

/// A running node server of either system, listening on 127.0.0.1.
#[derive(Debug)]
pub(crate) enum Node {
    /// A ractor_grpc node.
    Grpc {
        /// The node server actor.
        node: ActorRef<ractor_grpc::NodeServerMessage>,
        /// Ends when the node server stops.
        handle: JoinHandle<()>,
    },
    /// A ractor_cluster node.
    Cluster {
        /// The node server actor.
        node: ActorRef<ractor_cluster::NodeServerMessage>,
        /// Ends when the node server stops.
        handle: JoinHandle<()>,
        /// The port it listens on.
        port: u16,
        /// How it dials over TLS; `None` dials plaintext.
        tls: Option<Arc<rustls::ClientConfig>>,
    },
}

/// The grpc nodes' queue limit: larger than any burst of the bench.
const BENCH_QUEUE_LIMIT: usize = 1 << 30;

/// How a node meets its peers' peers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Sessions only where asked for (both systems' default).
    Isolated,
    /// Every node connects to every node it hears of (a full mesh).
    Transitive,
}

/// Which queue limit a grpc node runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QueueLimit {
    /// [`BENCH_QUEUE_LIMIT`], so no burst is refused.
    Burst,
    /// The library's default (what `send` waits on a quarter of).
    Default,
}

impl Node {
    /// Starts an isolated node called `name` on 127.0.0.1 with a free
    /// port; with `tls`, every session it serves or dials is mutual TLS.
    pub(crate) async fn start(
        system: System,
        name: &str,
        tls: Option<&NodeTls>,
        limit: QueueLimit,
    ) -> Result<Self> {
        Self::start_in(system, name, tls, limit, Mode::Isolated).await
    }

    /// [`Node::start`] in connection mode `mode`.
    pub(crate) async fn start_in(
        system: System,
        name: &str,
        tls: Option<&NodeTls>,
        limit: QueueLimit,
        mode: Mode,
    ) -> Result<Self> {
        let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
        match system {
            System::Grpc => {
                // ractor_cluster queues without a bound; a grpc session
                // refuses casts past its queue limit (32 MiB by default,
                // which part of the 64 KiB and 1 MiB bursts would exceed).
                // The bursts are compared whole.
                let mut config = ractor_grpc::NodeConfig::new(name, COOKIE)
                    .with_listen_addr(SocketAddr::new(loopback, 0))
                    .with_queue_limit(match limit {
                        QueueLimit::Burst => BENCH_QUEUE_LIMIT,
                        QueueLimit::Default => ractor_grpc::DEFAULT_QUEUE_LIMIT,
                    })
                    // Every bench process dials from 127.0.0.1, where a
                    // real cluster's peers have addresses of their own:
                    // the per-address handshake rate would refuse the
                    // sessions workloads' 64 drivers starting at once.
                    .with_handshake_limits(ractor_grpc::HandshakeLimits {
                        per_source_per_second: 1_000,
                        per_source_burst: 1_000,
                        ..Default::default()
                    })
                    .with_mode(match mode {
                        Mode::Isolated => ractor_grpc::ConnectionMode::Isolated,
                        Mode::Transitive => ractor_grpc::ConnectionMode::Transitive,
                    });
                if let Some(tls) = tls {
                    config = config.with_tls(tls.grpc());
                }
                let (node, handle) =
                    Actor::spawn(None, ractor_grpc::NodeServer::new(config), ()).await?;
                Ok(Self::Grpc { node, handle })
            }
            System::Cluster => {
                // ractor_cluster wants the port up front and offers no way to
                // read back one it picked, so take a free one from the OS.
                let port = std::net::TcpListener::bind((loopback, 0))?
                    .local_addr()?
                    .port();
                let server = ractor_cluster::NodeServer::new(
                    port,
                    COOKIE.to_owned(),
                    name.to_owned(),
                    "localhost".to_owned(),
                    tls.map(NodeTls::cluster_acceptor)
                        .transpose()?
                        .map(ractor_cluster::IncomingEncryptionMode::Tls),
                    Some(match mode {
                        Mode::Isolated => ractor_cluster::node::NodeConnectionMode::Isolated,
                        Mode::Transitive => ractor_cluster::node::NodeConnectionMode::Transitive,
                    }),
                )
                .with_listen_addr(loopback);
                let (node, handle) = Actor::spawn(None, server, ()).await?;
                Ok(Self::Cluster {
                    node,
                    handle,
                    port,
                    tls: tls.map(NodeTls::cluster_client).transpose()?,
                })
            }
        }
    }

    /// The address peers dial.
    pub(crate) async fn listen_addr(&self) -> Result<SocketAddr> {
        match self {
            Self::Grpc { node, .. } => Ok(ractor_grpc::node_info(node).await?.listen_addr),
            Self::Cluster { port, .. } => Ok(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), *port)),
        }
    }

    /// Dials `addr`: ractor_grpc returns once the session is synced,
    /// ractor_cluster once the TCP stream is open (and TLS established; its
    /// handshake goes on). ractor_grpc dials TLS when it serves TLS.
    pub(crate) async fn connect(&self, addr: &str) -> Result<()> {
        match self {
            Self::Grpc { node, .. } => {
                ractor_grpc::connect(node, addr).await?;
            }
            Self::Cluster {
                node, tls: None, ..
            } => {
                ractor_cluster::client_connect(node, addr).await?;
            }
            Self::Cluster {
                node,
                tls: Some(tls),
                ..
            } => {
                // The certificates name the IP address dialled.
                let addr: SocketAddr = addr.parse()?;
                let connector = tokio_rustls::TlsConnector::from(tls.clone());
                let name = rustls::pki_types::ServerName::from(addr.ip());
                ractor_cluster::client_connect_enc(node, addr, connector, name).await?;
            }
        }
        Ok(())
    }

    /// Stops the node server and waits (bounded) for it to end.
    pub(crate) async fn stop(self) {
        let handle = match self {
            Self::Grpc { node, handle } => {
                node.stop(None);
                handle
            }
            Self::Cluster { node, handle, .. } => {
                node.stop(None);
                handle
            }
        };
        // A node that does not stop in time is left to process exit.
        let _ = tokio::time::timeout(Duration::from_secs(5), handle).await;
    }
}

/// The first remote member of the pg group, if any.
fn remote_member() -> Option<ActorCell> {
    ractor::pg::get_members(&GROUP.to_owned())
        .into_iter()
        .find(|cell| !cell.get_id().is_local())
}

/// How many remote actors are in the advertise workloads' pg groups.
fn grouped_remote_members() -> u64 {
    ractor::pg::which_groups()
        .iter()
        .filter(|g| g.starts_with(ADVERT_GROUP_PREFIX))
        .map(|g| {
            ractor::pg::get_members(g)
                .iter()
                .filter(|c| !c.get_id().is_local())
                .count() as u64
        })
        .sum()
}

/// How often [`wait_grouped`] looks at pg.
const GROUPED_POLL: Duration = Duration::from_millis(2);

/// Waits until `n` remote actors are in the advertise workloads' pg groups.
/// Looks every 2 ms (a look costs microseconds, so it steals no core).
pub(crate) async fn wait_grouped(n: u64, timeout: Duration) -> Result<()> {
    let started = Instant::now();
    loop {
        let seen = grouped_remote_members();
        if seen >= n {
            return Ok(());
        }
        if started.elapsed() > timeout {
            return Err(format!("{seen} of {n} grouped actors visible after {timeout:?}").into());
        }
        tokio::time::sleep(GROUPED_POLL).await;
    }
}

/// The longest a waiter sleeps between looks at pg when no change is
/// announced (a safety net; changes wake it at once).
const RECHECK: Duration = Duration::from_millis(10);

/// Wakes waiters whenever the pg group changes, so waiting for the sink
/// neither spins a core (which on 2 cores slows the handshake it waits
/// for) nor rounds up to tokio's 1 ms timer.
#[derive(Debug)]
pub(crate) struct PgWatch {
    changed: Arc<Notify>,
    actor: ActorRef<Changed>,
    handle: JoinHandle<()>,
}

/// The watcher actor's (unused) message type.
#[derive(Debug, ractor_grpc::RactorMessage)]
pub(crate) struct Changed;

/// Monitors the pg group and forwards every change to a [`Notify`].
#[derive(Debug)]
struct Watcher;

impl Actor for Watcher {
    type Msg = Changed;
    type State = Arc<Notify>;
    type Arguments = Arc<Notify>;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        changed: Arc<Notify>,
    ) -> std::result::Result<Self::State, ActorProcessingErr> {
        ractor::pg::monitor(GROUP.to_owned(), myself.get_cell());
        Ok(changed)
    }

    async fn handle_supervisor_evt(
        &self,
        _: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        changed: &mut Self::State,
    ) -> std::result::Result<(), ActorProcessingErr> {
        if let SupervisionEvent::ProcessGroupChanged(_) = event {
            // A stored permit if nobody waits yet: a change between a look
            // and the wait is not lost.
            changed.notify_one();
        }
        Ok(())
    }
}

impl PgWatch {
    /// Starts watching the pg group.
    pub(crate) async fn start() -> Result<Self> {
        let changed = Arc::new(Notify::new());
        let (actor, handle) = Actor::spawn(None, Watcher, changed.clone()).await?;
        Ok(Self {
            changed,
            actor,
            handle,
        })
    }

    /// Looks at pg until `done` says yes, waking on every change.
    async fn wait_until<T>(
        &self,
        timeout: Duration,
        what: &str,
        mut done: impl FnMut() -> Option<T>,
    ) -> Result<T> {
        let started = Instant::now();
        loop {
            if let Some(found) = done() {
                return Ok(found);
            }
            let waited = started.elapsed();
            if waited > timeout {
                return Err(format!("{what} in pg group {GROUP:?} after {waited:?}").into());
            }
            let _ = tokio::time::timeout(RECHECK, self.changed.notified()).await;
        }
    }

    /// Waits until a remote member of the pg group is visible; returns it.
    pub(crate) async fn sink(&self, timeout: Duration) -> Result<ActorCell> {
        self.wait_until(timeout, "no remote member", remote_member)
            .await
    }

    /// Waits until no remote member of the pg group is left.
    pub(crate) async fn no_sink(&self, timeout: Duration) -> Result<()> {
        self.wait_until(timeout, "a remote member stayed", || {
            remote_member().is_none().then_some(())
        })
        .await
    }

    /// Stops watching.
    pub(crate) async fn stop(self) {
        self.actor.stop(None);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.handle).await;
    }
}
