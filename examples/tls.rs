//! Two nodes over mutual TLS: a throwaway certificate authority signs a
//! certificate for each node, both require the other's, and node-b casts to
//! and calls an actor on node-a through the encrypted session. A third node
//! without a client certificate is turned away.
//!
//! `cargo run --example tls`

mod common;

use std::time::Duration;

use integration::{BasicActor, MyBasicMessageType, pki::Pki};
use ractor::{Actor, ActorRef};
use ractor_grpc::{ConnectError, TlsConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("[demo] making a certificate authority and a certificate per node (in memory)");
    let ca = Pki::new("example cluster CA")?;
    // Both nodes are dialled as 127.0.0.1, so that is the name their
    // certificates carry.
    let mtls = || -> Result<TlsConfig, Box<dyn std::error::Error>> {
        Ok(ca.tls(&["127.0.0.1"])?.require_client_cert(true))
    };

    // node-a offers `greeter`; node-b offers nothing (one process, one pid
    // registry: say which node advertises what).
    let a = common::start("node-a", |c| {
        c.with_tls(mtls().expect("a certificate"))
            .with_advertise_filter(|cell| cell.get_name().as_deref() == Some("greeter"))
    })
    .await?;
    let b = common::start("node-b", |c| {
        c.with_tls(mtls().expect("a certificate"))
            .with_advertise_filter(|_| false)
    })
    .await?;
    let (greeter, _) = Actor::spawn(Some("greeter".into()), BasicActor::default(), ()).await?;
    println!(
        "[node-a] started actor `greeter`; both nodes serve TLS and require client certificates"
    );

    println!("[node-b] connecting to node-a over mutual TLS");
    ractor_grpc::connect(&b.actor, a.addr.clone()).await?;
    let cell = ractor_grpc::registry::where_is(&b.actor, "node-a", "greeter")
        .await?
        .ok_or("node-a does not advertise greeter")?;
    let remote: ActorRef<MyBasicMessageType> = ActorRef::from(cell);
    for n in 1..=3 {
        println!("[node-b] cast Cast1(\"hello\", {n}) over TLS");
        remote.cast(MyBasicMessageType::Cast1("hello".into(), n))?;
    }
    let reply = ractor_grpc::call(
        &remote,
        |port| MyBasicMessageType::Call1(1, 2, port),
        Some(Duration::from_secs(5)),
    )
    .await?;
    println!("[node-b] call Call1(1, 2) -> {reply:?}");

    let c = common::start("node-c", |c| c.with_advertise_filter(|_| false)).await?;
    println!("[node-c] a plaintext node tries node-a with TLS but no client certificate");
    match ractor_grpc::connect_enc(&c.actor, a.addr.clone(), TlsConfig::client(ca.ca_pem())).await {
        Err(ConnectError::Tls { detail, .. }) => {
            println!("[node-c] refused, as it should be: {detail}")
        }
        other => return Err(format!("node-c should have been refused, got {other:?}").into()),
    }

    greeter.stop(None);
    c.stop().await?;
    b.stop().await?;
    a.stop().await?;
    println!("[demo] done");
    Ok(())
}
