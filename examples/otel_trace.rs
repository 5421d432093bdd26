//! One call, one trace across two nodes: with `OpenTelemetryPropagation`
//! and a tracing-opentelemetry layer (spans kept in memory here; point the
//! tracer provider at any exporter instead), node-b calls node-a's actor
//! inside a span, and the spans of both nodes print as one tree.
//!
//! ```sh
//! cargo run --example otel_trace --features opentelemetry
//! ```

mod common;

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use ractor_grpc::{OpenTelemetryPropagation, RactorClusterMessage};
use tracing::Instrument;
use tracing_subscriber::{Layer, filter::LevelFilter, layer::SubscriberExt};

#[derive(RactorClusterMessage)]
enum PriceMsg {
    #[rpc]
    Quote(String, RpcReplyPort<u64>),
}

struct Prices;

impl Actor for Prices {
    type Msg = PriceMsg;
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<PriceMsg>, (): ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle(
        &self,
        _: ActorRef<PriceMsg>,
        PriceMsg::Quote(item, reply): PriceMsg,
        (): &mut (),
    ) -> Result<(), ActorProcessingErr> {
        let _ = reply.send(u64::try_from(item.len()).unwrap_or(0) * 100);
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let layer = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("otel_trace"))
        .with_filter(LevelFilter::DEBUG);
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))?;
    ractor_grpc::set_propagation(OpenTelemetryPropagation)?;
    println!("[demo] OpenTelemetry propagation on; spans kept in memory");

    let a = common::start("node-a", |c| {
        c.with_advertise_filter(|cell| cell.get_name().as_deref() == Some("prices"))
    })
    .await?;
    let b = common::start("node-b", |c| c.with_advertise_filter(|_| false)).await?;
    let (prices, _) = Actor::spawn(Some("prices".into()), Prices, ()).await?;
    ractor_grpc::connect(&b.actor, a.addr.clone()).await?;
    let cell = ractor_grpc::registry::where_is(&b.actor, "node-a", "prices")
        .await?
        .ok_or("node-a does not advertise prices")?;
    let remote: ActorRef<PriceMsg> = ActorRef::from(cell);

    let request = tracing::info_span!("checkout");
    let quote = async {
        ractor_grpc::call(
            &remote,
            |reply| PriceMsg::Quote("book".into(), reply),
            Some(Duration::from_secs(5)),
        )
        .await
    }
    .instrument(request.clone())
    .await?;
    drop(request);
    println!("[node-b] in span `checkout`: Quote(\"book\") -> {quote}");

    prices.stop(None);
    b.stop().await?;
    a.stop().await?;
    provider.force_flush()?;
    let spans = exporter.get_finished_spans()?;
    let root = spans
        .iter()
        .find(|s| s.name == "checkout")
        .ok_or("no checkout span")?;
    let trace_id = root.span_context.trace_id();
    println!("[demo] trace {trace_id}:");
    // Print the tree under the request: each span, then its children.
    let mut stack = vec![(root, 0usize)];
    let mut shown = 0;
    while let Some((span, depth)) = stack.pop() {
        let attr = |key: &str| {
            span.attributes
                .iter()
                .find(|kv| kv.key.as_str() == key)
                .map(|kv| kv.value.to_string())
        };
        // The caller's half names the actor; the callee's its pid.
        let node = match (attr("tag"), attr("actor")) {
            (Some(tag), Some(_)) => format!(" tag={tag}, node-b's half (caller)"),
            (Some(tag), None) => format!(" tag={tag}, node-a's half (callee)"),
            _ => String::new(),
        };
        println!(
            "[demo] {}{} span {}{node}",
            "  ".repeat(depth),
            span.name,
            span.span_context.span_id()
        );
        shown += 1;
        for child in spans
            .iter()
            .filter(|s| s.parent_span_id == span.span_context.span_id())
        {
            stack.push((child, depth + 1));
        }
    }
    // checkout, node-b's half of the call, node-a's half.
    if shown < 3 {
        return Err(
            format!("expected the call's two halves under checkout, saw {shown} spans").into(),
        );
    }
    println!("[demo] done: one trace from node-b's request to node-a's actor");
    Ok(())
}
