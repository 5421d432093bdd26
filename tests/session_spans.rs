//! Every log line of a session runs inside the session's span, which names
//! the node, the session, the direction and (once proved) the peer and its
//! incarnation; the handshake and the sync are spans of their own under it.
//!
//! One test in this binary: it installs a process-wide subscriber that
//! records every ractor_grpc event with the spans it ran in.

mod common;

use std::{
    collections::BTreeMap,
    fmt::Debug,
    sync::{Arc, Mutex, PoisonError},
};

use common::{WAIT, eventually, peer, peer::ready_peer};
use tracing::{
    Event, Id, Level, Subscriber,
    field::{Field, Visit},
    span::{Attributes, Record},
};
use tracing_subscriber::{
    Layer, filter::Targets, layer::Context, layer::SubscriberExt, registry::LookupSpan,
};

/// A span as a line saw it: its name and fields.
#[derive(Debug, Clone)]
struct SpanSeen {
    name: String,
    fields: BTreeMap<String, String>,
}

/// One event: its message and its spans, innermost first.
#[derive(Debug, Clone)]
struct Line {
    message: String,
    spans: Vec<SpanSeen>,
}

impl Line {
    /// The fields of the innermost span called `name`, if it ran in one.
    fn span(&self, name: &str) -> Option<&BTreeMap<String, String>> {
        self.spans
            .iter()
            .find(|s| s.name == name)
            .map(|s| &s.fields)
    }
}

/// What the layer saw: lines, and spans that closed (with their parent).
#[derive(Debug, Default)]
struct Seen {
    lines: Vec<Line>,
    closed: Vec<(SpanSeen, Option<SpanSeen>)>,
}

#[derive(Debug, Default, Clone)]
struct Recorder(Arc<Mutex<Seen>>);

impl Recorder {
    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The lines with message `message` that ran in a session span of
    /// node `node`.
    fn lines(&self, node: &str, message: &str) -> Vec<Line> {
        self.seen()
            .lines
            .iter()
            .filter(|l| l.message == message)
            .filter(|l| l.span("session").is_some_and(|f| field(f, "node") == node))
            .cloned()
            .collect()
    }

    /// The phase spans (`handshake`, `sync`) that closed under a session
    /// span of node `node` with peer `peer`.
    fn closed_phases(&self, node: &str, peer: &str) -> Vec<String> {
        self.seen()
            .closed
            .iter()
            .filter(|(_, parent)| {
                parent.as_ref().is_some_and(|p| {
                    p.name == "session"
                        && field(&p.fields, "node") == node
                        && field(&p.fields, "peer") == peer
                })
            })
            .map(|(span, _)| span.name.clone())
            .collect()
    }
}

fn field<'a>(fields: &'a BTreeMap<String, String>, name: &str) -> &'a str {
    fields.get(name).map_or("", String::as_str)
}

/// Collects fields as strings.
struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.insert(
            field.name().to_owned(),
            format!("{value:?}").trim_matches('"').to_owned(),
        );
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Recorder {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(fields) = span.extensions_mut().get_mut::<BTreeMap<String, String>>()
        {
            values.record(&mut Fields(fields));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let spans = ctx
            .event_scope(event)
            .into_iter()
            .flatten()
            .map(|span| seen_of(&span))
            .collect();
        let message = fields.remove("message").unwrap_or_default();
        self.seen().lines.push(Line { message, spans });
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(&id) {
            let parent = span.parent().map(|p| seen_of(&p));
            self.seen().closed.push((seen_of(&span), parent));
        }
    }
}

fn seen_of<S: for<'a> LookupSpan<'a>>(
    span: &tracing_subscriber::registry::SpanRef<'_, S>,
) -> SpanSeen {
    SpanSeen {
        name: span.name().to_owned(),
        fields: span
            .extensions()
            .get::<BTreeMap<String, String>>()
            .cloned()
            .unwrap_or_default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sessions_lines_run_in_its_span_with_the_peer_and_its_phases() {
    let recorder = Recorder::default();
    let subscriber = tracing_subscriber::registry().with(
        recorder
            .clone()
            .with_filter(Targets::new().with_target("ractor_grpc", Level::DEBUG)),
    );
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");

    // Two real nodes: node-b dials node-a.
    let mut a = common::start("node-a").await;
    let mut b = common::start("node-b").await;
    ractor_grpc::connect(&b.actor, &a.addr)
        .await
        .expect("node-b connects");

    // Each side's "ready" runs in its session's span, which names both
    // ends, the direction and the peer's incarnation.
    let ready_in_b = || recorder.lines("node-b", "ready");
    assert!(eventually(WAIT, || async { !ready_in_b().is_empty() }).await);
    let b_session = ready_in_b()[0]
        .span("session")
        .cloned()
        .expect("in a session span");
    assert_eq!(field(&b_session, "peer"), "node-a", "{b_session:?}");
    assert_eq!(field(&b_session, "direction"), "Outbound", "{b_session:?}");
    assert!(
        field(&b_session, "incarnation")
            .parse::<u64>()
            .is_ok_and(|i| i != 0),
        "{b_session:?}"
    );
    assert!(
        eventually(WAIT, || async {
            !recorder.lines("node-a", "ready").is_empty()
        })
        .await
    );
    let a_session = recorder.lines("node-a", "ready")[0]
        .span("session")
        .cloned()
        .expect("span");
    assert_eq!(field(&a_session, "peer"), "node-b", "{a_session:?}");
    assert_eq!(field(&a_session, "direction"), "Inbound", "{a_session:?}");
    // "authenticated" too, in the same session.
    let authenticated = recorder.lines("node-a", "authenticated");
    assert!(
        authenticated.iter().any(|l| l
            .span("session")
            .is_some_and(|f| f.get("session") == a_session.get("session"))),
        "{authenticated:?}"
    );
    // The handshake and the sync were spans of their own, closed by now.
    for (node, peer) in [("node-a", "node-b"), ("node-b", "node-a")] {
        let phases = recorder.closed_phases(node, peer);
        assert!(
            phases.contains(&"handshake".to_owned()),
            "{node}: {phases:?}"
        );
        assert!(phases.contains(&"sync".to_owned()), "{node}: {phases:?}");
    }

    // A line the reader task logs (a cast for an actor node-a does not
    // have) runs in the session of the peer that sent it.
    let (mut scripted, _) = ready_peer(&mut a, "scripted-x", vec![]).await;
    scripted
        .send(vec![peer::cast(987_654, "Nope", vec![])])
        .await
        .expect("the cast is sent");
    let dropped = || recorder.lines("node-a", "dropping a cast for an unknown actor");
    assert!(eventually(WAIT, || async { !dropped().is_empty() }).await);
    let span = dropped()[0].span("session").cloned().expect("span");
    assert_eq!(field(&span, "peer"), "scripted-x", "{span:?}");

    // The end is logged in the session's span too.
    b.stop().await;
    let disconnected = || recorder.lines("node-a", "disconnected");
    assert!(
        eventually(WAIT, || async {
            disconnected().iter().any(|l| {
                l.span("session")
                    .is_some_and(|f| field(f, "peer") == "node-b")
            })
        })
        .await,
        "{:?}",
        disconnected()
    );
    scripted.close();
    a.stop().await;
}
