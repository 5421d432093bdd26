//! Rust code calling a Python actor: the other half of the Python reference
//! node's test (`examples/python/`).
//!
//! ```text
//! pg_call --name rust-caller --cookie secret [--group greeters] [--wait-ms 20000]
//! ```
//!
//! Starts a node, prints `[NAME] listening on ADDR`, and waits (at most
//! `--wait-ms`) until a node dials it and the pg group `--group` (default
//! scope) has a remote member: the Python `greeter`. It then talks to it
//! through a typed `ActorRef<GreeterMsg>`, as to any remote actor, and prints
//! one line per step:
//!
//! ```text
//! [rust-caller] found a member of pg group greeters: <id>
//! [rust-caller] cast Note("from rust")
//! [rust-caller] Greet("rust", 2) -> "hello rust, hello rust"
//! [rust-caller] Sum([1, 2, 3, -10]) -> -4
//! [rust-caller] Lookup(b) -> Some(2)
//! [rust-caller] Notes() -> ["from rust"]
//! [rust-caller] Greet("", 1) failed: Dropped: ...
//! [rust-caller] done
//! ```
//!
//! With `--late-actor` it then shows the peer a change after sync: it starts
//! the demo `pong` actor named `late` in pg group `late`, waits until `late`
//! has received a cast (`Ping`), stops it, and waits for the peer to end the
//! session:
//!
//! ```text
//! [rust-caller] started late in pg group late
//! [rust-caller] late got ["ping 1 from py-node"]
//! [rust-caller] stopped late
//! [rust-caller] the peer left
//! ```
//!
//! Exits 0 when every step ran (the last call is meant to fail: the Python
//! handler raises), 1 otherwise (each wait is bounded by `--wait-ms`).

use std::{collections::BTreeMap, time::Duration};

use clap::Parser;
use integration::{
    demo::{Pong, PongMsg},
    greeter::{GREETER_GROUP, GreeterMsg},
};
use ractor::{Actor, ActorRef};
use ractor_grpc::{NodeConfig, NodeServer, NodeServerMessage};

#[derive(Debug, Parser)]
struct Args {
    /// The node name.
    #[arg(long, default_value = "rust-caller")]
    name: String,
    /// The cluster cookie.
    #[arg(long, env = "RACTOR_GRPC_COOKIE", hide_env_values = true)]
    cookie: String,
    /// Where to accept sessions.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: std::net::SocketAddr,
    /// The pg group (default scope) to find the Python actor in.
    #[arg(long, default_value = GREETER_GROUP)]
    group: String,
    /// How long to wait for a member of the group, in milliseconds.
    #[arg(long, default_value_t = 20_000)]
    wait_ms: u64,
    /// The timeout of each call, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    timeout_ms: u64,
    /// After the calls, advertise an actor `late` in pg group `late`, wait
    /// for a cast to it, stop it, and wait for the peer to leave.
    #[arg(long)]
    late_actor: bool,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    match run(&args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            println!("[{}] error: {e}", args.name);
            std::process::ExitCode::FAILURE
        }
    }
}

/// The first remote member of `group`, waiting for one at most `within`.
async fn remote_member(group: &str, within: Duration) -> Option<ractor::ActorCell> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let members = ractor::pg::get_members(&group.to_owned());
        if let Some(cell) = members.into_iter().find(|c| !c.get_id().is_local()) {
            return Some(cell);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let name = &args.name;
    let config = NodeConfig::new(name.clone(), args.cookie.clone()).with_listen_addr(args.listen);
    let (node, handle) = Actor::spawn(None, NodeServer::new(config), ()).await?;
    let addr = ractor_grpc::node_info(&node).await?.listen_addr;
    println!("[{name}] listening on {addr}");

    let mut outcome = talk(args).await;
    if outcome.is_ok() && args.late_actor {
        outcome = late_actor(args, &node).await;
    }
    node.stop(None);
    handle.await?;
    outcome?;
    println!("[{name}] done");
    Ok(())
}

async fn talk(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let name = &args.name;
    let timeout = Some(Duration::from_millis(args.timeout_ms));
    let cell = remote_member(&args.group, Duration::from_millis(args.wait_ms))
        .await
        .ok_or_else(|| {
            format!(
                "no remote member of pg group {} within {} ms",
                args.group, args.wait_ms
            )
        })?;
    println!(
        "[{name}] found a member of pg group {}: {}",
        args.group,
        cell.get_id()
    );
    let greeter: ActorRef<GreeterMsg> = ActorRef::from(cell);

    greeter.cast(GreeterMsg::Note("from rust".into()))?;
    println!("[{name}] cast Note(\"from rust\")");

    let greeting = ractor_grpc::call(
        &greeter,
        |r| GreeterMsg::Greet("rust".into(), 2, r),
        timeout,
    )
    .await?;
    println!("[{name}] Greet(\"rust\", 2) -> {greeting:?}");

    let numbers = vec![1, 2, 3, -10];
    let sum = ractor_grpc::call(&greeter, |r| GreeterMsg::Sum(numbers.clone(), r), timeout).await?;
    println!("[{name}] Sum({numbers:?}) -> {sum}");

    let table = BTreeMap::from([("a".to_owned(), 1), ("b".to_owned(), 2)]);
    let found = ractor_grpc::call(
        &greeter,
        |reply| GreeterMsg::Lookup {
            table,
            key: "b".into(),
            reply,
        },
        timeout,
    )
    .await?;
    println!("[{name}] Lookup(b) -> {found:?}");

    let notes = ractor_grpc::call(&greeter, GreeterMsg::Notes, timeout).await?;
    println!("[{name}] Notes() -> {notes:?}");

    // The Python handler raises for an empty name: the call fails, visibly.
    match ractor_grpc::call(
        &greeter,
        |r| GreeterMsg::Greet(String::new(), 1, r),
        timeout,
    )
    .await
    {
        Ok(reply) => {
            return Err(format!("Greet(\"\", 1) replied {reply:?}; expected a failure").into());
        }
        Err(e) => println!("[{name}] Greet(\"\", 1) failed: {:?}: {e}", e.kind()),
    }
    Ok(())
}

/// Polls `check` every 20 ms until it holds, at most `within`.
async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A change after sync: `late` joins pg group `late` (the peer gets
/// ActorSpawned and PgJoined), takes a cast, and stops (ActorTerminated).
async fn late_actor(
    args: &Args,
    node: &ActorRef<NodeServerMessage>,
) -> Result<(), Box<dyn std::error::Error>> {
    let name = &args.name;
    let within = Duration::from_millis(args.wait_ms);
    let label = format!("[{name}]");
    let (late, handle) = Actor::spawn(Some("late".into()), Pong { label }, ()).await?;
    ractor::pg::join("late".to_owned(), vec![late.get_cell()]);
    println!("[{name}] started late in pg group late");
    let got_cast = eventually(within, || async {
        ractor_grpc::call(&late, PongMsg::History, None)
            .await
            .is_ok_and(|history| !history.is_empty())
    })
    .await;
    if !got_cast {
        return Err(format!("late got no cast within {} ms", args.wait_ms).into());
    }
    let seen = ractor_grpc::call(&late, PongMsg::History, None).await?;
    println!("[{name}] late got {seen:?}");
    late.stop(None);
    handle.await?;
    println!("[{name}] stopped late");
    let left = eventually(within, || async {
        ractor_grpc::list_sessions(node)
            .await
            .is_ok_and(|s| s.is_empty())
    })
    .await;
    if !left {
        return Err(format!("the peer did not leave within {} ms", args.wait_ms).into());
    }
    println!("[{name}] the peer left");
    Ok(())
}
