//! With [`OpenTelemetryPropagation`] installed beside a tracing-opentelemetry
//! layer, a call made inside a span on one node is one trace across both:
//! the caller's `call` span is a child of the span it was made in, and the
//! callee node's `call` span a child of that one, with the same trace id.
//! A cast made inside a span reaches the other node in a `cast` span of the
//! same trace. (An in-memory exporter collects the spans.)
//!
//! One test in this binary: it installs a process-wide subscriber.

#![cfg(feature = "opentelemetry")]

mod common;

use common::{CALL_TIMEOUT, WAIT, actors::MyBasicMessageType, eventually, remote_basic};
use opentelemetry::trace::{SpanId, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use ractor_grpc::OpenTelemetryPropagation;
use tracing::Instrument;
use tracing_subscriber::{Layer, filter::LevelFilter, layer::SubscriberExt};

fn named<'a>(spans: &'a [SpanData], name: &str) -> Vec<&'a SpanData> {
    spans.iter().filter(|s| s.name == name).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_is_one_trace_across_both_nodes() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let layer = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("otel-trace-test"))
        .with_filter(LevelFilter::DEBUG);
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
    ractor_grpc::set_propagation(OpenTelemetryPropagation).expect("the only propagation");

    let (actor, _probe, _a, _b, remote) = remote_basic("a-otel").await;
    let request = tracing::info_span!("checkout");
    async {
        // ractor's own call: the derive notes the caller's context.
        let stats = remote
            .call(MyBasicMessageType::Stats, Some(CALL_TIMEOUT))
            .await
            .expect("sent");
        assert!(
            matches!(stats, ractor::rpc::CallResult::Success((0, true))),
            "{stats:?}"
        );
        remote
            .cast(MyBasicMessageType::Cast1("traced".into(), 1))
            .expect("cast");
    }
    .instrument(request.clone())
    .await;
    drop(request);

    let spans = || exporter.get_finished_spans().expect("spans");
    let complete = || async {
        let spans = spans();
        !named(&spans, "checkout").is_empty()
            && named(&spans, "call").len() >= 2
            && !named(&spans, "cast").is_empty()
    };
    assert!(eventually(WAIT, complete).await, "{:#?}", spans());
    let spans = spans();
    let root = named(&spans, "checkout")[0];
    let trace_id = root.span_context.trace_id();
    // The caller's half: a child of the request.
    let calls = named(&spans, "call");
    let caller = calls
        .iter()
        .find(|s| s.parent_span_id == root.span_context.span_id())
        .unwrap_or_else(|| panic!("no call span under the request: {calls:#?}"));
    assert_eq!(caller.span_context.trace_id(), trace_id);
    // The callee's half, on the other node: a child of the caller's half,
    // in the same trace, marked remote-parented.
    let callee = calls
        .iter()
        .find(|s| s.parent_span_id == caller.span_context.span_id())
        .unwrap_or_else(|| panic!("no call span under the caller's: {calls:#?}"));
    assert_eq!(callee.span_context.trace_id(), trace_id);
    assert!(callee.parent_span_is_remote, "{callee:#?}");
    // The cast: delivered on the other node in a span of the same trace,
    // whose parent is the request.
    let cast = named(&spans, "cast")[0];
    assert_eq!(cast.span_context.trace_id(), trace_id, "{cast:#?}");
    assert_eq!(cast.parent_span_id, root.span_context.span_id());
    assert_ne!(cast.parent_span_id, SpanId::INVALID);
    actor.stop(None);
    let _ = provider.shutdown();
}
