//! Unary Cast and Call: clients that are not nodes reach actors through this
//! node, with payload bytes or JSON.
//!
//! Owns turning a request into a payload checked against the actor's
//! description, handing it to the actor (or its proxy), and the map from a
//! call's failure to a gRPC status. Which actors a request names is the
//! node's answer (`InternalMsg::Reach`).

use std::time::Duration;

use ractor::message::SerializedMessage;
use tonic::{Status, metadata::MetadataMap};
use tracing::warn;

use crate::{
    node::{Reached, Selector, Wanted},
    pb,
    remote_actor::{CallError, call_serialized},
    trace::{self, TraceParent},
    wire::{VariantSchema, args_from_json, check_args, value_to_json},
};

/// How long a unary Call waits when the request carries no deadline.
pub(super) const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A request's arguments, whichever form they came in.
#[derive(Debug)]
pub(super) enum Args {
    /// None given.
    None,
    /// Payload bytes.
    Bytes(Vec<u8>),
    /// A JSON array.
    Json(String),
}

impl From<Option<pb::cast_request::Arguments>> for Args {
    fn from(a: Option<pb::cast_request::Arguments>) -> Self {
        use pb::cast_request::Arguments as A;
        match a {
            None => Self::None,
            Some(A::Args(b)) => Self::Bytes(b),
            Some(A::ArgsJson(j)) => Self::Json(j),
        }
    }
}

impl From<Option<pb::call_request::Arguments>> for Args {
    fn from(a: Option<pb::call_request::Arguments>) -> Self {
        use pb::call_request::Arguments as A;
        match a {
            None => Self::None,
            Some(A::Args(b)) => Self::Bytes(b),
            Some(A::ArgsJson(j)) => Self::Json(j),
        }
    }
}

/// What a request's `target` asks the node for.
pub(super) fn wanted(target: Option<pb::ActorSelector>, all: bool) -> Result<Wanted, Status> {
    use pb::actor_selector::Actor;
    let missing =
        || Status::invalid_argument("name the actor: set `target` with `pid`, `name` or `group`");
    let target = target.ok_or_else(missing)?;
    let selector = match target.actor.ok_or_else(missing)? {
        Actor::Pid(pid) => Selector::Pid(pid),
        Actor::Name(name) => Selector::Name(name),
        Actor::Group(g) => {
            if g.group.is_empty() {
                return Err(Status::invalid_argument("target.group: `group` is empty"));
            }
            let scope = if g.scope.is_empty() {
                ractor::pg::DEFAULT_SCOPE.to_owned()
            } else {
                g.scope
            };
            Selector::Group {
                scope,
                group: g.group,
            }
        }
    };
    Ok(Wanted {
        selector,
        node: (!target.node.is_empty()).then_some(target.node),
        all,
    })
}

/// The variant of `target`'s message type named `variant`, when the type is
/// known here; `call` says which kind the request needs.
fn variant_of<'s>(
    target: &'s Reached,
    variant: &str,
    call: bool,
) -> Result<Option<&'s VariantSchema>, Status> {
    let Some(schema) = &target.schema else {
        return Ok(None);
    };
    let Some(v) = schema.variant(variant) else {
        let names: Vec<&str> = schema.variants.iter().map(|v| v.name.as_str()).collect();
        return Err(Status::invalid_argument(format!(
            "variant: {} ({}) has no variant {variant:?}; its variants are {}",
            target.label(),
            schema.type_name,
            names.join(", ")
        )));
    };
    match (v.is_call(), call) {
        (true, false) => Err(Status::invalid_argument(format!(
            "variant: {}::{variant} is a call (it replies): send it with Call",
            schema.type_name
        ))),
        (false, true) => Err(Status::invalid_argument(format!(
            "variant: {}::{variant} is a cast (it does not reply): send it with Cast",
            schema.type_name
        ))),
        _ => Ok(Some(v)),
    }
}

/// The payload for `target`: checked against its variant when its type is
/// known here, encoded from JSON (which needs the type).
fn payload(target: &Reached, variant: &str, args: &Args, call: bool) -> Result<Vec<u8>, Status> {
    let invalid = |e: crate::wire::ArgsError| Status::invalid_argument(e.to_string());
    match (variant_of(target, variant, call)?, args) {
        (Some(v), Args::Json(json)) => args_from_json(v, json).map_err(invalid),
        (Some(v), Args::Bytes(bytes)) => {
            check_args(v, bytes).map_err(invalid)?;
            Ok(bytes.clone())
        }
        (Some(v), Args::None) if !v.args.is_empty() => Err(Status::invalid_argument(format!(
            "args: {variant} takes {} argument(s) ({}): set `args` or `args_json`",
            v.args.len(),
            v.args
                .iter()
                .map(|a| a.ty.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
        (None, Args::Json(_)) => Err(Status::failed_precondition(format!(
            "args_json: the message type of {} is not known on this node (it does not \
             describe itself), so JSON cannot be encoded for it: send `args` as payload bytes",
            target.label()
        ))),
        (_, Args::Bytes(bytes)) => Ok(bytes.clone()),
        (_, Args::None) => Ok(Vec::new()),
    }
}

impl Reached {
    fn location(&self) -> pb::ActorLocation {
        pb::ActorLocation {
            node: self.node.clone(),
            pid: self.pid,
            name: self.name.clone().unwrap_or_default(),
        }
    }
}

/// Hands `variant` with `args` to each target, after checking the payload
/// for every one of them (a request that does not fit one reaches none).
pub(super) fn cast(
    targets: Vec<Reached>,
    variant: &str,
    args: &Args,
    traced: Option<TraceParent>,
) -> Result<pb::CastResponse, Status> {
    let prepared = targets
        .into_iter()
        .map(|t| Ok((payload(&t, variant, args, false)?, t)))
        .collect::<Result<Vec<_>, Status>>()?;
    let mut delivered = Vec::with_capacity(prepared.len());
    let mut gone = Vec::new();
    for (bytes, target) in prepared {
        let message = SerializedMessage::Cast {
            variant: variant.to_owned(),
            args: bytes,
            // Only a proxy takes a trace off the metadata.
            metadata: trace::with_record(None, traced.filter(|_| !target.cell.get_id().is_local())),
        };
        match target.cell.send_serialized(message) {
            Ok(()) => delivered.push(target.location()),
            Err(_) => gone.push(target.label()),
        }
    }
    if delivered.is_empty() {
        return Err(Status::unavailable(format!(
            "{} stopped (or its session ended) before the message was handed over",
            gone.join(", ")
        )));
    }
    Ok(pb::CastResponse { delivered })
}

/// Calls `target` and waits at most `timeout` for its reply.
pub(super) async fn call(
    target: Reached,
    variant: String,
    args: &Args,
    timeout: Duration,
    traced: Option<TraceParent>,
) -> Result<pb::CallResponse, Status> {
    let bytes = payload(&target, &variant, args, true)?;
    let reply_type = variant_of(&target, &variant, true)?.and_then(|v| v.reply.clone());
    let result = call_serialized(&target.cell, variant, bytes, Some(timeout), traced)
        .await
        .map_err(|e| call_status(e, &target, timeout))?;
    let result_json = reply_type
        .and_then(|ty| match value_to_json(&ty, &result) {
            Ok(json) => Some(json.to_string()),
            Err(e) => {
                warn!(actor = %target.label(), reply_type = %ty, error = %e, "a reply does not decode as its described type; answering with its bytes only");
                None
            }
        })
        .unwrap_or_default();
    Ok(pb::CallResponse {
        result,
        result_json,
        actor: Some(target.location()),
    })
}

/// The status a unary Call ends with when `target` gave no reply.
fn call_status(error: CallError, target: &Reached, timeout: Duration) -> Status {
    let who = target.label();
    match error {
        CallError::Timeout => Status::deadline_exceeded(format!(
            "{who} did not reply within {} ms",
            timeout.as_millis()
        )),
        CallError::UnknownActor(d) => Status::not_found(format!("{who}: {d}")),
        CallError::Undecodable(d) => Status::invalid_argument(format!("{who}: {d}")),
        CallError::Dropped(d) | CallError::ActorStopped(d) => {
            Status::aborted(format!("{who}: {d}"))
        }
        CallError::Disconnected(d) => {
            Status::unavailable(format!("the session to {} ended: {d}", target.node))
        }
        CallError::NotRunning => Status::unavailable(format!(
            "{who} stopped (or its session ended) before the call was handed over"
        )),
        CallError::TooLarge(d) | CallError::Overloaded(d) => {
            Status::resource_exhausted(format!("{who}: {d}"))
        }
        other => Status::internal(format!("{who}: {other}")),
    }
}

/// How long a unary Call may wait: a little less than the request's
/// `grpc-timeout`, so the node answers DEADLINE_EXCEEDED itself before the
/// server cancels the RPC; [`DEFAULT_CALL_TIMEOUT`] without one.
/// The trace context a client sent in a `traceparent` header (W3C Trace
/// Context over gRPC metadata), if valid: a unary Cast or Call continues it
/// as a cast or call from this node would.
pub(super) fn traceparent(metadata: &MetadataMap) -> Option<TraceParent> {
    TraceParent::parse(metadata.get("traceparent")?.to_str().ok()?)
}

pub(super) fn call_timeout(metadata: &MetadataMap) -> Duration {
    let Some(deadline) = metadata
        .get("grpc-timeout")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_grpc_timeout)
    else {
        return DEFAULT_CALL_TIMEOUT;
    };
    let margin = (deadline / 10).min(Duration::from_millis(50));
    deadline - margin
}

/// A `grpc-timeout` value: up to 8 digits and a unit (H, M, S, m, u, n).
fn parse_grpc_timeout(text: &str) -> Option<Duration> {
    let unit = text.chars().last()?;
    let digits = &text[..text.len() - unit.len_utf8()];
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        'H' => Duration::from_secs(n * 3600),
        'M' => Duration::from_secs(n * 60),
        'S' => Duration::from_secs(n),
        'm' => Duration::from_millis(n),
        'u' => Duration::from_micros(n),
        'n' => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_parse_as_the_spec_says() {
        assert_eq!(parse_grpc_timeout("2S"), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_grpc_timeout("1500m"),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(parse_grpc_timeout("3M"), Some(Duration::from_secs(180)));
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(
            parse_grpc_timeout("99999999u"),
            Some(Duration::from_micros(99_999_999))
        );
        assert_eq!(parse_grpc_timeout("5n"), Some(Duration::from_nanos(5)));
        for bad in ["", "S", "123456789S", "2s", "-1S", "1.5S", "2é"] {
            assert_eq!(parse_grpc_timeout(bad), None, "{bad:?}");
        }
        let mut metadata = MetadataMap::new();
        assert_eq!(call_timeout(&metadata), DEFAULT_CALL_TIMEOUT);
        metadata.insert("grpc-timeout", "2S".parse().expect("ascii"));
        assert_eq!(call_timeout(&metadata), Duration::from_millis(1950));
        metadata.insert("grpc-timeout", "100m".parse().expect("ascii"));
        assert_eq!(call_timeout(&metadata), Duration::from_millis(90));
    }
}
