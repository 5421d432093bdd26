//! TLS and mutual TLS between nodes on loopback: sessions, casts and calls
//! over TLS, and each way a TLS handshake can fail, with its typed error
//! before the handshake deadline.

mod common;

use std::time::{Duration, Instant};

use common::{
    CALL_TIMEOUT, COOKIE, TestNode, WAIT,
    actors::{self, MyBasicMessageType},
    advertising, eventually, full_mesh, proxy, start_with,
};
use integration::pki::Pki;
use ractor::ActorRef;
use ractor_grpc::{
    ConnectError, ConnectionMode, NodeConfig, TlsConfig,
    pb::{self, cluster_node_client::ClusterNodeClient},
};
use tonic::{
    Code,
    transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity},
};

/// The handshake deadline of these nodes; every failure must come before it.
const HANDSHAKE: Duration = Duration::from_secs(3);

fn pki() -> Pki {
    Pki::new("test cluster CA").expect("a CA")
}

/// A node named `name`, advertising actors named `<prefix>-...`, over TLS
/// when `tls` is given.
async fn node(name: &str, prefix: &str, tls: Option<TlsConfig>) -> TestNode {
    node_in(name, prefix, tls, ConnectionMode::Isolated).await
}

async fn node_in(
    name: &str,
    prefix: &str,
    tls: Option<TlsConfig>,
    mode: ConnectionMode,
) -> TestNode {
    let mut config = advertising(
        NodeConfig::new(name, COOKIE)
            .with_mode(mode)
            .with_handshake_timeout(HANDSHAKE),
        prefix,
    );
    if let Some(tls) = tls {
        config = config.with_tls(tls);
    }
    start_with(config).await
}

/// A node certificate for the loopback address nodes are dialled on.
fn loopback(pki: &Pki) -> TlsConfig {
    pki.tls(&["127.0.0.1", "localhost"]).expect("a certificate")
}

/// `connect` from `from` to `to` must fail with a TLS error before the
/// handshake deadline; returns what it said.
async fn tls_refused(from: &TestNode, to: &TestNode) -> String {
    tls_refused_with(from, to, None).await
}

/// As [`tls_refused`], dialling with `tls` instead of `from`'s settings if
/// given ([`ractor_grpc::connect_enc`]).
async fn tls_refused_with(from: &TestNode, to: &TestNode, tls: Option<TlsConfig>) -> String {
    let started = Instant::now();
    let result = match tls {
        Some(tls) => ractor_grpc::connect_enc(&from.actor, to.addr.clone(), tls).await,
        None => ractor_grpc::connect(&from.actor, to.addr.clone()).await,
    };
    let err = result.expect_err("the TLS handshake must fail");
    assert!(
        started.elapsed() < HANDSHAKE,
        "took {:?}: {err}",
        started.elapsed()
    );
    assert!(to.sessions().await.is_empty(), "{} kept a session", to.name);
    match err {
        ConnectError::Tls { detail, .. } => detail,
        other => panic!("expected ConnectError::Tls, got {other:?}"),
    }
}

/// Casts three times and calls once through `remote`; the actor saw the
/// casts in order and the call answered.
async fn cast_and_call(remote: &ActorRef<MyBasicMessageType>) {
    for n in 1..=3 {
        remote
            .cast(MyBasicMessageType::Cast1("over tls".into(), n))
            .expect("cast");
    }
    let reply = ractor::call_t!(
        remote,
        MyBasicMessageType::Call1,
        CALL_TIMEOUT.as_millis() as u64,
        7,
        -7
    )
    .expect("call over TLS");
    assert_eq!(reply, vec!["got 7", "and -7", "after 3 casts"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_sessions_carry_casts_and_calls() {
    let pki = pki();
    let (_actor, _probe) = actors::spawn_basic("a-tls").await;
    let a = node("node-a", "a", Some(loopback(&pki))).await;
    let b = node("node-b", "b", Some(loopback(&pki))).await;
    let session = ractor_grpc::connect(&b.actor, a.addr.clone())
        .await
        .expect("connect over TLS");
    assert_eq!(session.peer_name.as_deref(), Some("node-a"));
    cast_and_call(&proxy(&b, "node-a", "a-tls").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_sessions_carry_casts_and_calls() {
    let pki = pki();
    let (_actor, _probe) = actors::spawn_basic("a-mtls").await;
    let a = node(
        "node-a",
        "a",
        Some(loopback(&pki).require_client_cert(true)),
    )
    .await;
    let b = node(
        "node-b",
        "b",
        Some(loopback(&pki).require_client_cert(true)),
    )
    .await;
    ractor_grpc::connect(&b.actor, a.addr.clone())
        .await
        .expect("connect over mutual TLS");
    cast_and_call(&proxy(&b, "node-a", "a-mtls").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_certificate_from_another_ca_is_refused() {
    let a = node("node-a", "a", Some(loopback(&pki()))).await;
    let b = node("node-b", "b", Some(loopback(&pki()))).await;
    let detail = tls_refused(&b, &a).await;
    assert!(detail.to_lowercase().contains("certificate"), "{detail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_server_certificate_is_refused() {
    let pki = pki();
    let expired = pki.issue_expired(&["127.0.0.1"]).expect("a certificate");
    let tls = TlsConfig::new(expired.cert_pem, expired.key_pem, pki.ca_pem());
    let a = node("node-a", "a", Some(tls)).await;
    let b = node("node-b", "b", Some(loopback(&pki))).await;
    let detail = tls_refused(&b, &a).await;
    assert!(detail.to_lowercase().contains("expired"), "{detail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_for_another_name_is_refused() {
    let pki = pki();
    let a = node(
        "node-a",
        "a",
        Some(pki.tls(&["elsewhere.example"]).expect("a certificate")),
    )
    .await;
    let b = node("node-b", "b", Some(loopback(&pki))).await;
    let detail = tls_refused(&b, &a).await;
    assert!(detail.to_lowercase().contains("name"), "{detail}");

    // Told which name to expect, the same certificate is accepted.
    let b2 = node(
        "node-b2",
        "b2",
        Some(loopback(&pki).with_server_name("elsewhere.example")),
    )
    .await;
    ractor_grpc::connect(&b2.actor, a.addr.clone())
        .await
        .expect("the configured server name matches");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_refuses_a_dialer_without_a_client_certificate() {
    let pki = pki();
    let a = node(
        "node-a",
        "a",
        Some(loopback(&pki).require_client_cert(true)),
    )
    .await;
    let b = node("node-b", "b", None).await;
    let detail = tls_refused_with(&b, &a, Some(TlsConfig::client(pki.ca_pem()))).await;
    assert!(detail.contains("client certificate"), "{detail}");

    // A client certificate from another CA is refused the same way, though
    // the dialer trusts the server.
    let foreign = Pki::new("another CA")
        .expect("a CA")
        .issue(&["127.0.0.1"])
        .expect("a certificate");
    let tls = TlsConfig::new(foreign.cert_pem, foreign.key_pem, pki.ca_pem());
    let detail = tls_refused_with(&b, &a, Some(tls)).await;
    assert!(detail.contains("client certificate"), "{detail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_dialer_and_a_plaintext_server_do_not_meet() {
    let pki = pki();
    let a = node("node-a", "a", None).await;
    let b = node("node-b", "b", Some(loopback(&pki))).await;
    let detail = tls_refused(&b, &a).await;
    assert!(detail.contains("corrupt message"), "{detail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plaintext_dialer_and_a_tls_server_do_not_meet() {
    let pki = pki();
    let a = node("node-a", "a", Some(loopback(&pki))).await;
    let b = node("node-b", "b", None).await;
    let detail = tls_refused(&b, &a).await;
    assert!(detail.contains("the peer speaks TLS"), "{detail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plaintext_node_reaches_a_tls_node_with_connect_enc() {
    let pki = pki();
    let (_actor, _probe) = actors::spawn_basic("a-enc").await;
    let a = node("node-a", "a", Some(loopback(&pki))).await;
    let b = node("node-b", "b", None).await;
    ractor_grpc::connect_enc(&b.actor, a.addr.clone(), TlsConfig::client(pki.ca_pem()))
        .await
        .expect("connect_enc");
    cast_and_call(&proxy(&b, "node-a", "a-enc").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transitive_mesh_forms_over_tls() {
    let pki = pki();
    let tls = || Some(loopback(&pki).require_client_cert(true));
    let a = node_in("node-a", "a", tls(), ConnectionMode::Transitive).await;
    let b = node_in("node-b", "b", tls(), ConnectionMode::Transitive).await;
    let c = node_in("node-c", "c", tls(), ConnectionMode::Transitive).await;
    ractor_grpc::connect(&b.actor, a.addr.clone())
        .await
        .expect("b to a");
    ractor_grpc::connect(&c.actor, a.addr.clone())
        .await
        .expect("c to a");
    // b and c meet only through a's introduction, and only over mutual TLS:
    // a plaintext dial would be refused by the server.
    let nodes = [&a, &b, &c];
    assert!(
        eventually(WAIT, || full_mesh(&nodes)).await,
        "b and c never met: {:?}",
        b.sessions().await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_unusable_tls_settings_does_not_start() {
    let pki = pki();
    let start = |tls: TlsConfig| async move {
        let config = NodeConfig::new("node-a", COOKIE).with_tls(tls);
        ractor::Actor::spawn(None, ractor_grpc::NodeServer::new(config), ())
            .await
            .map(|(actor, _)| actor.stop(None))
            .expect_err("must not start")
            .to_string()
    };
    let garbage = start(TlsConfig::new(
        "not a certificate",
        "not a key",
        pki.ca_pem(),
    ))
    .await;
    assert!(
        garbage.contains("TLS certificate or key cannot be used"),
        "{garbage}"
    );
    let no_certificate = start(TlsConfig::client(pki.ca_pem())).await;
    assert!(
        no_certificate.contains("certificate and key"),
        "{no_certificate}"
    );
}

/// A `ClusterNode` client of `node` over TLS that trusts `pki`, presenting
/// the client certificate `identity` if given.
async fn tls_client(
    node: &TestNode,
    pki: &Pki,
    identity: Option<&integration::pki::Issued>,
) -> ClusterNodeClient<Channel> {
    let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pki.ca_pem()));
    if let Some(issued) = identity {
        tls = tls.identity(Identity::from_pem(&issued.cert_pem, &issued.key_pem));
    }
    let channel = Endpoint::from_shared(format!("https://{}", node.addr))
        .expect("a URI")
        .tls_config(tls)
        .expect("TLS settings")
        .connect()
        .await
        .expect("a TLS connection");
    ClusterNodeClient::new(channel)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verified_client_certificate_stands_in_for_a_token() {
    let pki = pki();
    // Client certificates optional: one that is presented is verified.
    let a = node("node-a", "a", Some(loopback(&pki))).await;
    let operator = pki.issue(&["operator"]).expect("a certificate");

    let mut with_cert = tls_client(&a, &pki, Some(&operator)).await;
    let peers = with_cert.list_peers(pb::ListPeersRequest {}).await;
    assert!(peers.is_ok(), "{peers:?}");
    let info = with_cert
        .get_node_info(pb::GetNodeInfoRequest {})
        .await
        .expect("GetNodeInfo with a client certificate");
    assert_eq!(info.into_inner().name, "node-a");

    // TLS alone is not enough: without a certificate a token is needed.
    let mut without = tls_client(&a, &pki, None).await;
    let status = without
        .list_peers(pb::ListPeersRequest {})
        .await
        .expect_err("no certificate, no token");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert!(
        status.message().contains("client certificate"),
        "{status:?}"
    );
}
