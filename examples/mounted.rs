//! A node mounted in an application's own server: an axum app serves its
//! own `GET /hello` and the node's gRPC services (ClusterNode, reflection,
//! health) on one port, every request passing through the app's own
//! middleware. A second node dials that port and calls the app's actor.
//!
//! ```sh
//! cargo run --example mounted
//! ```
//!
//! With tonic's `Server` instead of axum it is the same services:
//! `Server::builder().layer(...).add_routes(services).add_service(mine)`.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{Router, extract::Request, middleware::Next, response::Response, routing::get};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use ractor_grpc::{NodeConfig, NodeServer, RactorClusterMessage};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

#[derive(RactorClusterMessage)]
enum GreeterMsg {
    #[rpc]
    Greet(String, RpcReplyPort<String>),
}

struct Greeter;

impl Actor for Greeter {
    type Msg = GreeterMsg;
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<GreeterMsg>, (): ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle(
        &self,
        _: ActorRef<GreeterMsg>,
        msg: GreeterMsg,
        (): &mut (),
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            GreeterMsg::Greet(who, reply) => {
                let _ = reply.send(format!("hello, {who}, from the app's node"));
            }
        }
        Ok(())
    }
}

/// The app's middleware: notes the path of every request it serves.
#[derive(Clone, Default)]
struct RequestLog(Arc<Mutex<Vec<String>>>);

impl RequestLog {
    fn paths(&self) -> Vec<String> {
        self.0.lock().map(|p| p.clone()).unwrap_or_default()
    }
}

/// `GET /hello` over plain HTTP/1.1, as any HTTP client would.
async fn get_hello(addr: SocketAddr) -> std::io::Result<String> {
    let mut tcp = TcpStream::connect(addr).await?;
    tcp.write_all(b"GET /hello HTTP/1.1\r\nhost: app\r\nconnection: close\r\n\r\n")
        .await?;
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await?;
    Ok(answer.lines().last().unwrap_or_default().to_owned())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The application binds its port; the node is told that is where it
    // is served (peers are told to dial it) and binds nothing itself.
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let config = NodeConfig::new("app", "cookie").with_listen_addr(addr);
    let (node, node_handle) = Actor::spawn(None, NodeServer::mounted(config), ()).await?;
    let (greeter, _) = Actor::spawn(Some("greeter".into()), Greeter, ()).await?;
    ractor::pg::join("greeters".to_owned(), vec![greeter.get_cell()]);

    // The app's router: its own route, the node's services, its middleware.
    let log = RequestLog::default();
    let noted = log.clone();
    let services = ractor_grpc::services(&node).await?;
    let app = Router::new()
        .route("/hello", get(|| async { "hello from the app's own route" }))
        .merge(services.into_axum_router())
        .layer(axum::middleware::from_fn(
            move |request: Request, next: Next| {
                let noted = noted.clone();
                async move {
                    if let Ok(mut paths) = noted.0.lock() {
                        paths.push(request.uri().path().to_owned());
                    }
                    let response: Response = next.run(request).await;
                    response
                }
            },
        ));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    println!(
        "[app] serving its own GET /hello and node app's ClusterNode, reflection and health on {addr}"
    );

    let answer = get_hello(addr).await?;
    println!("[client] GET /hello -> {answer:?}");

    // A second node, of its own, dials the app's port.
    let peer_config = NodeConfig::new("peer", "cookie").with_listen_addr("127.0.0.1:0".parse()?);
    let (peer, peer_handle) = Actor::spawn(None, NodeServer::new(peer_config), ()).await?;
    let session = ractor_grpc::connect(&peer, addr.to_string()).await?;
    println!(
        "[peer] connected to {} at {addr}",
        session.peer_name.as_deref().unwrap_or("?")
    );
    let remote = ractor::pg::get_members(&"greeters".to_owned())
        .into_iter()
        .find(|cell| !cell.get_id().is_local())
        .ok_or("the app's greeter is not in pg on the peer")?;
    let remote: ActorRef<GreeterMsg> = remote.into();
    let reply = ractor_grpc::call(
        &remote,
        |port| GreeterMsg::Greet("peer".into(), port),
        Some(Duration::from_secs(5)),
    )
    .await?;
    println!("[peer] called the app's greeter -> {reply:?}");

    let paths = log.paths();
    println!("[app] its middleware saw: {}", paths.join(", "));
    let session_seen = paths
        .iter()
        .any(|p| p == "/ractor_grpc.v1.ClusterNode/Session");
    if answer != "hello from the app's own route" || !session_seen {
        return Err("the app's route or its middleware did not see what it should".into());
    }

    peer.stop(None);
    node.stop(None);
    peer_handle.await?;
    node_handle.await?;
    greeter.stop(None);
    server.abort();
    println!("[app] stopped the node; done");
    Ok(())
}
