//! Actors describe themselves: ListActors names each actor's message type,
//! DescribeActor (by pid or by name) gives every variant's arguments and
//! reply as type expressions, over gRPC as a client in another language
//! would ask, and through the Rust API.

mod common;

use common::{
    actors,
    unary::{bearer, client, token_for},
};
use ractor_grpc::{ActorTarget, ConnectionMode, TokenScope, pb};
use tonic::Code;

/// One variant as text: `name(arg: type, ...) -> reply`.
fn variant(v: &pb::VariantDescription) -> String {
    let args: Vec<String> = v
        .args
        .iter()
        .map(|a| {
            if a.name.is_empty() {
                a.r#type.clone()
            } else {
                format!("{}: {}", a.name, a.r#type)
            }
        })
        .collect();
    let reply = if v.call {
        format!(" -> {}", v.reply)
    } else {
        String::new()
    };
    format!("{}({}){reply}", v.name, args.join(", "))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_actor_gives_every_variant_by_name_and_by_pid() {
    let (actor, _probe) = actors::spawn_basic("d-described").await;
    let node = common::node("node-d", "d", ConnectionMode::Isolated).await;
    let token = token_for("node-d", TokenScope::Inspect);
    let mut grpc = client(&node.addr).await;

    let listed = grpc
        .list_actors(bearer(pb::ListActorsRequest {}, &token))
        .await
        .expect("ListActors")
        .into_inner()
        .actors;
    let entry = listed
        .iter()
        .find(|a| a.name == "d-described")
        .unwrap_or_else(|| panic!("not listed: {listed:?}"));
    assert_eq!(entry.message_type, "MyBasicMessageType");

    let by_name = grpc
        .describe_actor(bearer(
            pb::DescribeActorRequest {
                target: Some(pb::describe_actor_request::Target::Name(
                    "d-described".into(),
                )),
                node: String::new(),
            },
            &token,
        ))
        .await
        .expect("DescribeActor by name")
        .into_inner();
    let message = by_name.message.clone().expect("the type describes itself");
    assert_eq!(message.type_name, "MyBasicMessageType");
    let variants: Vec<String> = message.variants.iter().map(variant).collect();
    assert_eq!(variants[0], "Cast1(string, u64)");
    assert_eq!(variants[1], "Call1(u8, i64) -> list<string>");
    assert!(
        variants.contains(&"Slow(u64) -> u64".to_owned()),
        "{variants:?}"
    );
    assert!(
        variants.contains(&"Stats() -> tuple<u64,bool>".to_owned()),
        "{variants:?}"
    );

    let pid = by_name.actor.as_ref().expect("the actor").pid;
    assert_eq!(pid, actor.get_id().pid());
    let by_pid = grpc
        .describe_actor(bearer(
            pb::DescribeActorRequest {
                target: Some(pb::describe_actor_request::Target::Pid(pid)),
                // This node's own name means this node.
                node: "node-d".into(),
            },
            &token,
        ))
        .await
        .expect("DescribeActor by pid")
        .into_inner();
    assert_eq!(by_pid, by_name);

    // The Rust API answers the same.
    let described =
        ractor_grpc::describe_actor(&node.actor, ActorTarget::Name("d-described".into()))
            .await
            .expect("node running")
            .expect("advertised");
    assert_eq!(
        described.actor.message_type.as_deref(),
        Some("MyBasicMessageType")
    );
    assert_eq!(
        described.message.map(|m| m.variants.len()),
        Some(message.variants.len())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describing_an_unknown_actor_or_none_is_a_readable_error() {
    let node = common::node("node-e", "e", ConnectionMode::Isolated).await;
    let token = token_for("node-e", TokenScope::Inspect);
    let mut grpc = client(&node.addr).await;
    let ask = |target| pb::DescribeActorRequest {
        target,
        node: String::new(),
    };
    let missing = grpc
        .describe_actor(bearer(
            ask(Some(pb::describe_actor_request::Target::Name(
                "nobody".into(),
            ))),
            &token,
        ))
        .await
        .expect_err("no such actor");
    assert_eq!(missing.code(), Code::NotFound, "{missing:?}");
    assert!(missing.message().contains("\"nobody\""), "{missing:?}");
    let unnamed = grpc
        .describe_actor(bearer(ask(None), &token))
        .await
        .expect_err("no target");
    assert_eq!(unnamed.code(), Code::InvalidArgument, "{unnamed:?}");
    // Like the other introspection RPCs, it needs a token.
    let refused = grpc
        .describe_actor(ask(Some(pb::describe_actor_request::Target::Pid(0))))
        .await
        .expect_err("no token");
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_learns_each_advertised_actors_message_type() {
    let (_actor, _probe, _a, b, _proxy) = common::remote_basic("a-typed").await;
    let found = ractor_grpc::registry::where_is_all(&b.actor, "a-typed")
        .await
        .expect("node running");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].peer, "node-a");
    assert_eq!(found[0].message_type.as_deref(), Some("MyBasicMessageType"));
}
