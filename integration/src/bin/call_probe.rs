//! Keeps calling an actor through a node's unary `Call` RPC and prints one
//! line per call, so a test can watch a session from outside the processes
//! it attacks.
//!
//! ```text
//! call_probe --addr 127.0.0.1:4001 --node node-b --target-node node-a [--actor pong]
//! ```
//!
//! Asks the node at `--addr` (named `--node`, for the token; the cookie comes
//! from `--cookie` or `RACTOR_GRPC_COOKIE`) to call `Pong(seq)` on the demo
//! actor `--actor` living on `--target-node`: with a peer named there, every
//! call crosses the node's session with that peer. Prints
//! `[probe] calling ACTOR on TARGET through ADDR`, then for each call
//!
//! ```text
//! call SEQ START_UNIX_US LATENCY_US ok
//! call SEQ START_UNIX_US LATENCY_US error CODE MESSAGE
//! ```
//!
//! where `ok` means the reply was `seq + 1`, and `error` names the gRPC status
//! (or `WrongReply`). It stops when its stdin closes (or at `--max-calls`) and
//! prints `[probe] done N calls, M failed`.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use ractor_grpc::{
    Cookie, TokenScope,
    pb::{self, cluster_node_client::ClusterNodeClient},
};
use tokio::io::AsyncReadExt;
use tonic::{Request, metadata::MetadataValue, transport::Endpoint};

#[derive(Debug, Parser)]
struct Args {
    /// The node whose unary Call RPC is used.
    #[arg(long)]
    addr: String,
    /// That node's name (a token works on one node only).
    #[arg(long)]
    node: String,
    /// The cluster cookie, to mint a token.
    #[arg(long, env = "RACTOR_GRPC_COOKIE", hide_env_values = true)]
    cookie: String,
    /// The node the actor lives on.
    #[arg(long)]
    target_node: String,
    /// The demo `pong` actor's name there.
    #[arg(long, default_value = "pong")]
    actor: String,
    /// The pause between calls, in milliseconds.
    #[arg(long, default_value_t = 5)]
    interval_ms: u64,
    /// Each call's deadline (grpc-timeout), in milliseconds.
    #[arg(long, default_value_t = 5000)]
    timeout_ms: u64,
    /// Stop after this many calls (0: only when stdin closes).
    #[arg(long, default_value_t = 0)]
    max_calls: u64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    match run(&args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            println!("[probe] error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn unix_us() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros())
}

async fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let token = ractor_grpc::mint_token(
        &Cookie::from(args.cookie.as_str()),
        &args.node,
        TokenScope::All,
        Duration::from_secs(3600),
    )?;
    let bearer = MetadataValue::try_from(format!("Bearer {token}"))?;
    let channel = Endpoint::from_shared(format!("http://{}", args.addr))?
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await?;
    let mut client = ClusterNodeClient::new(channel);
    let timeout = Duration::from_millis(args.timeout_ms);
    println!(
        "[probe] calling {} on {} through {}",
        args.actor, args.target_node, args.addr
    );

    // The test closes stdin to stop the probe.
    let mut stdin = tokio::io::stdin();
    let mut stop = Box::pin(async move {
        let mut buf = [0u8; 64];
        while stdin.read(&mut buf).await.is_ok_and(|n| n > 0) {}
    });
    let (mut calls, mut failed) = (0u64, 0u64);
    for seq in 1u64.. {
        if args.max_calls > 0 && calls >= args.max_calls {
            break;
        }
        let mut request = Request::new(pb::CallRequest {
            target: Some(pb::ActorSelector {
                actor: Some(pb::actor_selector::Actor::Name(args.actor.clone())),
                node: args.target_node.clone(),
            }),
            variant: "Pong".into(),
            arguments: Some(pb::call_request::Arguments::ArgsJson(format!("[{seq}]"))),
        });
        request.set_timeout(timeout);
        request
            .metadata_mut()
            .insert("authorization", bearer.clone());
        let at = unix_us();
        let started = Instant::now();
        let outcome = client.call(request).await;
        let latency = started.elapsed().as_micros();
        calls += 1;
        let line = match outcome {
            Ok(reply) if reply.get_ref().result_json == (seq + 1).to_string() => {
                format!("call {seq} {at} {latency} ok")
            }
            Ok(reply) => {
                failed += 1;
                let got = &reply.get_ref().result_json;
                format!("call {seq} {at} {latency} error WrongReply {got:?}")
            }
            Err(status) => {
                failed += 1;
                let message = status.message().replace('\n', " ");
                format!(
                    "call {seq} {at} {latency} error {:?} {message}",
                    status.code()
                )
            }
        };
        // Rust's stdout flushes at each newline: the test sees every call.
        println!("{line}");
        tokio::select! {
            () = &mut stop => break,
            () = tokio::time::sleep(Duration::from_millis(args.interval_ms)) => {}
        }
    }
    println!("[probe] done {calls} calls, {failed} failed");
    Ok(())
}
