//! Three nodes in one process on loopback: they connect, prove a shared
//! cookie, list each other, and see one of them leave.

mod common;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut a = common::start("node-a", |c| c).await?;
    let b = common::start("node-b", |c| c).await?;
    let mut c = common::start("node-c", |c| c).await?;

    for (from, to) in [(&a, &b), (&c, &a), (&c, &b)] {
        println!("[{}] connecting to {} at {}", from.name, to.name, to.addr);
        let session = ractor_grpc::connect(&from.actor, to.addr.clone()).await?;
        println!(
            "[{}] connected to {} (session {})",
            from.name,
            session.peer_name.as_deref().unwrap_or("?"),
            session.id
        );
    }

    for node in [&a, &b, &c] {
        node.print_peers().await?;
    }

    b.stop().await?;
    a.disconnected_from("node-b").await?;
    c.disconnected_from("node-b").await?;
    a.print_peers().await?;
    c.print_peers().await?;

    a.stop().await?;
    c.stop().await?;
    println!("[demo] all nodes stopped; done");
    Ok(())
}
