//! MIGRATING.md's worked example, after the move from ractor_cluster: two
//! nodes in one process; node-b finds node-a's `counter` through pg, casts
//! to it and calls it.
//!
//! ```sh
//! cargo run --example migrating
//! ```

use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use ractor_grpc::{NodeConfig, NodeServer, RactorClusterMessage};

#[derive(RactorClusterMessage)]
enum CounterMsg {
    Add(u64),
    #[rpc]
    Get(RpcReplyPort<u64>),
}

struct Counter;

impl Actor for Counter {
    type Msg = CounterMsg;
    type State = u64;
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<CounterMsg>, (): ()) -> Result<u64, ActorProcessingErr> {
        Ok(0)
    }

    async fn handle(
        &self,
        _: ActorRef<CounterMsg>,
        msg: CounterMsg,
        total: &mut u64,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            CounterMsg::Add(n) => *total += n,
            CounterMsg::Get(reply) => {
                let _ = reply.send(*total);
            }
        }
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Was: NodeServer::new(port, cookie, name, hostname, None, None).
    let a = NodeConfig::new("node-a", "cookie").with_listen_addr("127.0.0.1:0".parse()?);
    let (node_a, handle_a) = Actor::spawn(None, NodeServer::new(a), ()).await?;
    let b = NodeConfig::new("node-b", "cookie").with_listen_addr("127.0.0.1:0".parse()?);
    let (node_b, handle_b) = Actor::spawn(None, NodeServer::new(b), ()).await?;
    // Was: the port given to NodeServer::new; port 0 is read back here.
    let addr_a = ractor_grpc::node_info(&node_a).await?.listen_addr;
    println!("[node-a] listening on {addr_a}");

    let (counter, _) = Actor::spawn(Some("counter".into()), Counter, ()).await?;
    ractor::pg::join("counters".to_owned(), vec![counter.get_cell()]);

    // Was: client_connect(&node_b, addr) and a wait for the pg member to
    // show up. connect returns once the session is synced.
    ractor_grpc::connect(&node_b, addr_a.to_string()).await?;
    let remote: ActorRef<CounterMsg> = ractor::pg::get_members(&"counters".to_owned())
        .into_iter()
        .find(|cell| !cell.get_id().is_local())
        .ok_or("node-a's counter is not in pg on node-b")?
        .into();
    println!(
        "[node-b] found node-a's counter in pg group counters: {}",
        remote.get_id()
    );

    remote.cast(CounterMsg::Add(2))?;
    remote.cast(CounterMsg::Add(40))?;
    // Was: ractor::call_t!(remote, CounterMsg::Get, 5000). That still works;
    // ractor_grpc::call says why a call failed instead of timing out.
    let total = ractor_grpc::call(&remote, CounterMsg::Get, Some(Duration::from_secs(5))).await?;
    println!("[node-b] cast Add(2), Add(40); Get -> {total}");
    if total != 42 {
        return Err(format!("expected 42, got {total}").into());
    }

    counter.stop(None);
    node_b.stop(None);
    node_a.stop(None);
    handle_b.await?;
    handle_a.await?;
    println!("[demo] done");
    Ok(())
}
