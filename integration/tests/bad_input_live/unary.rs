//! Unary RPCs without a valid token, in bulk.

use std::time::{Duration, Instant};

use ractor_grpc::pb;
use tonic::{Code, Request};

use super::{COOKIE, Tally, count, futures_join};
use crate::common::{
    NodeProcess,
    wire::{self, outcome},
};

/// Unary RPCs without a token (GetNodeInfo `n` times, 32 at a time over one
/// connection), then with a forged token and with a token for another
/// node, and Cast and Call without a token: all UNAUTHENTICATED.
pub(super) async fn unary_flood(a: &NodeProcess, n: usize) -> Tally {
    let channel = wire::channel(&a.addr).await;
    let forged = "Bearer rgt1.bm9kZS1h.all.4102444800.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let for_b = ractor_grpc::mint_token(
        &ractor_grpc::Cookie::from(COOKIE),
        "node-b",
        ractor_grpc::TokenScope::All,
        Duration::from_secs(60),
    )
    .expect("token");
    let for_b = format!("Bearer {for_b}");
    let mut jobs: Vec<(&'static str, Option<String>)> = vec![("no token", None); n];
    jobs.extend(std::iter::repeat_n(
        ("forged token", Some(forged.to_owned())),
        100,
    ));
    jobs.extend(std::iter::repeat_n(("node-b's token", Some(for_b)), 100));
    let mut tally = Tally::new();
    let started = Instant::now();
    for batch in jobs.chunks(32) {
        let calls = batch.iter().cloned().map(|(kind, auth)| {
            let mut client = pb::cluster_node_client::ClusterNodeClient::new(channel.clone());
            async move {
                let mut request = Request::new(pb::GetNodeInfoRequest {});
                if let Some(auth) = auth {
                    request
                        .metadata_mut()
                        .insert("authorization", auth.parse().expect("ASCII"));
                }
                let got = client.get_node_info(request).await;
                (kind, got.map(drop))
            }
        });
        for (kind, got) in futures_join(calls).await {
            let status = got
                .err()
                .unwrap_or_else(|| panic!("{kind}: GetNodeInfo answered"));
            assert_eq!(status.code(), Code::Unauthenticated, "{kind}: {status:?}");
            count(
                &mut tally,
                format!("GetNodeInfo, {kind}: {}", outcome(&status)),
            );
        }
    }
    let took = started.elapsed();
    let mut client = pb::cluster_node_client::ClusterNodeClient::new(channel);
    let cast = client.cast(pb::CastRequest::default()).await.map(drop);
    let call = client.call(pb::CallRequest::default()).await.map(drop);
    for (kind, got) in [("Cast", cast), ("Call", call)] {
        let status = got.err().unwrap_or_else(|| panic!("{kind} answered"));
        assert_eq!(status.code(), Code::Unauthenticated, "{kind}: {status:?}");
        count(
            &mut tally,
            format!("{kind}, no token: {}", outcome(&status)),
        );
    }
    let refusals: usize = tally.values().sum();
    count(
        &mut tally,
        format!("{refusals} refusals in {} ms", took.as_millis()),
    );
    tally
}
