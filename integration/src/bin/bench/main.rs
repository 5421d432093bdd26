//! Side-by-side benchmark of ractor_grpc and ractor_cluster 0.16.5 (issue 5).
//!
//! ```sh
//! cargo run --release -p integration --bin bench -- [--runs N] [--smoke] \
//!     [--only WORKLOAD,...] [--system grpc|cluster|both]
//! ```
//!
//! Each (system, workload, run) runs in fresh processes on 127.0.0.1: this
//! binary starts itself again in a hidden role (`sink`, `driver`, `local`,
//! `floor-server`, `floor-client`), reads the child's `bench:` lines on its
//! stdout and steers it through stdin. Just before a child is told to exit,
//! its peak RSS (VmHWM: the peak of this one workload, since processes are
//! fresh) and CPU time (utime + stime over the child's life, node start and
//! connect included) are read from `/proc`. Progress goes to stderr,
//! the table (median [min..max] over the runs, and the ratio
//! ractor_grpc / ractor_cluster) to stdout. Any failed workload makes the
//! exit status non-zero.
//!
//! Workloads (`--only` takes these names; `payload` means all three sizes):
//! - `cast_throughput`: 200,000 casts of `Data(seq, 32 bytes)`, timed from
//!   the first cast until `TakeStats` calls confirm all arrived, in order.
//! - `send_throughput` (ractor_grpc only): the same burst sent with
//!   `ractor_grpc::send`, which waits while the session holds a quarter of
//!   its queue limit (so the sender holds no backlog of boxed messages).
//! - `call_latency`: 20,000 sequential `Echo` calls (5 s timeout) after 200
//!   unmeasured ones; p50/p90/p99 from an HDR histogram, calls/s.
//! - `call_concurrent`: 64 callers share 20,000 `Echo` calls.
//! - `connect_time`: 5 fresh nodes in one driver process each connect and
//!   wait until the sink is visible in pg (looked up again on every pg
//!   change, through a pg monitor: spinning would steal one of the two
//!   cores from the handshake being timed); the run's figure is their median.
//! - `payload_1k`, `payload_64k`, `payload_1m`: 200,000, 5,000 and 500 casts
//!   (about 200, 320 and 500 MiB; 0.3-1.2 s each on the 2-core machine),
//!   timed like `cast_throughput`; MB/s (10^6 bytes/s of payload).
//! - `fan_in`: three driver processes cast 100,000 each to one sink; the
//!   aggregate msgs/s spans the first start to the last sender's `Echo`
//!   behind its casts; the sink then confirms every cast arrived in order.
//! - `cast_throughput_tls`, `call_latency_tls` (`tls` means both): the
//!   `cast_throughput` and `call_latency` loops between nodes that serve and
//!   dial mutual TLS (client certificates required). The orchestrator makes
//!   a CA and the certificates at run time, hands the children the path of
//!   a private temporary directory holding them, and removes it at the end.
//! - `ceiling`: `cast_throughput` to a sink in the same process (local
//!   ractor, no transport).
//! - `floor`: 20,000 sequential round trips of one `Frame` over a bare tonic
//!   `ClusterNode/Session` stream whose server echoes every frame.
//! - `advertise_1k`, `advertise_10k`, `advertise_100k` (`advertise`): a fresh
//!   node connects to a sink advertising that many idle actors, 1 in 100 in
//!   a pg group of its own, until every grouped one is visible in pg: time,
//!   RSS growth and bytes received per advertised actor.
//! - `pg_join_1`, `pg_join_7` (`pg_join`): 1 or 7 peer processes connect to
//!   one node; 30 times a fresh actor there joins a new pg group and each
//!   peer notes when it first sees the member (a pg monitor on the default
//!   scope, Unix time, one machine's clock). Per join: the time until the
//!   first and until the last peer saw it; the table shows their medians.
//! - `mesh_4`, `mesh_8` (`mesh`): that many processes in transitive mode;
//!   all but the first dial the first at once, and each waits until every
//!   other node's member is visible in pg. Time from the first dial to the
//!   last node's full view, and the processes' peak RSS summed.
//! - `sessions_1`, `sessions_8`, `sessions_64` (`sessions`): one driver
//!   process runs that many nodes, each with its own session to the sink;
//!   200,000 casts shared over them (each session's share in order, an
//!   `Echo` behind it), then 20,000 sequential `Echo` calls shared over
//!   them, one caller per session.
//!
//! `--smoke` runs everything once with tiny sizes (2,000 casts, 200 calls).
//! `--chart PATH` also draws the ratios as an SVG chart. On a terminal a
//! progress bar counts the steps.

use std::{path::PathBuf, process::ExitCode, time::Duration};

use clap::{Parser, Subcommand};

mod chart;
mod child;
mod floor;
mod measure;
mod msg;
mod node;
mod orchestrate;
mod proc;
mod procstat;
mod report;
mod roles;
mod scale;
mod sink;
mod tls;
mod workload;

use node::System;
use workload::Workload;

/// Errors of the bench: reported, never matched on.
type Error = Box<dyn std::error::Error + Send + Sync>;
/// See [`Error`].
type Result<T> = std::result::Result<T, Error>;

/// Side-by-side benchmark of ractor_grpc and ractor_cluster.
#[derive(Debug, Parser)]
#[command(name = "bench")]
struct Cli {
    /// Runs per workload and system (the table shows the median).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
    runs: u64,
    /// Tiny sizes and one run: checks that everything works.
    #[arg(long)]
    smoke: bool,
    /// Comma-separated workloads (default: all): cast_throughput,
    /// send_throughput, call_latency, call_concurrent, connect_time, payload_1k, payload_64k,
    /// payload_1m (or payload for all three), fan_in, cast_throughput_tls,
    /// call_latency_tls (or tls for both), ceiling, floor, advertise_1k,
    /// advertise_10k, advertise_100k (or advertise for all three),
    /// pg_join_1, pg_join_7 (or pg_join), mesh_4, mesh_8 (or mesh),
    /// sessions_1, sessions_8, sessions_64 (or sessions); scale names the
    /// advertise, pg_join, mesh and sessions workloads.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Which systems to run.
    #[arg(long, value_enum, default_value_t = SystemChoice::Both)]
    system: SystemChoice,
    /// Also draw the side-by-side ratios as an SVG chart at this path.
    #[arg(long, value_name = "PATH")]
    chart: Option<PathBuf>,
    #[command(subcommand)]
    role: Option<Role>,
}

/// `--system` of the orchestrator.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum SystemChoice {
    Grpc,
    Cluster,
    Both,
}

/// The child roles; the orchestrator starts them, people do not.
#[derive(Debug, Subcommand)]
enum Role {
    /// The sink node.
    #[command(hide = true)]
    Sink {
        #[arg(long)]
        system: System,
        #[arg(long, default_value = "bench-a")]
        name: String,
        /// The orchestrator's certificate directory: serve mutual TLS.
        #[arg(long)]
        tls: Option<PathBuf>,
        /// Idle actors to spawn and advertise first.
        #[arg(long, default_value_t = 0)]
        advertise: u64,
    },
    /// A driver node.
    #[command(hide = true)]
    Driver(roles::DriverArgs),
    /// A node of the pg_join and mesh workloads.
    #[command(hide = true)]
    Peer {
        #[arg(long)]
        system: System,
        #[arg(long)]
        name: String,
        /// Transitive connection mode (else isolated).
        #[arg(long)]
        transitive: bool,
        #[arg(long)]
        smoke: bool,
    },
    /// The in-process ceiling.
    #[command(hide = true)]
    Local {
        #[arg(long)]
        smoke: bool,
    },
    /// The tonic echo server of the floor.
    #[command(hide = true, name = "floor-server")]
    FloorServer,
    /// The tonic ping-pong client of the floor.
    #[command(hide = true, name = "floor-client")]
    FloorClient {
        #[arg(long)]
        connect: String,
        #[arg(long)]
        smoke: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("[bench] cannot start tokio: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = match cli.role {
        Some(role) => {
            let done = runtime.block_on(child_role(role));
            match done {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    child::announce("error", &e);
                    eprintln!("[bench child] {e}");
                    ExitCode::FAILURE
                }
            }
        }
        None => runtime.block_on(orchestrator(cli)),
    };
    // Stdin is read on a blocking thread that may still be parked in a read.
    runtime.shutdown_timeout(Duration::from_secs(1));
    code
}

async fn child_role(role: Role) -> Result<()> {
    match role {
        Role::Sink {
            system,
            name,
            tls,
            advertise,
        } => roles::sink(system, &name, tls.as_deref(), advertise).await,
        Role::Driver(args) => roles::driver(args).await,
        Role::Peer {
            system,
            name,
            transitive,
            smoke,
        } => {
            let mode = if transitive {
                node::Mode::Transitive
            } else {
                node::Mode::Isolated
            };
            let sizes = if smoke {
                workload::Sizes::SMOKE
            } else {
                workload::Sizes::FULL
            };
            scale::peer(system, &name, mode, sizes.step_timeout).await
        }
        Role::Local { smoke } => roles::local(smoke).await,
        Role::FloorServer => floor::server().await,
        Role::FloorClient { connect, smoke } => floor::client(&connect, smoke).await,
    }
}

async fn orchestrator(cli: Cli) -> ExitCode {
    let mut workloads = Vec::new();
    for name in &cli.only {
        match Workload::parse_many(name.trim()) {
            Some(found) => workloads.extend(found),
            None => {
                let known: Vec<&str> = Workload::ALL.iter().map(|w| w.name()).collect();
                eprintln!(
                    "[bench] unknown workload {name:?}; known: payload, tls, advertise, pg_join, mesh, sessions, scale, {}",
                    known.join(", ")
                );
                return ExitCode::FAILURE;
            }
        }
    }
    if workloads.is_empty() {
        workloads = Workload::ALL.to_vec();
    }
    // Run in the canonical order, each once.
    workloads = Workload::ALL
        .into_iter()
        .filter(|w| workloads.contains(w))
        .collect();
    let systems = match cli.system {
        SystemChoice::Grpc => vec![System::Grpc],
        SystemChoice::Cluster => vec![System::Cluster],
        SystemChoice::Both => vec![System::Grpc, System::Cluster],
    };
    let plan = orchestrate::Plan {
        runs: if cli.smoke { 1 } else { cli.runs as usize },
        smoke: cli.smoke,
        workloads,
        systems,
    };
    let (results, mut failures) = orchestrate::run(&plan).await;
    print!("{}", report::table(&results));
    if let Some(path) = &cli.chart {
        match chart::write_svg(&results, path) {
            Ok(()) => eprintln!("[bench] chart written to {}", path.display()),
            Err(e) => failures.push(format!("writing the chart to {}: {e}", path.display())),
        }
    }
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!("[bench] {} step(s) failed:", failures.len());
        for failure in &failures {
            eprintln!("[bench]   {failure}");
        }
        ExitCode::FAILURE
    }
}
