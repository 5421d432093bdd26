//! The node CLI (`ractor_grpc_node`: `run`'s settings, `token`, `inspect`)
//! as the multi-process tests and the README run it, plus test-only flags:
//! `--join GROUP` starts an example actor in that pg group, and
//! `--cast-delay-us` makes it a slow consumer.
//!
//! ```text
//! node --name node-a --cookie secret --listen 127.0.0.1:4000 --demo-actors
//! node --name node-b --cookie secret --connect 127.0.0.1:4000 --join workers
//! node token --cookie secret --name node-a [--scope inspect|all] [--ttl-secs 3600]
//! node inspect 127.0.0.1:4000 peers|actors|groups|info --cookie secret --name node-a
//! ```
//!
//! Without a subcommand it runs a node exactly as `ractor-grpc-node run`
//! does (every setting from `--config`, `RACTOR_GRPC_*` or flags).

use std::time::Duration;

use clap::{Parser, Subcommand};
use integration::BasicActor;
use ractor::{Actor, ActorRef};
use ractor_grpc_node::{InspectArgs, RunArgs, TokenArgs};

/// One ractor_grpc node. Without a subcommand, runs it.
#[derive(Debug, Parser)]
#[command(version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
    /// Start an example actor (`MyBasicMessageType`) named `GROUP@NAME` in
    /// this pg group, so peers see a member there (repeatable).
    #[arg(long = "join", value_name = "GROUP")]
    join: Vec<String>,
    /// How long each `--join` actor takes over a `Cast1`, in microseconds
    /// (a slow consumer; 0: no time).
    #[arg(long, value_name = "MICROSECONDS", default_value_t = 0)]
    cast_delay_us: u64,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Mint a bearer token for a node's unary RPCs (GetNodeInfo, ListPeers,
    /// ...); prints it alone on stdout.
    Token(TokenArgs),
    /// Ask a running node (plaintext) for its peers, advertised actors, pg
    /// groups or info; prints a table.
    Inspect(InspectArgs),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // A node logs as its settings say, once they are read.
    if cli.command.is_some() {
        ractor_grpc_node::init_logging(false);
    }
    let result = match &cli.command {
        Some(Command::Token(args)) => ractor_grpc_node::token(args),
        Some(Command::Inspect(args)) => ractor_grpc_node::inspect::inspect(args).await,
        None => run(&cli).await,
    };
    ractor_grpc_node::exit_code(result)
}

/// Runs the node with the `--join` actors, stopping them after it.
async fn run(cli: &Cli) -> Result<(), Box<dyn std::error::Error>> {
    let plan = cli.run.merged()?.run_plan()?;
    ractor_grpc_node::init_logging(plan.log_spans);
    let name = plan.config.name().to_owned();
    let mut members: Vec<ActorRef<_>> = Vec::new();
    let mut announce = Vec::new();
    for group in &cli.join {
        let member = format!("{group}@{name}");
        let basic = BasicActor {
            cast_delay: Duration::from_micros(cli.cast_delay_us),
            ..BasicActor::default()
        };
        let (actor, _) = Actor::spawn(Some(member.clone()), basic, ()).await?;
        ractor::pg::join(group.clone(), vec![actor.get_cell()]);
        members.push(actor);
        announce.push(format!("[{name}] started {member} in pg group {group}"));
    }
    let result = ractor_grpc_node::run(plan, &announce).await;
    for member in members {
        member.stop(None);
    }
    result
}
