//! The unary RPCs need a bearer token for the node (or a client
//! certificate); Session, reflection and health need none. Each refusal is
//! UNAUTHENTICATED with a message that says why.

mod common;

use common::unary::{
    assert_refused, bearer, client, hand_minted, introspect, token_for, unix_now,
    with_authorization,
};
use ractor_grpc::{TokenScope, pb};
use tokio_stream::StreamExt;
use tonic::{Code, Request, transport::Channel};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};
use tonic_reflection::pb::{v1, v1alpha};

use common::{COOKIE, Event, WAIT, pair, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_token_answers_every_introspection_rpc() {
    let mut a = start("node-a").await;
    let mut c = client(&a.addr).await;
    for scope in [TokenScope::Inspect, TokenScope::All] {
        let t = token_for("node-a", scope);
        let info = c
            .get_node_info(bearer(pb::GetNodeInfoRequest {}, &t))
            .await
            .expect("GetNodeInfo")
            .into_inner();
        assert_eq!(info.name, "node-a");
        for (rpc, answer) in introspect(&mut c, Some(&format!("Bearer {t}"))).await {
            assert!(answer.is_ok(), "{rpc} with scope {scope}: {answer:?}");
        }
    }
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_without_a_token_is_unauthenticated() {
    let mut a = start("node-a").await;
    let mut c = client(&a.addr).await;
    let says = "missing authorization metadata: send 'authorization: Bearer <token>' (mint one with `node token`)";
    for (rpc, answer) in introspect(&mut c, None).await {
        // An answer panics naming the RPC.
        assert_refused(answer.map(|()| rpc), Code::Unauthenticated, says);
    }
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_unauthenticated() {
    let mut a = start("node-a").await;
    let mut c = client(&a.addr).await;
    let expired = hand_minted(COOKIE, "node-a", "inspect", unix_now() - 10);
    assert_refused(
        c.get_node_info(bearer(pb::GetNodeInfoRequest {}, &expired))
            .await,
        Code::Unauthenticated,
        "token expired at ",
    );
    // The same recipe with a future expiry works: only the time is wrong.
    let fresh = hand_minted(COOKIE, "node-a", "inspect", unix_now() + 60);
    c.get_node_info(bearer(pb::GetNodeInfoRequest {}, &fresh))
        .await
        .expect("a fresh hand-minted token");
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_token_is_unauthenticated() {
    let mut a = start("node-a").await;
    let mut c = client(&a.addr).await;
    let says = "token signature does not verify (wrong cookie?)";
    // Minted with another cookie.
    let other_cookie = hand_minted("not-the-cookie", "node-a", "inspect", unix_now() + 60);
    assert_refused(
        c.list_peers(bearer(pb::ListPeersRequest {}, &other_cookie))
            .await,
        Code::Unauthenticated,
        says,
    );
    // A genuine inspect token with its scope raised to all.
    let genuine = token_for("node-a", TokenScope::Inspect);
    let raised = genuine.replacen(".inspect.", ".all.", 1);
    assert_refused(
        c.list_peers(bearer(pb::ListPeersRequest {}, &raised)).await,
        Code::Unauthenticated,
        says,
    );
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_for_another_node_is_unauthenticated() {
    // Same cluster, same cookie: node-b's token is genuine, but not for node-a.
    let (mut a, mut b) = pair().await;
    let for_b = token_for("node-b", TokenScope::All);
    let mut to_a = client(&a.addr).await;
    assert_refused(
        to_a.get_node_info(bearer(pb::GetNodeInfoRequest {}, &for_b))
            .await,
        Code::Unauthenticated,
        r#"token was minted for node "node-b", this is node "node-a""#,
    );
    let mut to_b = client(&b.addr).await;
    to_b.get_node_info(bearer(pb::GetNodeInfoRequest {}, &for_b))
        .await
        .expect("node-b takes its own token");
    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_authorization_says_what_is_wrong() {
    let mut a = start("node-a").await;
    let mut c = client(&a.addr).await;
    let token = token_for("node-a", TokenScope::Inspect);
    let cases = [
        (
            token.clone(),
            "authorization metadata is not 'Bearer <token>'",
        ),
        (
            format!("Basic {token}"),
            "authorization metadata is not 'Bearer <token>'",
        ),
        (
            "Bearer rgt1.bm9kZS1h.inspect".to_owned(),
            "malformed token: 3 dot-separated pieces",
        ),
        (
            format!("Bearer {}", "x".repeat(4096)),
            "longer than any token",
        ),
    ];
    for (value, says) in cases {
        let request = with_authorization(pb::GetNodeInfoRequest {}, &value);
        assert_refused(c.get_node_info(request).await, Code::Unauthenticated, says);
    }
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mint_token_follows_the_documented_recipe() {
    let minted = token_for("node-a", TokenScope::Inspect);
    let expiry: u64 = minted
        .split('.')
        .nth(3)
        .and_then(|e| e.parse().ok())
        .expect("an expiry");
    assert_eq!(minted, hand_minted(COOKIE, "node-a", "inspect", expiry));
}

async fn channel(addr: &str) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_and_health_answer_without_a_token() {
    let mut a = start("node-a").await;
    let ch = channel(&a.addr).await;

    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut stream = v1::server_reflection_client::ServerReflectionClient::new(ch.clone())
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection v1 without a token")
        .into_inner();
    let answer = stream
        .next()
        .await
        .expect("an answer")
        .expect("not an error");
    let Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        answer.message_response
    else {
        panic!("not a service list: {answer:?}");
    };
    assert!(
        list.service
            .iter()
            .any(|s| s.name == pb::CLUSTER_NODE_SERVICE),
        "{list:?}"
    );

    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            v1alpha::server_reflection_request::MessageRequest::ListServices(String::new()),
        ),
    };
    let mut stream = v1alpha::server_reflection_client::ServerReflectionClient::new(ch.clone())
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection v1alpha without a token")
        .into_inner();
    assert!(stream.next().await.expect("an answer").is_ok());

    let mut health = HealthClient::new(ch);
    for service in ["", pb::CLUSTER_NODE_SERVICE] {
        let status = health
            .check(Request::new(HealthCheckRequest {
                service: service.to_owned(),
            }))
            .await
            .expect("health without a token")
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "{service:?}");
    }
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_need_no_token() {
    // `pair` connects node-b to node-a over a Session stream, no token
    // sent, and returns once node-b is ready.
    let (mut a, mut b) = pair().await;
    let b_ready = b.sessions().await.iter().any(|s| {
        s.state == ractor_grpc::SessionState::Ready && s.peer_name.as_deref() == Some("node-a")
    });
    assert!(b_ready, "{:?}", b.sessions().await);
    a.wait_for(
        WAIT,
        |e| matches!(e, Event::Ready(_, peer) if peer == "node-b"),
    )
    .await;
    b.stop().await;
    a.stop().await;
}
