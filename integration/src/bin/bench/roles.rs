//! The child processes: the sink node, a driver node, the in-process
//! ceiling. Each prints its protocol lines (see [`crate::child`]) and exits
//! when told to or when stdin closes.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use ractor::{Actor, ActorRef};

use crate::{
    Result,
    child::{Commands, Figures, announce},
    measure,
    msg::{SinkProtocol, cluster, grpc},
    node::{Node, PgWatch, QueueLimit, System},
    procstat,
    sink::{GROUP, Sink, grouped_of, spawn_idle},
    tls::{self, NodeTls},
    workload::{Sizes, Workload},
};

/// How long the sink waits for `stats N` to be reached.
const STATS_TIMEOUT: Duration = Duration::from_secs(60);

/// The certificates of `role` when the orchestrator passed `--tls DIR`.
fn load_tls(dir: Option<&Path>, role: &str) -> Result<Option<NodeTls>> {
    dir.map(|dir| NodeTls::load(dir, role)).transpose()
}

/// The sink node: `bench:listening ADDR`, then `stats N` commands until exit.
/// With `tls` (the orchestrator's certificate directory) it serves mutual TLS;
/// with `advertise` > 0 it first spawns that many idle actors for peers to
/// see (the advertise workloads).
pub(crate) async fn sink(
    system: System,
    name: &str,
    tls: Option<&Path>,
    advertise: u64,
) -> Result<()> {
    let tls = load_tls(tls, tls::SINK)?;
    match system {
        System::Grpc => sink_for::<grpc::SinkMsg>(system, name, tls.as_ref(), advertise).await,
        System::Cluster => {
            sink_for::<cluster::SinkMsg>(system, name, tls.as_ref(), advertise).await
        }
    }
}

async fn sink_for<M: SinkProtocol>(
    system: System,
    name: &str,
    tls: Option<&NodeTls>,
    advertise: u64,
) -> Result<()> {
    let idle = spawn_idle::<M>(advertise).await?;
    let (actor, actor_handle) = Actor::spawn(None, Sink::<M>::new(), ()).await?;
    ractor::pg::join(GROUP.to_owned(), vec![actor.get_cell()]);
    let node = Node::start(system, name, tls, QueueLimit::Burst).await?;
    announce("listening", node.listen_addr().await?);
    let mut commands = Commands::stdin();
    while let Some(command) = commands.next().await {
        if command == "exit" {
            break;
        }
        let Some(expected) = command.strip_prefix("stats ") else {
            return Err(format!("unknown command {command:?}").into());
        };
        let expected: u64 = expected.parse()?;
        announce(
            "stats",
            serde_json::to_string(&drain(&actor, expected).await?)?,
        );
    }
    node.stop().await;
    actor.stop(None);
    let _ = tokio::time::timeout(Duration::from_secs(5), actor_handle).await;
    for idle in idle {
        idle.stop(None);
    }
    Ok(())
}

/// Takes the sink's stats until `expected` casts are counted (bounded).
async fn drain<M: SinkProtocol>(actor: &ActorRef<M>, expected: u64) -> Result<[u64; 3]> {
    let started = Instant::now();
    let mut total = [0; 3];
    loop {
        let stats = measure::call(actor, M::take_stats, STATS_TIMEOUT).await?;
        for (sum, n) in total.iter_mut().zip(stats) {
            *sum += n;
        }
        if total[0] >= expected || started.elapsed() > STATS_TIMEOUT {
            return Ok(total);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// What a driver process is asked to do.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct DriverArgs {
    /// The system under test.
    #[arg(long)]
    pub(crate) system: System,
    /// The sink node's address.
    #[arg(long)]
    pub(crate) connect: String,
    /// The workload to run.
    #[arg(long)]
    pub(crate) workload: Workload,
    /// This node's name.
    #[arg(long, default_value = "bench-b")]
    pub(crate) name: String,
    /// The sender id in sequence numbers (fan-in).
    #[arg(long, default_value_t = 0)]
    pub(crate) sender: u64,
    /// Use the smoke sizes.
    #[arg(long)]
    pub(crate) smoke: bool,
    /// The orchestrator's certificate directory: serve and dial mutual TLS.
    #[arg(long)]
    pub(crate) tls: Option<PathBuf>,
}

/// A driver node: connects, finds the sink, `bench:ready`, waits for `go`,
/// runs the workload, `bench:result {..}`, waits for exit.
pub(crate) async fn driver(args: DriverArgs) -> Result<()> {
    match args.system {
        System::Grpc => driver_for::<grpc::SinkMsg>(args).await,
        System::Cluster => driver_for::<cluster::SinkMsg>(args).await,
    }
}

async fn driver_for<M: SinkProtocol>(args: DriverArgs) -> Result<()> {
    let sizes = if args.smoke {
        Sizes::SMOKE
    } else {
        Sizes::FULL
    };
    let timeout = sizes.step_timeout;
    let tls = load_tls(args.tls.as_deref(), tls::DRIVER)?;
    let mut commands = Commands::stdin();
    let watch = PgWatch::start().await?;
    let advertised = sizes.advertised_of(args.workload);
    if advertised > 0 {
        announce("ready", "");
        commands.expect_go().await?;
        let figures = advertise(&args, tls.as_ref(), advertised, timeout).await?;
        figures.announce()?;
        commands.until_exit().await;
        watch.stop().await;
        return Ok(());
    }
    if args.workload == Workload::ConnectTime {
        announce("ready", "");
        commands.expect_go().await?;
        connect_time(&args, tls.as_ref(), &watch, sizes.connect_samples, timeout)
            .await?
            .announce()?;
        commands.until_exit().await;
        watch.stop().await;
        return Ok(());
    }
    // `send` is measured with the default limit, where it waits.
    let limit = if args.workload == Workload::SendThroughput {
        QueueLimit::Default
    } else {
        QueueLimit::Burst
    };
    let node = Node::start(args.system, &args.name, tls.as_ref(), limit).await?;
    node.connect(&args.connect).await?;
    let sink: ActorRef<M> = watch.sink(timeout).await?.into();
    watch.stop().await;
    announce("ready", sink.get_id());
    commands.expect_go().await?;
    let figures = match args.workload {
        Workload::CallLatency => {
            measure::call_latency(&sink, sizes.calls, sizes.warmup_calls).await?
        }
        Workload::CallConcurrent => {
            measure::call_concurrent(
                &sink,
                sizes.concurrent_calls,
                sizes.concurrency,
                sizes.warmup_calls,
            )
            .await?
        }
        Workload::FanIn => {
            let (count, size) = casts_of(&sizes, args.workload)?;
            measure::fan_in_sender(&sink, count, size, args.sender, timeout).await?
        }
        Workload::SendThroughput => {
            let (count, size) = casts_of(&sizes, args.workload)?;
            measure::cast_burst(&sink, count, size, timeout, measure::Sending::Send).await?
        }
        workload => match workload.sessions() {
            Some(n) => session_share(&sink, &sizes, n as u64, args.sender, &mut commands).await?,
            None => {
                let (count, size) = casts_of(&sizes, workload)?;
                measure::cast_burst(&sink, count, size, timeout, measure::Sending::Cast).await?
            }
        },
    };
    figures.announce()?;
    commands.until_exit().await;
    node.stop().await;
    Ok(())
}

/// One of `n` sessions of a sessions workload, as sender `sender` (from
/// 1): casts its share like a `fan_in` sender (announced), then on `calls`
/// makes its share of sequential calls, announces their latencies
/// (`bench:latencies [us, ...]`) and returns when it started and ended.
async fn session_share<M: SinkProtocol>(
    sink: &ActorRef<M>,
    sizes: &Sizes,
    n: u64,
    sender: u64,
    commands: &mut Commands,
) -> Result<Figures> {
    let index = sender.saturating_sub(1);
    let count = measure::share(sizes.session_casts, n, index);
    measure::fan_in_sender(sink, count, sizes.cast_payload, sender, sizes.step_timeout)
        .await?
        .announce()?;
    match commands.next().await.as_deref() {
        Some("calls") => {}
        other => return Err(format!("expected `calls` on stdin, got {other:?}").into()),
    }
    let calls = measure::share(sizes.session_calls, n, index);
    let start = measure::unix_micros();
    let took = measure::call_share(sink, calls).await?;
    let end = measure::unix_micros();
    announce("latencies", serde_json::to_string(&took)?);
    let mut figures = Figures::default();
    figures.set("start_unix_us", start);
    figures.set("end_unix_us", end);
    figures.set("calls", calls as f64);
    Ok(figures)
}

fn casts_of(sizes: &Sizes, workload: Workload) -> Result<(u64, usize)> {
    sizes
        .casts_of(workload)
        .ok_or_else(|| format!("{workload} is not a driver workload").into())
}

/// `connect_time`: each sample is a fresh node that connects and waits until
/// the sink is visible in pg, then stops and waits until it is gone.
async fn connect_time(
    args: &DriverArgs,
    tls: Option<&NodeTls>,
    watch: &PgWatch,
    samples: usize,
    timeout: Duration,
) -> Result<Figures> {
    let mut millis = Vec::with_capacity(samples);
    for i in 0..samples {
        let node = Node::start(
            args.system,
            &format!("{}-{i}", args.name),
            tls,
            QueueLimit::Burst,
        )
        .await?;
        let started = Instant::now();
        node.connect(&args.connect).await?;
        // ractor_grpc's connect returns after the first sync, so the member
        // is already there; looking costs both systems the same.
        watch.sink(timeout).await?;
        millis.push(started.elapsed().as_secs_f64() * 1e3);
        node.stop().await;
        watch.no_sink(timeout).await?;
    }
    let mut figures = Figures::default();
    for (i, ms) in millis.iter().enumerate() {
        figures.set(&format!("sample_{i}_ms"), *ms);
    }
    if millis.is_empty() {
        return Err("connect_time needs at least one sample".into());
    }
    millis.sort_by(f64::total_cmp);
    figures.set("connect_ms", millis[millis.len() / 2]);
    figures.set("connect_ms_min", millis[0]);
    figures.set("connect_ms_max", millis[millis.len() - 1]);
    Ok(figures)
}

/// The advertise workloads: a fresh node connects to a sink advertising `n`
/// actors and waits until every grouped one is visible in pg (a user's
/// first chance to reach them; ractor_grpc's connect returns after the
/// sync, ractor_cluster's once the stream is open). Reports the time, what
/// this process's resident memory grew by and the bytes it received from
/// the sink, and both per advertised actor.
async fn advertise(
    args: &DriverArgs,
    tls: Option<&NodeTls>,
    n: u64,
    timeout: Duration,
) -> Result<Figures> {
    let node = Node::start(args.system, &args.name, tls, QueueLimit::Burst).await?;
    let before = procstat::own_rss_kib()?;
    let started = Instant::now();
    node.connect(&args.connect).await?;
    crate::node::wait_grouped(grouped_of(n), timeout).await?;
    let ready = started.elapsed();
    let rss = (procstat::own_rss_kib()? - before) * 1024.0;
    let read = procstat::tcp_bytes_received(&args.connect)?;
    let mut figures = Figures::default();
    let per = |x: f64| x / n as f64;
    figures.set("ready_ms", ready.as_secs_f64() * 1e3);
    figures.set("rss_growth_mib", rss / f64::from(1 << 20));
    figures.set("rss_bytes_per_actor", per(rss));
    figures.set("bytes_received", read);
    figures.set("bytes_received_per_actor", per(read));
    node.stop().await;
    Ok(figures)
}

/// The ceiling: the cast burst to a sink in this process, plain local ractor.
pub(crate) async fn local(smoke: bool) -> Result<()> {
    let sizes = if smoke { Sizes::SMOKE } else { Sizes::FULL };
    let mut commands = Commands::stdin();
    let (sink, handle) = Actor::spawn(None, Sink::<grpc::SinkMsg>::new(), ()).await?;
    announce("ready", sink.get_id());
    commands.expect_go().await?;
    let (count, size) = casts_of(&sizes, Workload::Ceiling)?;
    measure::cast_burst(
        &sink,
        count,
        size,
        sizes.step_timeout,
        measure::Sending::Cast,
    )
    .await?
    .announce()?;
    commands.until_exit().await;
    sink.stop(None);
    let _ = tokio::time::timeout(Duration::from_secs(5), handle).await;
    Ok(())
}
