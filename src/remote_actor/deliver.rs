//! Incoming casts and calls: checked against the advertised actors, then
//! handed to the local actor still serialized (it decodes them itself).

use std::{
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use ractor::{ActorStatus, RpcReplyPort, message::SerializedMessage};
use tokio::sync::oneshot;
use tracing::warn;

use super::{
    link::{CallFailure, Refused, SessionLink},
    report::{Registration, Sink},
};
use crate::{
    pb::{self, envelope::Body},
    registry::adverts::Adverts,
};

/// What delivering incoming traffic needs. The session actor and its reader
/// task each hold one (the reader once the peer is ready, the session before).
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    pub(crate) link: Arc<SessionLink>,
    pub(crate) adverts: Arc<Adverts>,
    /// Metadata that counts casts whose payload does not decode here.
    pub(crate) cast_report: Arc<Registration>,
}

impl Delivery {
    /// Delivers a cast or a call, or completes one of our calls. Any other
    /// body is handed back for the session to handle.
    pub(crate) fn traffic(&self, body: Option<Body>) -> Result<(), Option<Body>> {
        match body {
            Some(Body::Cast(c)) => cast(&self.link, &self.adverts, &self.cast_report, c),
            Some(Body::Call(c)) => call(&self.link, &self.adverts, c),
            Some(Body::CallReply(r)) => self.link.complete(r.tag, r.result),
            Some(Body::CallError(e)) => {
                self.link
                    .fail(e.tag, CallFailure::from_code(e.code), &e.detail)
            }
            other => return Err(other),
        }
        Ok(())
    }
}

/// Delivers a cast. Casts to unknown actors are counted and logged: a cast
/// has nobody to answer to.
fn cast(link: &SessionLink, adverts: &Adverts, cast_report: &Registration, c: pb::Cast) {
    link.stats.casts_received.fetch_add(1, Ordering::Relaxed);
    let Some(cell) = adverts.get(c.to) else {
        link.stats.unknown_actor.fetch_add(1, Ordering::Relaxed);
        warn!(peer = %link.peer(), pid = c.to, variant = %c.variant, "dropping a cast for an unknown actor");
        return;
    };
    let message = SerializedMessage::Cast {
        variant: c.variant,
        args: c.args,
        metadata: Some(cast_report.metadata()),
    };
    if cell.send_serialized(message).is_err() {
        link.stats.unknown_actor.fetch_add(1, Ordering::Relaxed);
        warn!(peer = %link.peer(), pid = c.to, "dropping a cast for an actor that stopped");
    }
}

fn envelope(body: Body) -> pb::Envelope {
    pb::Envelope { body: Some(body) }
}

fn error(tag: u64, failure: CallFailure, detail: String) -> Body {
    Body::CallError(pb::CallError {
        tag,
        code: failure.code() as i32,
        detail,
    })
}

/// Delivers a call and answers it: the reply, or a CallError that says why
/// there is none. Never waits on the outbound queue: an immediate error goes
/// out as control traffic, and the reply is awaited and sent by a task of its
/// own, so a slow callee or a full queue never holds up reading.
fn call(link: &Arc<SessionLink>, adverts: &Adverts, c: pb::Call) {
    link.stats.calls_received.fetch_add(1, Ordering::Relaxed);
    let tag = c.tag;
    let Some(cell) = adverts.get(c.to) else {
        let detail = format!("no actor {} is advertised here", c.to);
        link.send_control(envelope(error(tag, CallFailure::UnknownActor, detail)));
        return;
    };
    let timeout = (c.timeout_ms > 0).then(|| Duration::from_millis(c.timeout_ms));
    let (tx, rx) = oneshot::channel::<Vec<u8>>();
    let reply = match timeout {
        Some(t) => RpcReplyPort::from((tx, t)),
        None => RpcReplyPort::from(tx),
    };
    let (report_tx, mut report_rx) = oneshot::channel();
    let registration = Registration::new(Sink::Call(report_tx));
    let message = SerializedMessage::Call {
        variant: c.variant,
        args: c.args,
        reply,
        metadata: Some(registration.metadata()),
    };
    if cell.send_serialized(message).is_err() {
        let detail = format!("actor {} stopped", c.to);
        link.send_control(envelope(error(tag, CallFailure::ActorStopped, detail)));
        return;
    }
    let link = link.clone();
    tokio::spawn(async move {
        // A call without a timeout must not outlive its session: when the
        // link closes nobody is left to answer to.
        let outcome = tokio::select! {
            outcome = super::within(timeout, rx) => outcome,
            () = link.ended() => return,
        };
        let answer = match outcome {
            Some(Ok(result)) => Body::CallReply(pb::CallReply { tag, result }),
            None => error(
                tag,
                CallFailure::Timeout,
                "no reply within the caller's timeout".into(),
            ),
            Some(Err(_)) => {
                if let Ok(detail) = report_rx.try_recv() {
                    error(tag, CallFailure::Undecodable, detail)
                } else if cell.get_status() >= ActorStatus::Stopping {
                    error(
                        tag,
                        CallFailure::ActorStopped,
                        format!("actor {} stopped before it replied", c.to),
                    )
                } else {
                    error(
                        tag,
                        CallFailure::Dropped,
                        "the actor dropped the reply port".into(),
                    )
                }
            }
        };
        drop(registration);
        // A reply larger than the session allows becomes an error the caller sees.
        if let Err(Refused::TooLarge(n)) = link.send(answer).await {
            let detail =
                format!("the reply is {n} bytes, more than the session's max message size");
            let _ = link.send(error(tag, CallFailure::TooLarge, detail)).await;
        }
    });
}
