//! The scale workloads' nodes (issue 11, lever 6): a pg join reaching
//! several peers, and a mesh of nodes meeting in transitive mode.
//!
//! A `peer` child runs one node with one member of its own in pg group
//! `mesh-NAME`, watches every pg change in the default scope and notes when
//! each group first showed a remote member (the moment a user on this node
//! could first find it). It takes these commands on stdin:
//! - `connect ADDR`: dial ADDR and wait until that node's member is visible;
//!   prints `bench:connected`.
//! - `mesh N [ADDR]`: dial ADDR if given, then wait until the members of all
//!   N - 1 other nodes are visible; prints `bench:meshed [start, end]` in
//!   Unix microseconds.
//! - `join K`: a fresh actor joins pg group `probe-K`; prints `bench:joined T`.
//! - `seen K`: waits until `probe-K` has a remote member; prints
//!   `bench:seen T`, T the moment it first had one.
//! - `exit`.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use ractor::{
    Actor, ActorProcessingErr, ActorRef, SupervisionEvent,
    pg::{self, GroupChangeMessage},
};
use tokio::{sync::Notify, task::JoinHandle};

use crate::{
    Result,
    child::{Commands, announce},
    measure::unix_micros,
    msg::{SinkProtocol, cluster, grpc},
    node::{Changed, Mode, Node, QueueLimit, System},
    sink::Idle,
};

/// Each peer's member is alone in this group plus its node name.
const MESH_PREFIX: &str = "mesh-";

/// The pg group of `join K`.
fn probe_group(k: &str) -> String {
    format!("probe-{k}")
}

/// When each pg group (default scope) first had a remote member, in Unix
/// microseconds, and a wake-up for whoever waits on the next change.
#[derive(Debug, Default)]
struct Seen {
    first: Mutex<HashMap<String, f64>>,
    changed: Notify,
}

impl Seen {
    fn note(&self, group: String, at: f64) {
        self.first
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(group)
            .or_insert(at);
        // A stored permit when nobody waits yet: no change is lost.
        self.changed.notify_one();
    }

    fn get(&self, group: &str) -> Option<f64> {
        self.first
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(group)
            .copied()
    }

    /// When the groups whose names start with `prefix` first had remote
    /// members: one time per group.
    fn firsts(&self, prefix: &str) -> Vec<f64> {
        self.first
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(g, _)| g.starts_with(prefix))
            .map(|(_, at)| *at)
            .collect()
    }

    /// Once at least `n` groups starting with `prefix` have had a remote
    /// member, the moment the last of them first had one.
    fn all_of(&self, prefix: &str, n: usize) -> Option<f64> {
        let firsts = self.firsts(prefix);
        (firsts.len() >= n).then(|| firsts.into_iter().fold(0.0, f64::max))
    }

    /// Waits, waking on every change, until `done` says yes.
    async fn until<T>(
        &self,
        timeout: Duration,
        what: &str,
        mut done: impl FnMut(&Self) -> Option<T>,
    ) -> Result<T> {
        let started = Instant::now();
        loop {
            if let Some(found) = done(self) {
                return Ok(found);
            }
            let left = timeout.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Err(format!("{what} after {timeout:?}").into());
            }
            let _ = tokio::time::timeout(left, self.changed.notified()).await;
        }
    }
}

/// Watches the default pg scope and notes remote joins in [`Seen`].
#[derive(Debug)]
struct Watcher;

impl Actor for Watcher {
    type Msg = Changed;
    type State = Arc<Seen>;
    type Arguments = Arc<Seen>;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        seen: Arc<Seen>,
    ) -> std::result::Result<Self::State, ActorProcessingErr> {
        pg::monitor_scope(pg::DEFAULT_SCOPE.to_owned(), myself.get_cell());
        Ok(seen)
    }

    async fn handle_supervisor_evt(
        &self,
        _: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        seen: &mut Self::State,
    ) -> std::result::Result<(), ActorProcessingErr> {
        if let SupervisionEvent::ProcessGroupChanged(GroupChangeMessage::Join(_, group, cells)) =
            event
            && cells.iter().any(|c| !c.get_id().is_local())
        {
            seen.note(group, unix_micros());
        }
        Ok(())
    }
}

/// The `peer` role: see the module docs.
pub(crate) async fn peer(system: System, name: &str, mode: Mode, timeout: Duration) -> Result<()> {
    match system {
        System::Grpc => peer_for::<grpc::SinkMsg>(system, name, mode, timeout).await,
        System::Cluster => peer_for::<cluster::SinkMsg>(system, name, mode, timeout).await,
    }
}

async fn peer_for<M: SinkProtocol>(
    system: System,
    name: &str,
    mode: Mode,
    timeout: Duration,
) -> Result<()> {
    let seen = Arc::new(Seen::default());
    let (watcher, watcher_handle): (ActorRef<Changed>, JoinHandle<()>) =
        Actor::spawn(None, Watcher, seen.clone()).await?;
    let (member, _) = Actor::spawn(None, Idle::<M>::new(), ()).await?;
    pg::join(format!("{MESH_PREFIX}{name}"), vec![member.get_cell()]);
    let mut actors = vec![member];
    let node = Node::start_in(system, name, None, QueueLimit::Default, mode).await?;
    announce("listening", node.listen_addr().await?);
    let mut commands = Commands::stdin();
    while let Some(command) = commands.next().await {
        let (verb, arg) = command.split_once(' ').unwrap_or((&command, ""));
        match verb {
            "exit" => break,
            "connect" => {
                let before = seen.firsts(MESH_PREFIX).len();
                node.connect(arg).await?;
                seen.until(timeout, "the peer's member is not visible", |s| {
                    s.all_of(MESH_PREFIX, before + 1)
                })
                .await?;
                announce("connected", "");
            }
            "mesh" => {
                let mut args = arg.split_whitespace();
                let nodes: usize = args.next().ok_or("mesh needs N")?.parse()?;
                let start = unix_micros();
                if let Some(addr) = args.next() {
                    node.connect(addr).await?;
                }
                let end = seen
                    .until(timeout, "the mesh is not complete", |s| {
                        s.all_of(MESH_PREFIX, nodes.saturating_sub(1))
                    })
                    .await?;
                announce("meshed", serde_json::to_string(&[start, end])?);
            }
            "join" => {
                let (actor, _) = Actor::spawn(None, Idle::<M>::new(), ()).await?;
                // Before the join: a peer may see it before this returns.
                let at = unix_micros();
                pg::join(probe_group(arg), vec![actor.get_cell()]);
                announce("joined", at);
                actors.push(actor);
            }
            "seen" => {
                let group = probe_group(arg);
                let at = seen
                    .until(timeout, &format!("no remote member in {group}"), |s| {
                        s.get(&group)
                    })
                    .await?;
                announce("seen", at);
            }
            other => return Err(format!("unknown command {other:?}").into()),
        }
    }
    node.stop().await;
    for actor in actors {
        actor.stop(None);
    }
    watcher.stop(None);
    let _ = tokio::time::timeout(Duration::from_secs(5), watcher_handle).await;
    Ok(())
}
