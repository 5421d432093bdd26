//! A `tracing` layer for tests: it records every event with the spans it
//! ran in, and every span that closed with its parent. A test binary
//! installs it once, process-wide ([`Recorder::install`]).

use std::{
    collections::BTreeMap,
    fmt::Debug,
    sync::{Arc, Mutex, PoisonError},
};

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
pub struct SpanSeen {
    pub name: String,
    pub fields: BTreeMap<String, String>,
}

/// One event: its message and its spans, innermost first.
#[derive(Debug, Clone)]
pub struct Line {
    pub message: String,
    pub spans: Vec<SpanSeen>,
}

impl Line {
    /// The fields of the innermost span called `name`, if it ran in one.
    pub fn span(&self, name: &str) -> Option<&BTreeMap<String, String>> {
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
pub struct Recorder(Arc<Mutex<Seen>>);

impl Recorder {
    /// A recorder of ractor_grpc's events and spans down to `level`,
    /// installed as the process's subscriber.
    pub fn install(level: Level) -> Self {
        let recorder = Self::default();
        let subscriber = tracing_subscriber::registry().with(
            recorder
                .clone()
                .with_filter(Targets::new().with_target("ractor_grpc", level)),
        );
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        recorder
    }

    /// The spans called `name` that closed, each with its parent.
    pub fn closed(&self, name: &str) -> Vec<(SpanSeen, Option<SpanSeen>)> {
        self.seen()
            .closed
            .iter()
            .filter(|(span, _)| span.name == name)
            .cloned()
            .collect()
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The lines with message `message` that ran in a session span of
    /// node `node`.
    pub fn lines(&self, node: &str, message: &str) -> Vec<Line> {
        self.seen()
            .lines
            .iter()
            .filter(|l| l.message == message)
            .filter(|l| l.span("session").is_some_and(|f| field(f, "node") == node))
            .cloned()
            .collect()
    }

    /// The spans that closed right under a session span of node `node`
    /// with peer `peer`.
    pub fn closed_in_session(&self, node: &str, peer: &str) -> Vec<SpanSeen> {
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
            .map(|(span, _)| span.clone())
            .collect()
    }

    /// The names of the phase spans (`handshake`, `sync`) and others that
    /// closed under a session span of node `node` with peer `peer`.
    pub fn closed_phases(&self, node: &str, peer: &str) -> Vec<String> {
        self.closed_in_session(node, peer)
            .into_iter()
            .map(|span| span.name)
            .collect()
    }
}

pub fn field<'a>(fields: &'a BTreeMap<String, String>, name: &str) -> &'a str {
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
