//! Unary `ClusterNode` calls for tests: a client, `authorization` metadata,
//! and tokens minted by hand from the recipe in `cluster.proto` (nothing of
//! the library's own minting), so a test also checks that recipe.

use std::{
    fmt::Debug,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use ractor_grpc::{
    Cookie, TokenScope,
    pb::{self, cluster_node_client::ClusterNodeClient},
};
use sha2::Sha256;
use tonic::{Code, Request, Status, metadata::MetadataValue, transport::Channel};

use super::COOKIE;

/// A `ClusterNode` client of the node at `addr` ("127.0.0.1:port").
pub async fn client(addr: &str) -> ClusterNodeClient<Channel> {
    ClusterNodeClient::connect(format!("http://{addr}"))
        .await
        .expect("grpc connect")
}

/// Calls GetNodeInfo, ListPeers, ListActors and ListGroups with
/// `authorization: <value>` metadata (none if `None`); each RPC's name and
/// whether it answered.
pub async fn introspect(
    client: &mut ClusterNodeClient<Channel>,
    authorization: Option<&str>,
) -> Vec<(&'static str, Result<(), Status>)> {
    fn request<T>(message: T, authorization: Option<&str>) -> Request<T> {
        match authorization {
            Some(value) => with_authorization(message, value),
            None => Request::new(message),
        }
    }
    let a = authorization;
    let node_info = client
        .get_node_info(request(pb::GetNodeInfoRequest {}, a))
        .await;
    let peers = client.list_peers(request(pb::ListPeersRequest {}, a)).await;
    let actors = client
        .list_actors(request(pb::ListActorsRequest {}, a))
        .await;
    let groups = client
        .list_groups(request(pb::ListGroupsRequest {}, a))
        .await;
    vec![
        ("GetNodeInfo", node_info.map(drop)),
        ("ListPeers", peers.map(drop)),
        ("ListActors", actors.map(drop)),
        ("ListGroups", groups.map(drop)),
    ]
}

/// `message` with `authorization: <value>` metadata.
pub fn with_authorization<T>(message: T, value: &str) -> Request<T> {
    let mut request = Request::new(message);
    let value = MetadataValue::try_from(value).expect("an ASCII metadata value");
    request.metadata_mut().insert("authorization", value);
    request
}

/// `message` with `authorization: Bearer <token>`.
pub fn bearer<T>(message: T, token: &str) -> Request<T> {
    with_authorization(message, &format!("Bearer {token}"))
}

/// A token for node `node` of the test cluster, from the library.
pub fn token_for(node: &str, scope: TokenScope) -> String {
    ractor_grpc::mint_token(&Cookie::from(COOKIE), node, scope, Duration::from_secs(60))
        .expect("minted")
}

/// Seconds since 1970.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// `u32be(length) || bytes`.
fn lp(out: &mut Vec<u8>, s: &[u8]) {
    let len = u32::try_from(s.len()).expect("short");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s);
}

/// A token minted by hand, as `cluster.proto` describes next to the unary
/// RPCs: `rgt1.<b64(name)>.<scope>.<expiry>.<b64(mac)>`.
pub fn hand_minted(cookie: &str, node: &str, scope: &str, expiry: u64) -> String {
    let mut msg = b"ractor_grpc/v1 unary token".to_vec();
    lp(&mut msg, node.as_bytes());
    lp(&mut msg, scope.as_bytes());
    msg.extend_from_slice(&expiry.to_be_bytes());
    let mut mac = Hmac::<Sha256>::new_from_slice(cookie.as_bytes()).expect("any key length");
    mac.update(&msg);
    let mac = mac.finalize().into_bytes();
    format!(
        "rgt1.{}.{scope}.{expiry}.{}",
        URL_SAFE_NO_PAD.encode(node),
        URL_SAFE_NO_PAD.encode(mac)
    )
}

/// Asserts `result` is a refusal with `code` whose message contains `says`.
pub fn assert_refused<T: Debug>(result: Result<T, Status>, code: Code, says: &str) {
    match result {
        Err(status) => {
            assert_eq!(status.code(), code, "{status:?}");
            assert!(
                status.message().contains(says),
                "the message should say {says:?}: {:?}",
                status.message()
            );
        }
        Ok(answer) => panic!("expected {code:?} ({says}), got an answer: {answer:?}"),
    }
}
