//! [`OpenTelemetryPropagation`]: ractor_grpc's trace context from and into
//! OpenTelemetry, through `tracing-opentelemetry` (the `opentelemetry`
//! feature).

use opentelemetry::{
    Context,
    trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState},
};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::trace::{Propagation, TraceParent};

/// Reads a span's OpenTelemetry context when a cast or call is sent, and
/// makes the receiving node's span a child of the sender's. Install it once
/// with [`set_propagation`](crate::set_propagation), beside a
/// `tracing_opentelemetry` layer:
///
/// ```no_run
/// # fn main() -> Result<(), ractor_grpc::PropagationSet> {
/// ractor_grpc::set_propagation(ractor_grpc::OpenTelemetryPropagation)?;
/// # Ok(())
/// # }
/// ```
///
/// A call inside a span of yours then has, on the calling node, a `call`
/// span that is its child, and on the called node a `call` span that is the
/// child of that one: one trace across both nodes.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenTelemetryPropagation;

impl Propagation for OpenTelemetryPropagation {
    fn context_of(&self, span: &Span) -> Option<TraceParent> {
        let cx = span.context();
        let otel = cx.span();
        let sc = otel.span_context();
        sc.is_valid().then(|| TraceParent {
            trace_id: sc.trace_id().to_bytes(),
            parent_id: sc.span_id().to_bytes(),
            flags: sc.trace_flags().to_u8(),
        })
    }

    fn continue_in(&self, span: &Span, parent: TraceParent) {
        let remote = SpanContext::new(
            TraceId::from_bytes(parent.trace_id),
            SpanId::from_bytes(parent.parent_id),
            TraceFlags::new(parent.flags),
            true,
            TraceState::default(),
        );
        // A span with no OpenTelemetry layer, or already started, keeps
        // the parent it has.
        let _ = span.set_parent(Context::new().with_remote_span_context(remote));
    }
}
