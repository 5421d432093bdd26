//! The ractor_grpc node CLI, `ractor-grpc-node`: runs a node from a config
//! file, environment variables and flags, shows the settings it would run
//! with, mints tokens for a node's unary RPCs, and prints a live node's
//! introspection RPCs as tables. Install it with `cargo install --path cli`.
//!
//! ```text
//! ractor-grpc-node run --config node.toml
//! RACTOR_GRPC_NAME=node-b RACTOR_GRPC_COOKIE=secret ractor-grpc-node run --connect 127.0.0.1:4000
//! ractor-grpc-node config --config node.toml --heartbeat-timeout 20s
//! ractor-grpc-node token --name node-a --cookie-file cookie [--scope inspect|all] [--ttl-secs 3600]
//! ractor-grpc-node inspect 127.0.0.1:4000 peers|actors|groups|info --name node-a --cookie-file cookie
//! ```
//!
//! Every setting has one name in three places ([`settings`]): the config
//! file key `heartbeat_timeout`, the environment variable
//! `RACTOR_GRPC_HEARTBEAT_TIMEOUT`, the flag `--heartbeat-timeout`; the
//! precedence is default < file < env < flag, and `config` prints the
//! merged settings with where each value came from.
//!
//! `run` prints `[NAME] listening on ADDR` first on stdout, then one line
//! per session event; it logs to stderr (`RUST_LOG`, default `info`) and
//! stops on SIGINT or SIGTERM. `token` prints the token alone on stdout.
//! `inspect` asks over plaintext gRPC with a token it is given or mints.
//!
//! The library holds the pieces the binary is made of, so the integration
//! crate's test `node` binary reuses them instead of repeating them.

pub mod demo;
pub mod inspect;
pub mod settings;
pub mod table;

mod args;
mod run;

pub use args::{InspectArgs, Listing, NodeArgs, RunArgs, TokenArgs};
pub use run::run;

use std::{error::Error, time::Duration};

use ractor_grpc::Cookie;
use tracing_subscriber::{EnvFilter, fmt::format::FmtSpan};

/// Logs to stderr at the level `RUST_LOG` sets (default `info`), in color
/// on a terminal; with `spans`, a line too as each span closes (its fields
/// and busy time).
pub fn init_logging(spans: bool) {
    let span_events = if spans { FmtSpan::CLOSE } else { FmtSpan::NONE };
    tracing_subscriber::fmt()
        .with_span_events(span_events)
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// Prints a token for the node `args` names: alone on stdout, what it
/// allows on stderr.
///
/// # Errors
/// No name or cookie, or a TTL out of range.
pub fn token(args: &TokenArgs) -> Result<(), Box<dyn Error>> {
    let (name, cookie) = args.node.name_and_cookie()?;
    let ttl = Duration::from_secs(args.ttl_secs);
    let token = ractor_grpc::mint_token(&Cookie::from(cookie), &name, args.scope, ttl)?;
    eprintln!(
        "[token] for node {name}, scope {}, valid {} s",
        args.scope, args.ttl_secs
    );
    println!("{token}");
    Ok(())
}

/// Prints the effective settings `args` make (see
/// [`Merged::to_annotated_toml`](settings::Merged::to_annotated_toml)).
///
/// # Errors
/// The file, a variable or a flag cannot be read.
pub fn config(args: &RunArgs) -> Result<(), Box<dyn Error>> {
    print!("{}", args.merged()?.to_annotated_toml());
    Ok(())
}

/// The exit code for a command's result, printing the error (one line) to
/// stderr.
pub fn exit_code(result: Result<(), Box<dyn Error>>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
