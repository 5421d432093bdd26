//! `ractor-grpc-node`: run, configure and inspect ractor_grpc nodes (see
//! the `ractor_grpc_node` library docs).

use clap::{Parser, Subcommand};
use ractor_grpc_node::{InspectArgs, RunArgs, TokenArgs};

/// Run, configure and inspect ractor_grpc nodes.
///
/// Every node setting is a config file key (snake_case), an environment
/// variable (RACTOR_GRPC_ + the key in upper case) and a flag (--the-key in
/// kebab-case); flags override the environment, which overrides the file.
#[derive(Debug, Parser)]
#[command(name = "ractor-grpc-node", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a node until SIGINT or SIGTERM: prints `[NAME] listening on
    /// ADDR`, then one line per session event; logs to stderr (RUST_LOG,
    /// default info).
    Run(RunArgs),
    /// Print the settings `run` would use, merged from defaults, the config
    /// file, the environment and flags, each with where it came from (as
    /// TOML: the output can serve as a config file). Starts nothing.
    Config(RunArgs),
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
    // `run` logs as its settings say, once they are read.
    if !matches!(cli.command, Command::Run(_)) {
        ractor_grpc_node::init_logging(false);
    }
    let result = match cli.command {
        Command::Run(args) => run(&args).await,
        Command::Config(args) => ractor_grpc_node::config(&args),
        Command::Token(args) => ractor_grpc_node::token(&args),
        Command::Inspect(args) => ractor_grpc_node::inspect::inspect(&args).await,
    };
    ractor_grpc_node::exit_code(result)
}

/// Runs the node the settings describe, logging as they say.
async fn run(args: &RunArgs) -> Result<(), Box<dyn std::error::Error>> {
    let plan = args.merged()?.run_plan()?;
    ractor_grpc_node::init_logging(plan.log_spans);
    ractor_grpc_node::run(plan, &[]).await
}
