//! Two nodes: node-b finds node-a's `pong` actor by name and sends it typed
//! casts and calls across the gRPC session.

mod common;

use std::time::{Duration, Instant};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use ractor_grpc::RactorClusterMessage;

/// What `pong` understands. Any type with a `Wire` encoding can be an
/// argument or a reply: here a `Vec<String>`, which ractor's own derive cannot send.
#[derive(RactorClusterMessage)]
enum PongMsg {
    /// Fire and forget.
    Ping(String, u64),
    /// Ask and wait.
    #[rpc]
    Pong(u64, RpcReplyPort<u64>),
    #[rpc]
    History(RpcReplyPort<Vec<String>>),
}

struct Pong;

impl Actor for Pong {
    type Msg = PongMsg;
    type State = Vec<String>;
    type Arguments = ();

    async fn pre_start(
        &self,
        _: ActorRef<PongMsg>,
        (): (),
    ) -> Result<Vec<String>, ActorProcessingErr> {
        Ok(Vec::new())
    }

    async fn handle(
        &self,
        _: ActorRef<PongMsg>,
        msg: PongMsg,
        history: &mut Vec<String>,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            PongMsg::Ping(from, n) => {
                println!("[node-a] pong got Ping({from:?}, {n}) as a cast");
                history.push(format!("ping {n} from {from}"));
            }
            PongMsg::Pong(n, reply) => {
                println!("[node-a] pong got Pong({n}) as a call; replying {}", n + 1);
                let _ = reply.send(n + 1);
            }
            PongMsg::History(reply) => {
                let _ = reply.send(history.clone());
            }
        }
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // One process plays both nodes and ractor's registries are process-wide,
    // so say which node offers `pong`: node-a does, node-b offers nothing.
    let a = common::start("node-a", |c| {
        c.with_advertise_filter(|cell| cell.get_name().as_deref() == Some("pong"))
    })
    .await?;
    let b = common::start("node-b", |c| c.with_advertise_filter(|_| false)).await?;
    let (pong, _) = Actor::spawn(Some("pong".into()), Pong, ()).await?;
    println!("[node-a] started actor `pong`");

    ractor_grpc::connect(&b.actor, a.addr.clone()).await?;
    let cell = ractor_grpc::registry::where_is(&b.actor, "node-a", "pong")
        .await?
        .ok_or("node-a does not advertise pong")?;
    let remote: ActorRef<PongMsg> = ActorRef::from(cell);
    println!("[node-b] found `pong` on node-a as {}", remote.get_id());

    for n in 1..=3 {
        println!("[node-b] cast Ping(\"node-b\", {n})");
        remote.cast(PongMsg::Ping("node-b".into(), n))?;
    }
    for n in [10, 20] {
        let started = Instant::now();
        let answer = ractor_grpc::call(
            &remote,
            |reply| PongMsg::Pong(n, reply),
            Some(Duration::from_secs(5)),
        )
        .await?;
        println!(
            "[node-b] call Pong({n}) -> {answer} in {:?}",
            started.elapsed()
        );
    }
    let history =
        ractor_grpc::call(&remote, PongMsg::History, Some(Duration::from_secs(5))).await?;
    println!("[node-b] pong's history: {history:?}");

    pong.stop(None);
    b.stop().await?;
    a.stop().await?;
    println!("[demo] done");
    Ok(())
}
