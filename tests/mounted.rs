//! A mounted node: its services served by the application's own tonic
//! server, under the application's tower layer, on the application's
//! listener.

mod common;

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use common::{
    CALL_TIMEOUT, COOKIE, WAIT, actors,
    actors::MyBasicMessageType,
    advertising, eventually, proxy, start, start_with,
    unary::{bearer, client, token_for},
};
use integration::pki::Pki;
use ractor::Actor;
use ractor_grpc::{ConnectError, NodeConfig, NodeServer, TokenScope, pb};
use tokio::{net::TcpListener, sync::oneshot};
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, transport::Server};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

/// The paths of the requests the application's layer saw.
type Seen = Arc<Mutex<Vec<String>>>;

/// Serves `routes` on `listener` the way an application would: its own
/// server (`server`), with a tower layer that notes each request's path.
/// Stops when the sender is dropped or fired.
fn serve(
    server: Server,
    routes: tonic::service::Routes,
    listener: TcpListener,
    seen: Seen,
) -> oneshot::Sender<()> {
    let (stop, stopped) = oneshot::channel::<()>();
    let layer = tower::util::MapRequestLayer::new(move |req: http::Request<tonic::body::Body>| {
        seen.lock().expect("seen").push(req.uri().path().to_owned());
        req
    });
    let server = server
        .layer(layer)
        .add_routes(routes)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async {
            let _ = stopped.await;
        });
    tokio::spawn(server);
    stop
}

async fn health(addr: SocketAddr) -> i32 {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("health connect");
    let mut health = HealthClient::new(channel);
    health
        .check(Request::new(HealthCheckRequest {
            service: pb::CLUSTER_NODE_SERVICE.to_owned(),
        }))
        .await
        .expect("health check")
        .into_inner()
        .status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mounted_node_works_behind_the_applications_server_and_layers() {
    let (actor, _probe) = actors::spawn_basic("a-mounted").await;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let config = advertising(
        NodeConfig::new("node-a", COOKIE).with_listen_addr(addr),
        "a",
    );
    let (a, a_handle) = Actor::spawn(None, NodeServer::mounted(config), ())
        .await
        .expect("mounted node starts");
    // The node told peers the application's address, bound by nobody but
    // the application.
    let info = ractor_grpc::node_info(&a).await.expect("info");
    assert_eq!(info.listen_addr, addr);

    let seen = Seen::default();
    let routes = ractor_grpc::services(&a).await.expect("services");
    let _server = serve(Server::builder(), routes, listener, seen.clone());

    // A peer dials the application's address and calls the node's actor.
    let mut b = start("node-b").await;
    let session = ractor_grpc::connect(&b.actor, addr.to_string())
        .await
        .expect("connect to the mounted node");
    assert_eq!(session.peer_name.as_deref(), Some("node-a"));
    let remote = proxy::<MyBasicMessageType>(&b, "node-a", "a-mounted").await;
    let stats = ractor_grpc::call(&remote, MyBasicMessageType::Stats, Some(CALL_TIMEOUT)).await;
    assert_eq!(stats, Ok((0, true)));

    // The Session stream went through the application's layer.
    let paths = seen.lock().expect("seen").clone();
    assert!(
        paths
            .iter()
            .any(|p| p == "/ractor_grpc.v1.ClusterNode/Session"),
        "{paths:?}"
    );

    // Unary introspection, behind its token, and health, open.
    let token = token_for("node-a", TokenScope::Inspect);
    let peers = client(&addr.to_string())
        .await
        .list_peers(bearer(pb::ListPeersRequest {}, &token))
        .await
        .expect("ListPeers through the application's server")
        .into_inner()
        .peers;
    assert!(peers.iter().any(|p| p.name == "node-b"), "{peers:?}");
    assert_eq!(health(addr).await, ServingStatus::Serving as i32);

    // The node stops; the application's server goes on and says so.
    a.stop(None);
    a_handle.await.expect("node-a stopped");
    assert_eq!(health(addr).await, ServingStatus::NotServing as i32);
    let gone = eventually(WAIT, || async {
        ractor_grpc::list_sessions(&b.actor)
            .await
            .is_ok_and(|s| s.is_empty())
    })
    .await;
    assert!(gone, "node-b still has a session with the stopped node");
    let refused = tokio::time::timeout(WAIT, ractor_grpc::connect(&b.actor, addr.to_string()))
        .await
        .expect("a dial to the stopped node ends");
    let error = refused.expect_err("the stopped node takes no session");
    assert!(error.to_string().contains("stop"), "{error}");
    b.stop().await;
    actor.stop(None);
}

#[tokio::test]
async fn a_mounted_node_needs_the_address_it_is_served_on() {
    let config = NodeConfig::new("nowhere", COOKIE);
    let started = Actor::spawn(None, NodeServer::mounted(config), ()).await;
    let error = started.expect_err("no port, no advertise address");
    assert!(error.to_string().contains("with_listen_addr"), "{error}");
    // An advertise address is enough.
    let config = NodeConfig::new("somewhere", COOKIE).with_advertise_addr("10.0.0.7:7000");
    let (node, handle) = Actor::spawn(None, NodeServer::mounted(config), ())
        .await
        .expect("mounted with an advertise address");
    let info = ractor_grpc::node_info(&node).await.expect("info");
    assert_eq!(info.advertise_addr, "10.0.0.7:7000");
    node.stop(None);
    handle.await.expect("stopped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mounted_node_served_with_its_own_settings_speaks_tls() {
    let pki = Pki::new("mounted test CA").expect("a CA");
    let tls = || pki.tls(&["127.0.0.1", "localhost"]).expect("a certificate");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let config = NodeConfig::new("node-a", COOKIE)
        .with_listen_addr(addr)
        .with_tls(tls());
    // The application's server, with the node's HTTP/2 settings and TLS.
    let server = config.tonic_server().expect("the node's server settings");
    let (a, a_handle) = Actor::spawn(None, NodeServer::mounted(config), ())
        .await
        .expect("mounted node starts");
    let routes = ractor_grpc::services(&a).await.expect("services");
    let seen = Seen::default();
    let _server = serve(server, routes, listener, seen.clone());

    let mut b = start_with(NodeConfig::new("node-b", COOKIE).with_tls(tls())).await;
    let session = ractor_grpc::connect(&b.actor, addr.to_string())
        .await
        .expect("a TLS session with the mounted node");
    assert_eq!(session.peer_name.as_deref(), Some("node-a"));
    // A plaintext dial to the same port is told the node speaks TLS.
    let mut c = start("node-c").await;
    let plaintext = ractor_grpc::connect(&c.actor, addr.to_string()).await;
    assert!(
        matches!(&plaintext, Err(ConnectError::Tls { detail, .. }) if detail.contains("speaks TLS")),
        "{plaintext:?}"
    );
    c.stop().await;
    b.stop().await;
    a.stop(None);
    a_handle.await.expect("node-a stopped");
}
