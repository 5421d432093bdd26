//! One side of the example across a process boundary.
//!
//! `example_pair serve --name a` runs a node with a `BasicActor` in pg
//! group example/basic and prints `[a] listening on ADDR`. `example_pair use
//! --name b --connect ADDR` connects, finds the actor through pg, casts and
//! calls it (also past a timeout), prints what came back, and exits 0.

use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use integration::{BasicActor, EXAMPLE_GROUP, EXAMPLE_SCOPE, MyBasicMessageType, STEP_TIMEOUT};
use ractor::{Actor, ActorRef, rpc::CallResult};
use ractor_grpc::{NodeConfig, NodeServer};

#[derive(Debug, Parser)]
struct Args {
    #[command(subcommand)]
    role: Role,
}

#[derive(Debug, Subcommand)]
enum Role {
    /// Run a node that hosts the example actor until stopped.
    Serve {
        #[arg(long)]
        name: String,
        #[arg(long, env = "RACTOR_GRPC_COOKIE", default_value = "example-cookie")]
        cookie: String,
    },
    /// Connect to a serving node, cast and call its example actor, exit.
    Use {
        #[arg(long)]
        name: String,
        #[arg(long, env = "RACTOR_GRPC_COOKIE", default_value = "example-cookie")]
        cookie: String,
        #[arg(long)]
        connect: String,
    },
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    match Args::parse().role {
        Role::Serve { name, cookie } => serve(&name, cookie).await,
        Role::Use {
            name,
            cookie,
            connect,
        } => use_it(&name, cookie, &connect).await,
    }
}

async fn serve(name: &str, cookie: String) -> Result<(), Box<dyn std::error::Error>> {
    let (actor, _) = Actor::spawn(Some("example".into()), BasicActor::default(), ()).await?;
    ractor::pg::join_scoped(
        EXAMPLE_SCOPE.into(),
        EXAMPLE_GROUP.into(),
        vec![actor.get_cell()],
    );
    let (node, handle) =
        Actor::spawn(None, NodeServer::new(NodeConfig::new(name, cookie)), ()).await?;
    let addr = ractor_grpc::node_info(&node).await?.listen_addr;
    println!("[{name}] listening on {addr}");
    tokio::signal::ctrl_c().await?;
    node.stop(None);
    handle.await?;
    Ok(())
}

async fn use_it(name: &str, cookie: String, addr: &str) -> Result<(), Box<dyn std::error::Error>> {
    let (node, handle) =
        Actor::spawn(None, NodeServer::new(NodeConfig::new(name, cookie)), ()).await?;
    let session = ractor_grpc::connect(&node, addr).await?;
    println!(
        "[{name}] connected to {}",
        session.peer_name.unwrap_or_default()
    );
    // The peer's pg members arrive with the first sync, before connect returns.
    let members =
        ractor::pg::get_scoped_members(&EXAMPLE_SCOPE.to_owned(), &EXAMPLE_GROUP.to_owned());
    let cell = members
        .into_iter()
        .find(|c| !c.get_id().is_local())
        .ok_or("no remote member in example/basic")?;
    let remote: ActorRef<MyBasicMessageType> = ActorRef::from(cell);
    println!("[{name}] found {} in pg example/basic", remote.get_id());
    remote.cast(MyBasicMessageType::Cast1("hello".into(), 1))?;
    remote.cast(MyBasicMessageType::Cast1("world".into(), 2))?;
    let started = Instant::now();
    let reply = ractor_grpc::call(
        &remote,
        |p| MyBasicMessageType::Call1(7, -3, p),
        Some(STEP_TIMEOUT),
    )
    .await?;
    println!(
        "[{name}] Call1(7, -3) replied {reply:?} in {:?}",
        started.elapsed()
    );
    let seen = ractor_grpc::call(&remote, MyBasicMessageType::Seen, Some(STEP_TIMEOUT)).await?;
    println!("[{name}] the remote actor saw casts {seen:?}");
    // A callee slower than the caller's timeout: the call says Timeout, both
    // through ractor_grpc::call and through ractor's own call.
    let short = Duration::from_millis(200);
    let mut ours = Vec::new();
    let mut ractors = Vec::new();
    for _ in 0..5 {
        let got = ractor_grpc::call(&remote, |p| MyBasicMessageType::Slow(1500, p), Some(short));
        ours.push(match got.await {
            Ok(v) => format!("replied {v}"),
            Err(e) => format!("{:?}", e.kind()),
        });
        let got = remote.call(|p| MyBasicMessageType::Slow(1500, p), Some(short));
        ractors.push(match got.await? {
            CallResult::Success(v) => format!("replied {v}"),
            CallResult::Timeout => "Timeout".to_owned(),
            CallResult::SenderError => "SenderError".to_owned(),
        });
    }
    println!(
        "[{name}] Slow(1500) under a 200 ms timeout: ractor_grpc::call {}; ActorRef::call {}",
        ours.join(" "),
        ractors.join(" ")
    );
    node.stop(None);
    handle.await?;
    Ok(())
}
