//! Incoming traffic: casts and calls checked against the actors this node
//! offers, then handed to the local actor still serialized (it decodes them
//! itself); replies and errors complete this node's own calls.
//!
//! Owns nothing but the path from an inbound envelope to a local actor or a
//! pending call. Which actors are offered is not its business: it asks
//! [`LocalActors`], which the registry implements.

use std::{sync::Arc, time::Duration};

use ractor::{ActorCell, ActorStatus, message::SerializedMessage};
use tokio::sync::oneshot;
use tracing::{Instrument, Span, debug_span, field::Empty, warn};

use super::{
    error::CallError,
    link::SessionLink,
    report::{Registration, Sink},
    room::IN_MAILBOX,
};
use crate::{
    counters::bump,
    pb::{self, envelope::Body},
    reply,
    trace::{self, TraceParent},
    transport::Refused,
};

/// Records on `span` the trace a message's `traceparent` names, if it is
/// valid (a value that is not is ignored, as W3C Trace Context asks).
fn continue_trace(span: &Span, traceparent: &str) {
    if let Some(tp) = TraceParent::parse(traceparent) {
        span.record("trace_id", tp.trace_id_hex());
        span.record("parent_id", tp.parent_id_hex());
        trace::continue_in(span, tp);
    }
}

/// The local actors a peer may address, by pid.
pub(crate) trait LocalActors: Send + Sync + std::fmt::Debug {
    /// The actor with local id `pid`, if it is offered to peers.
    fn get(&self, pid: u64) -> Option<ActorCell>;
}

/// An inbound envelope that carries a message or an answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Traffic {
    /// A message to one of this node's actors.
    Cast(pb::Cast),
    /// A request to one of this node's actors.
    Call(pb::Call),
    /// The reply to one of this node's calls.
    Reply(pb::CallReply),
    /// The failure of one of this node's calls.
    Error(pb::CallError),
}

/// What delivering incoming traffic needs.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    pub(crate) link: Arc<SessionLink>,
    pub(crate) actors: Arc<dyn LocalActors>,
    /// Metadata that counts casts whose payload does not decode here.
    cast_report: Arc<Registration>,
}

impl Delivery {
    /// Delivery through `link` to `actors`.
    pub(crate) fn new(link: Arc<SessionLink>, actors: Arc<dyn LocalActors>) -> Self {
        let cast_report = Arc::new(Registration::new(Sink::Casts {
            undecodable: link.stats.undecodable.clone(),
            inbox: link.inbox.clone(),
        }));
        Self {
            link,
            actors,
            cast_report,
        }
    }

    /// Delivers a cast or a call, or completes one of this node's calls.
    pub(crate) fn deliver(&self, traffic: Traffic) {
        match traffic {
            Traffic::Cast(c) => self.cast(c),
            Traffic::Call(c) => self.call(c),
            Traffic::Reply(r) => self.link.complete(r.tag, r.result),
            Traffic::Error(e) => {
                let tag = e.tag;
                self.link.fail(tag, CallError::from_wire(e));
            }
        }
    }

    /// Delivers a cast. Casts to unknown actors are counted and logged: a
    /// cast has nobody to answer to.
    fn cast(&self, c: pb::Cast) {
        let link = &self.link;
        bump(&link.stats.casts_received);
        // A cast that carries a trace is delivered in a span that continues
        // it; one that carries none costs nothing here.
        let span = if c.traceparent.is_empty() {
            Span::none()
        } else {
            let span = debug_span!("cast", pid = c.to, variant = %c.variant, trace_id = Empty, parent_id = Empty);
            continue_trace(&span, &c.traceparent);
            span
        };
        let _in = span.enter();
        let Some(cell) = self.actors.get(c.to) else {
            bump(&link.stats.unknown_actor);
            warn!(peer = %link.peer(), pid = c.to, variant = %c.variant, "dropping a cast for an unknown actor");
            return;
        };
        // What it will cost until the actor takes it: its bytes and its
        // place in the mailbox.
        let cost = u32::try_from(c.args.len() + c.variant.len() + IN_MAILBOX).unwrap_or(u32::MAX);
        let charged = link.inbox.charge(c.to, &cell, cost);
        let message = SerializedMessage::Cast {
            variant: c.variant,
            args: c.args,
            metadata: Some(self.cast_report.cast_metadata(c.to, charged)),
        };
        if cell.send_serialized(message).is_err() {
            link.inbox.refund(c.to, charged);
            bump(&link.stats.unknown_actor);
            warn!(peer = %link.peer(), pid = c.to, "dropping a cast for an actor that stopped");
        }
    }

    /// Delivers a call and answers it: the reply, or a CallError that says
    /// why there is none. Never waits on the outbound queue: an immediate
    /// error goes out as control traffic, and the reply is awaited and sent by
    /// a task of its own, so a slow callee or a full queue never holds up
    /// reading.
    fn call(&self, c: pb::Call) {
        let link = &self.link;
        bump(&link.stats.calls_received);
        let tag = c.tag;
        // The callee's half of the call, until its answer is sent (the
        // caller's half has the same tag).
        let span = debug_span!("call", pid = c.to, variant = %c.variant, tag, trace_id = Empty, parent_id = Empty);
        continue_trace(&span, &c.traceparent);
        let _in = span.enter();
        let Some(cell) = self.actors.get(c.to) else {
            let error = CallError::UnknownActor(format!("no actor {} is advertised here", c.to));
            link.send_control(Body::CallError(error.to_wire(tag)).into());
            return;
        };
        let timeout = (c.timeout_ms > 0).then(|| Duration::from_millis(c.timeout_ms));
        let (tx, rx) = oneshot::channel::<Vec<u8>>();
        let (report_tx, mut report_rx) = oneshot::channel();
        let registration = Registration::new(Sink::Call(report_tx));
        let message = SerializedMessage::Call {
            variant: c.variant,
            args: c.args,
            reply: reply::port(tx, timeout),
            metadata: Some(registration.metadata()),
        };
        if cell.send_serialized(message).is_err() {
            let error = CallError::ActorStopped(format!("actor {} stopped", c.to));
            link.send_control(Body::CallError(error.to_wire(tag)).into());
            return;
        }
        let link = link.clone();
        let task = async move {
            // A call without a timeout must not outlive its session: when the
            // link closes nobody is left to answer to.
            let outcome = tokio::select! {
                outcome = reply::within(timeout, rx) => outcome,
                () = link.ended() => return,
            };
            let answer = match outcome {
                Some(Ok(result)) => Body::CallReply(pb::CallReply { tag, result }),
                None => Body::CallError(CallError::Timeout.to_wire(tag)),
                Some(Err(_)) => {
                    // Whoever dropped the port filed a report first, if it
                    // knew why (the decoder, the port's own timer).
                    let error = report_rx.try_recv().unwrap_or_else(|_| {
                        if cell.get_status() >= ActorStatus::Stopping {
                            CallError::ActorStopped(format!(
                                "actor {} stopped before it replied",
                                c.to
                            ))
                        } else {
                            CallError::Dropped("the actor dropped the reply port".into())
                        }
                    });
                    Body::CallError(error.to_wire(tag))
                }
            };
            drop(registration);
            // A reply larger than the session allows becomes an error the caller sees.
            if let Err(Refused::TooLarge(n)) = link.send(answer).await {
                let error = CallError::TooLarge(format!(
                    "the reply is {n} bytes, more than the session's max message size"
                ));
                let _ = link.send(Body::CallError(error.to_wire(tag))).await;
            }
        };
        tokio::spawn(task.instrument(span.clone()));
    }
}
