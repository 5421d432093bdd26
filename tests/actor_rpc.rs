//! Unary Cast and Call, as a client that is not a node (grpcurl, a script)
//! uses them: actors found by name, pid or pg group, on the node or on its
//! peers through their proxies; arguments as payload bytes or JSON; every
//! refusal a readable status.

mod common;

use std::time::Duration;

use common::{
    actors::{self, KvStore},
    unary::{assert_refused, bearer, client, token_for},
};
use ractor::Actor;
use ractor_grpc::{
    ConnectionMode, TokenScope,
    pb::{self, cluster_node_client::ClusterNodeClient},
    wire::{from_bytes, to_bytes},
};
use serde_json::{Value, json};
use tonic::{Code, Response, Status, transport::Channel};

type Client = ClusterNodeClient<Channel>;

fn by_name(name: &str) -> Option<pb::ActorSelector> {
    Some(pb::ActorSelector {
        actor: Some(pb::actor_selector::Actor::Name(name.into())),
        node: String::new(),
    })
}

fn by_pid(pid: u64, node: &str) -> Option<pb::ActorSelector> {
    Some(pb::ActorSelector {
        actor: Some(pb::actor_selector::Actor::Pid(pid)),
        node: node.into(),
    })
}

fn by_group(group: &str) -> Option<pb::ActorSelector> {
    Some(pb::ActorSelector {
        actor: Some(pb::actor_selector::Actor::Group(pb::GroupSelector {
            scope: String::new(),
            group: group.into(),
        })),
        node: String::new(),
    })
}

fn json_call(target: Option<pb::ActorSelector>, variant: &str, json: &str) -> pb::CallRequest {
    pb::CallRequest {
        target,
        variant: variant.into(),
        arguments: Some(pb::call_request::Arguments::ArgsJson(json.into())),
    }
}

fn json_cast(target: Option<pb::ActorSelector>, variant: &str, json: &str) -> pb::CastRequest {
    pb::CastRequest {
        target,
        variant: variant.into(),
        arguments: Some(pb::cast_request::Arguments::ArgsJson(json.into())),
        all_members: false,
    }
}

async fn call(
    grpc: &mut Client,
    token: &str,
    req: pb::CallRequest,
) -> Result<pb::CallResponse, Status> {
    grpc.call(bearer(req, token))
        .await
        .map(Response::into_inner)
}

async fn cast(
    grpc: &mut Client,
    token: &str,
    req: pb::CastRequest,
) -> Result<pb::CastResponse, Status> {
    grpc.cast(bearer(req, token))
        .await
        .map(Response::into_inner)
}

fn reply_json(reply: &pb::CallResponse) -> Value {
    serde_json::from_str(&reply.result_json).expect("result_json is JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_actor_is_called_and_cast_to_with_json_and_with_bytes() {
    let (actor, _probe) = actors::spawn_basic("u-basic").await;
    let mut node = common::node("node-u", "u", ConnectionMode::Isolated).await;
    let token = token_for("node-u", TokenScope::All);
    let mut grpc = client(&node.addr).await;

    // JSON in, JSON and bytes out.
    let reply = call(
        &mut grpc,
        &token,
        json_call(by_name("u-basic"), "Call1", "[3, -2]"),
    )
    .await
    .expect("Call1 with JSON");
    assert_eq!(
        reply_json(&reply),
        json!(["got 3", "and -2", "after 0 casts"])
    );
    assert_eq!(
        from_bytes::<Vec<String>>(&reply.result).expect("the bytes are the reply"),
        ["got 3", "and -2", "after 0 casts"]
    );
    let answered = reply.actor.expect("who answered");
    assert_eq!(
        (answered.node.as_str(), answered.name.as_str()),
        ("node-u", "u-basic")
    );

    // Casts by pid, one with JSON, one with payload bytes; they arrive in order.
    let pid = actor.get_id().pid();
    let sent = cast(
        &mut grpc,
        &token,
        json_cast(by_pid(pid, ""), "Cast1", r#"["one", 1]"#),
    )
    .await
    .expect("Cast1 with JSON");
    assert_eq!(sent.delivered.len(), 1);
    let bytes = [to_bytes(&"two".to_owned()), to_bytes(&2u64)].concat();
    cast(
        &mut grpc,
        &token,
        pb::CastRequest {
            target: by_pid(pid, "node-u"),
            variant: "Cast1".into(),
            arguments: Some(pb::cast_request::Arguments::Args(bytes)),
            all_members: false,
        },
    )
    .await
    .expect("Cast1 with bytes");
    let seen = call(
        &mut grpc,
        &token,
        json_call(by_name("u-basic"), "Seen", "[]"),
    )
    .await
    .expect("Seen");
    assert_eq!(reply_json(&seen), json!([["one", 1], ["two", 2]]));
    node.stop().await;
    actor.stop(None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peers_actor_is_reached_through_its_proxy_by_name_pid_and_group() {
    let (remote_actor, _probe) = actors::spawn_basic("a-unary").await;
    let (local_actor, _probe) = actors::spawn_basic("b-unary").await;
    ractor::pg::join(
        "unary-group".into(),
        vec![remote_actor.get_cell(), local_actor.get_cell()],
    );
    let (mut a, mut b) = common::pair().await;
    let token = token_for("node-b", TokenScope::All);
    let mut grpc = client(&b.addr).await;
    // Both members (the peer's through its proxy) are in node-b's view.
    assert!(
        common::eventually(common::WAIT, || async {
            ractor::pg::get_members(&"unary-group".to_owned()).len() >= 3
        })
        .await,
        "node-b's proxy of a-unary never joined the group"
    );

    // By name, on node-b: the peer's actor, described by its node, so JSON works.
    let reply = call(
        &mut grpc,
        &token,
        json_call(by_name("a-unary"), "Call1", "[7, 8]"),
    )
    .await
    .expect("a call through the proxy");
    assert_eq!(reply_json(&reply)[0], json!("got 7"));
    assert_eq!(
        reply.actor.as_ref().map(|l| l.node.as_str()),
        Some("node-a")
    );

    // node-b describes node-a's actor from its advert, with its groups.
    let described = grpc
        .describe_actor(bearer(
            pb::DescribeActorRequest {
                target: Some(pb::describe_actor_request::Target::Name("a-unary".into())),
                node: "node-a".into(),
            },
            &token,
        ))
        .await
        .expect("DescribeActor of a peer's actor")
        .into_inner();
    let actor = described.actor.expect("the actor");
    assert_eq!(
        (actor.name.as_str(), actor.message_type.as_str()),
        ("a-unary", "MyBasicMessageType")
    );
    assert!(
        actor.groups.iter().any(|g| g.group == "unary-group"),
        "{:?}",
        actor.groups
    );
    let message = described
        .message
        .expect("node-a described the type in its advert");
    assert!(
        message
            .variants
            .iter()
            .any(|v| v.name == "Call1" && v.reply == "list<string>")
    );
    let elsewhere = grpc
        .describe_actor(bearer(
            pb::DescribeActorRequest {
                target: Some(pb::describe_actor_request::Target::Name("a-unary".into())),
                node: "node-q".into(),
            },
            &token,
        ))
        .await;
    assert_refused(elsewhere, Code::NotFound, "no node \"node-q\"");

    // By pid on the peer.
    let pid = remote_actor.get_id().pid();
    cast(
        &mut grpc,
        &token,
        json_cast(by_pid(pid, "node-a"), "Cast1", r#"["by pid", 1]"#),
    )
    .await
    .expect("a cast by pid on node-a");

    // A group cast to every member reaches both nodes; the local member comes first.
    let mut to_all = json_cast(by_group("unary-group"), "Cast1", r#"["all", 2]"#);
    to_all.all_members = true;
    let delivered = cast(&mut grpc, &token, to_all)
        .await
        .expect("group cast")
        .delivered;
    let nodes: Vec<(&str, &str)> = delivered
        .iter()
        .map(|l| (l.node.as_str(), l.name.as_str()))
        .collect();
    assert!(nodes.starts_with(&[("node-b", "b-unary")]), "{nodes:?}");
    assert!(nodes.contains(&("node-a", "a-unary")), "{nodes:?}");

    // A group call goes to one member: this node's.
    let stats = call(
        &mut grpc,
        &token,
        json_call(by_group("unary-group"), "Stats", "[]"),
    )
    .await
    .expect("group call");
    assert_eq!(
        stats.actor.as_ref().map(|l| l.node.as_str()),
        Some("node-b")
    );
    assert_eq!(reply_json(&stats), json!([1, true]));
    // The peer's actor got the cast by pid and the group cast, in order.
    let seen = call(
        &mut grpc,
        &token,
        pb::CallRequest {
            target: by_pid(pid, "node-a"),
            variant: "Seen".into(),
            arguments: None,
        },
    )
    .await
    .expect("Seen on node-a");
    assert_eq!(reply_json(&seen), json!([["by pid", 1], ["all", 2]]));

    // An actor of a type node-a did not advertise before is described in
    // its live advert, so JSON works for it too.
    let (pong, _) = Actor::spawn(
        Some("a-pong".into()),
        integration::demo::Pong {
            label: "[node-a]".into(),
        },
        (),
    )
    .await
    .expect("pong starts");
    common::proxy::<integration::demo::PongMsg>(&b, "node-a", "a-pong").await;
    let reply = call(
        &mut grpc,
        &token,
        json_call(by_name("a-pong"), "Pong", "[41]"),
    )
    .await
    .expect("a call to an actor advertised after sync");
    assert_eq!(reply.result_json, "42");
    pong.stop(None);
    b.stop().await;
    a.stop().await;
    remote_actor.stop(None);
    local_actor.stop(None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peers_actor_nothing_used_yet_is_reached_by_name_and_by_pid() {
    // In no pg group and never looked up: node-b holds it as a record until
    // this call needs its proxy.
    let (remote_actor, _probe) = actors::spawn_basic("a-unused").await;
    let (mut a, mut b) = common::pair().await;
    let token = token_for("node-b", TokenScope::All);
    let mut grpc = client(&b.addr).await;

    let reply = call(
        &mut grpc,
        &token,
        json_call(by_name("a-unused"), "Call1", "[5, 6]"),
    )
    .await
    .expect("a call by name to an actor without a proxy yet");
    assert_eq!(reply_json(&reply)[0], json!("got 5"));
    assert_eq!(
        reply.actor.as_ref().map(|l| (l.node.as_str(), l.pid)),
        Some(("node-a", remote_actor.get_id().pid()))
    );

    cast(
        &mut grpc,
        &token,
        json_cast(
            by_pid(remote_actor.get_id().pid(), "node-a"),
            "Cast1",
            r#"["by pid", 9]"#,
        ),
    )
    .await
    .expect("a cast by pid");
    let arrived = common::eventually(common::WAIT, || async {
        remote_actor
            .call(actors::MyBasicMessageType::Seen, Some(common::CALL_TIMEOUT))
            .await
            .ok()
            .and_then(|r| r.success_or(()).ok())
            .is_some_and(|seen| seen.contains(&("by pid".to_owned(), 9)))
    })
    .await;
    assert!(arrived, "the cast by pid never reached a-unused");
    a.stop().await;
    b.stop().await;
    remote_actor.stop(None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_is_a_status_that_says_why() {
    let (actor, _probe) = actors::spawn_basic("r-basic").await;
    let (kv, _) = Actor::spawn(Some("r-kv".into()), KvStore, ())
        .await
        .expect("kv starts");
    let mut node = common::node("node-r", "r", ConnectionMode::Isolated).await;
    let token = token_for("node-r", TokenScope::All);
    let mut grpc = client(&node.addr).await;

    let missing = call(
        &mut grpc,
        &token,
        json_call(by_name("nobody"), "Call1", "[1, 2]"),
    )
    .await;
    assert_refused(
        missing,
        Code::NotFound,
        "no advertised actor named \"nobody\"",
    );
    let missing = cast(
        &mut grpc,
        &token,
        json_cast(by_pid(999_999, ""), "Cast1", "[]"),
    )
    .await;
    assert_refused(
        missing,
        Code::NotFound,
        "no advertised actor with pid 999999",
    );
    let missing = cast(
        &mut grpc,
        &token,
        json_cast(by_group("no-such-group"), "Cast1", "[]"),
    )
    .await;
    assert_refused(missing, Code::NotFound, "pg group \"no-such-group\"");
    let elsewhere = call(
        &mut grpc,
        &token,
        json_call(by_pid(1, "node-z"), "Call1", "[]"),
    )
    .await;
    assert_refused(elsewhere, Code::NotFound, "no node \"node-z\"");

    let untargeted = call(&mut grpc, &token, json_call(None, "Call1", "[1, 2]")).await;
    assert_refused(untargeted, Code::InvalidArgument, "set `target`");
    let unknown = call(
        &mut grpc,
        &token,
        json_call(by_name("r-basic"), "Call9", "[]"),
    )
    .await;
    assert_refused(unknown, Code::InvalidArgument, "has no variant \"Call9\"");
    let as_cast = cast(
        &mut grpc,
        &token,
        json_cast(by_name("r-basic"), "Call1", "[1, 2]"),
    )
    .await;
    assert_refused(
        as_cast,
        Code::InvalidArgument,
        "Call1 is a call (it replies): send it with Call",
    );
    let as_call = call(
        &mut grpc,
        &token,
        json_call(by_name("r-basic"), "Cast1", r#"["a", 1]"#),
    )
    .await;
    assert_refused(as_call, Code::InvalidArgument, "Cast1 is a cast");
    let malformed = call(
        &mut grpc,
        &token,
        json_call(by_name("r-basic"), "Call1", "[1,"),
    )
    .await;
    assert_refused(malformed, Code::InvalidArgument, "args_json: not JSON");
    let arity = call(
        &mut grpc,
        &token,
        json_call(by_name("r-basic"), "Call1", "[1]"),
    )
    .await;
    assert_refused(
        arity,
        Code::InvalidArgument,
        "Call1 takes 2 arguments (u8, i64), the array has 1",
    );
    let range = call(
        &mut grpc,
        &token,
        json_call(by_name("r-basic"), "Call1", "[300, 1]"),
    )
    .await;
    assert_refused(
        range,
        Code::InvalidArgument,
        "args_json[0]: 300 is out of range for u8",
    );
    let truncated = call(
        &mut grpc,
        &token,
        pb::CallRequest {
            target: by_name("r-basic"),
            variant: "Call1".into(),
            arguments: Some(pb::call_request::Arguments::Args(vec![1, 0, 0])),
        },
    )
    .await;
    assert_refused(
        truncated,
        Code::InvalidArgument,
        "args: Call1's argument 1 (i64)",
    );

    // A generic message type that was not registered does not describe
    // itself: JSON cannot be encoded for it, payload bytes still go through.
    let opaque = call(&mut grpc, &token, json_call(by_name("r-kv"), "Len", "[]")).await;
    assert_refused(
        opaque,
        Code::FailedPrecondition,
        "send `args` as payload bytes",
    );
    let len = call(
        &mut grpc,
        &token,
        pb::CallRequest {
            target: by_name("r-kv"),
            variant: "Len".into(),
            arguments: None,
        },
    )
    .await
    .expect("Len with (empty) payload bytes");
    assert_eq!(from_bytes::<u64>(&len.result).expect("a usize"), 0);
    assert!(len.result_json.is_empty(), "no JSON without a description");
    // ... and its actor's own decoder refuses bytes that do not fit.
    let undecodable = call(
        &mut grpc,
        &token,
        pb::CallRequest {
            target: by_name("r-kv"),
            variant: "Len".into(),
            arguments: Some(pb::call_request::Arguments::Args(vec![9])),
        },
    )
    .await;
    assert_refused(undecodable, Code::InvalidArgument, "does not decode");
    // The same with a trace context: the actor is local, so nothing but the
    // report sink rides in the message's metadata, and the reason still
    // comes back.
    let mut traced = bearer(
        pb::CallRequest {
            target: by_name("r-kv"),
            variant: "Len".into(),
            arguments: Some(pb::call_request::Arguments::Args(vec![9])),
        },
        &token,
    );
    traced.metadata_mut().insert(
        "traceparent",
        tonic::metadata::MetadataValue::from_static(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ),
    );
    let traced = grpc.call(traced).await.map(Response::into_inner);
    assert_refused(traced, Code::InvalidArgument, "does not decode");

    // The actor drops its reply port; the call honours the gRPC deadline.
    let dropped = call(
        &mut grpc,
        &token,
        json_call(by_name("r-basic"), "Ignore", "[]"),
    )
    .await;
    assert_refused(dropped, Code::Aborted, "dropped the reply port");
    let mut slow = bearer(json_call(by_name("r-basic"), "Slow", "[2000]"), &token);
    slow.set_timeout(Duration::from_millis(300));
    let started = std::time::Instant::now();
    let late = grpc.call(slow).await.map(Response::into_inner);
    assert_refused(late, Code::DeadlineExceeded, "did not reply within 270 ms");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the deadline ended the call"
    );

    // Casting and calling needs scope all: an inspect token may only look.
    let inspect = token_for("node-r", TokenScope::Inspect);
    let denied = call(
        &mut grpc,
        &inspect,
        json_call(by_name("r-basic"), "Stats", "[]"),
    )
    .await;
    assert_refused(denied, Code::PermissionDenied, "");
    // Nothing that was refused reached the actor.
    let stats = call(
        &mut grpc,
        &token,
        json_call(by_name("r-basic"), "Stats", "[]"),
    )
    .await
    .expect("Stats");
    assert_eq!(reply_json(&stats), json!([0, true]));
    node.stop().await;
    actor.stop(None);
    kv.stop(None);
}
