//! A call has a span on each end, in each node's session span and with the
//! same tag, so its two halves line up; a call or cast that carries a W3C
//! `traceparent` is handled in a span that records the trace it continues,
//! also when a client's unary Call brought it in a `traceparent` header.
//!
//! One test in this binary: it installs a process-wide subscriber.

mod common;

use common::{
    CALL_TIMEOUT, WAIT,
    actors::MyBasicMessageType,
    eventually, peer,
    peer::ready_peer,
    remote_basic,
    spans::{Recorder, SpanSeen, field},
    unary,
};
use ractor_grpc::{
    TokenScope,
    pb::{self, envelope::Body},
};
use tonic::metadata::MetadataValue;
use tracing::Level;

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const UNARY_TRACEPARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

/// The closed `call` spans of node `node`'s session with `peer`.
fn calls(recorder: &Recorder, node: &str, peer: &str) -> Vec<SpanSeen> {
    recorder
        .closed_in_session(node, peer)
        .into_iter()
        .filter(|span| span.name == "call")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_calls_halves_line_up_and_a_traceparent_is_continued() {
    let recorder = Recorder::install(Level::DEBUG);

    // node-b calls node-a's actor through its proxy.
    let (actor, _probe, mut a, b, remote) = remote_basic("a-traced").await;
    let stats = ractor_grpc::call(&remote, MyBasicMessageType::Stats, Some(CALL_TIMEOUT)).await;
    assert_eq!(stats, Ok((0, true)));
    let both_closed = || async {
        !calls(&recorder, "node-b", "node-a").is_empty()
            && !calls(&recorder, "node-a", "node-b").is_empty()
    };
    assert!(eventually(WAIT, both_closed).await);
    let caller = calls(&recorder, "node-b", "node-a").remove(0);
    let callee = calls(&recorder, "node-a", "node-b").remove(0);
    assert_eq!(field(&caller.fields, "variant"), "Stats", "{caller:?}");
    assert_eq!(field(&callee.fields, "variant"), "Stats", "{callee:?}");
    assert_eq!(
        field(&callee.fields, "pid"),
        actor.get_id().pid().to_string()
    );
    let tag = field(&caller.fields, "tag");
    assert!(!tag.is_empty(), "{caller:?}");
    assert_eq!(field(&callee.fields, "tag"), tag, "{caller:?} {callee:?}");
    // No trace context was sent, so none is recorded.
    assert_eq!(field(&callee.fields, "trace_id"), "", "{callee:?}");

    // A client's unary Call through node-b with a `traceparent` header: the
    // call node-b makes carries it, and node-a's half records its trace.
    let mut client = unary::client(&b.addr).await;
    let mut request = unary::bearer(
        pb::CallRequest {
            target: Some(pb::ActorSelector {
                actor: Some(pb::actor_selector::Actor::Name("a-traced".into())),
                node: "node-a".into(),
            }),
            variant: "Stats".into(),
            arguments: Some(pb::call_request::Arguments::ArgsJson("[]".into())),
        },
        &unary::token_for("node-b", TokenScope::All),
    );
    let header = MetadataValue::try_from(UNARY_TRACEPARENT).expect("ASCII");
    request.metadata_mut().insert("traceparent", header);
    client
        .call(request)
        .await
        .expect("the unary call is answered");
    let unary_traced = || {
        calls(&recorder, "node-a", "node-b")
            .into_iter()
            .any(|s| field(&s.fields, "trace_id") == "0af7651916cd43dd8448eb211c80319c")
    };
    assert!(
        eventually(WAIT, || async { unary_traced() }).await,
        "{:#?}",
        calls(&recorder, "node-a", "node-b")
    );
    // node-b's half names the trace it sent, so logs alone follow it.
    let caller_traced = || {
        calls(&recorder, "node-b", "node-a")
            .into_iter()
            .any(|s| field(&s.fields, "trace_id") == "0af7651916cd43dd8448eb211c80319c")
    };
    assert!(
        eventually(WAIT, || async { caller_traced() }).await,
        "{:#?}",
        calls(&recorder, "node-b", "node-a")
    );

    // A peer that sends a traceparent: node-a's half records its trace.
    let pid = actor.get_id().pid();
    let (mut scripted, _) = ready_peer(&mut a, "scripted-t", vec![]).await;
    let traced_call = |tag: u64, traceparent: &str| {
        peer::envelope(Body::Call(pb::Call {
            to: pid,
            variant: "Stats".to_owned(),
            args: vec![],
            tag,
            timeout_ms: 5_000,
            traceparent: traceparent.to_owned(),
        }))
    };
    let answered = |tag: u64| move |e: &pb::Envelope| matches!(&e.body, Some(Body::CallReply(r)) if r.tag == tag);
    scripted
        .send(vec![traced_call(7, TRACEPARENT)])
        .await
        .expect("sent");
    scripted.until(WAIT, answered(7)).await;
    // A malformed one is ignored: the call is still answered.
    scripted
        .send(vec![traced_call(8, "00-not-a-trace-01")])
        .await
        .expect("sent");
    scripted.until(WAIT, answered(8)).await;
    let by_tag = |tag: &str| {
        calls(&recorder, "node-a", "scripted-t")
            .into_iter()
            .find(|s| field(&s.fields, "tag") == tag)
    };
    assert!(
        eventually(WAIT, || async {
            by_tag("7").is_some() && by_tag("8").is_some()
        })
        .await
    );
    let traced = by_tag("7").expect("closed");
    assert_eq!(
        field(&traced.fields, "trace_id"),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(field(&traced.fields, "parent_id"), "00f067aa0ba902b7");
    let malformed = by_tag("8").expect("closed");
    assert_eq!(field(&malformed.fields, "trace_id"), "", "{malformed:?}");

    // A cast with a traceparent is delivered in a span that continues it.
    let mut cast = peer::cast(pid, "Cast1", peer::args_of(&("traced".to_owned(), 1u64)));
    if let Some(Body::Cast(c)) = &mut cast.body {
        c.traceparent = TRACEPARENT.to_owned();
    }
    scripted.send(vec![cast]).await.expect("sent");
    let cast_spans = || recorder.closed("cast");
    assert!(eventually(WAIT, || async { !cast_spans().is_empty() }).await);
    let (cast_span, parent) = cast_spans().remove(0);
    assert_eq!(
        field(&cast_span.fields, "trace_id"),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    let parent = parent.expect("in the session's span");
    assert_eq!(field(&parent.fields, "peer"), "scripted-t", "{parent:?}");
    scripted.close();
    actor.stop(None);
}
