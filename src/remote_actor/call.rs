//! A call helper that says why a call failed.
//!
//! ractor's own `call` on a remote actor works too: a failed call ends at
//! once with `CallResult::SenderError` and the reason is logged. [`call`]
//! returns the reason as a [`CallError`] instead.

use std::time::Duration;

use ractor::{
    ActorCell, ActorRef, ActorStatus, Message, MessagingErr, RpcReplyPort,
    message::SerializedMessage, rpc::CallResult,
};
use tokio::sync::oneshot;

use super::{
    error::CallError,
    report::{Registration, Sink},
};
use crate::{
    reply,
    trace::{self, TraceParent},
    wire::{Wire, from_bytes},
};

/// Calls `actor` (local or remote) and waits for the reply, like
/// `ActorRef::call`, but a failure comes back as a [`CallError`] that says
/// why: unknown actor, undecodable message, dropped port, callee stopped,
/// disconnect or timeout. Failures end the call at once, not at its timeout.
///
/// # Errors
/// See [`CallError`]; [`CallError::kind`] tells the kinds apart.
///
/// # Examples
/// ```no_run
/// # use ractor::{ActorRef, RpcReplyPort};
/// # use ractor_grpc::RactorClusterMessage;
/// # #[derive(RactorClusterMessage)]
/// # enum Msg { #[rpc] Echo(u64, RpcReplyPort<u64>) }
/// # async fn f(actor: ActorRef<Msg>) -> Result<(), ractor_grpc::CallError> {
/// let answer = ractor_grpc::call(&actor, |reply| Msg::Echo(41, reply), Some(std::time::Duration::from_secs(5))).await?;
/// assert_eq!(answer, 42);
/// # Ok(())
/// # }
/// ```
pub async fn call<M, T, F>(
    actor: &ActorRef<M>,
    build: F,
    timeout: Option<Duration>,
) -> Result<T, CallError>
where
    M: Message,
    T: Wire + Send + 'static,
    F: FnOnce(RpcReplyPort<T>) -> M,
{
    if actor.get_id().is_local() {
        return match actor.call(build, timeout).await {
            Ok(CallResult::Success(v)) => Ok(v),
            Ok(CallResult::Timeout) => Err(CallError::Timeout),
            Ok(CallResult::SenderError) => Err(CallError::Dropped(
                "the actor dropped the reply port".into(),
            )),
            Err(MessagingErr::SendErr(_) | MessagingErr::ChannelClosed) => {
                Err(CallError::NotRunning)
            }
            Err(_) => Err(CallError::NotRemotable),
        };
    }
    // The typed port is only there to build the message: this function
    // reads the reply bytes itself, so it alone decides on a timeout and can
    // say when the reply does not decode.
    let (typed, _) = oneshot::channel::<T>();
    let Ok(SerializedMessage::Call {
        variant,
        args,
        metadata,
        ..
    }) = build(reply::port(typed, timeout)).serialize()
    else {
        return Err(CallError::NotRemotable);
    };
    // The caller's trace context, if the serializer noted one.
    let (_, traced) = trace::take_record(metadata);
    let bytes = call_serialized(&actor.get_cell(), variant, args, timeout, traced).await?;
    from_bytes::<T>(&bytes).map_err(|e| {
        CallError::Undecodable(format!(
            "the reply does not decode as {}: {e}",
            std::any::type_name::<T>()
        ))
    })
}

/// Calls the actor or proxy `cell` with a serialized message and returns
/// the reply's bytes, or why there are none (as [`call`] does). Unary Call
/// uses it directly, with arguments a client encoded.
pub(crate) async fn call_serialized(
    cell: &ActorCell,
    variant: String,
    args: Vec<u8>,
    timeout: Option<Duration>,
    traced: Option<TraceParent>,
) -> Result<Vec<u8>, CallError> {
    let (tx, rx) = oneshot::channel::<Vec<u8>>();
    let (report_tx, mut report_rx) = oneshot::channel();
    let registration = Registration::new(Sink::Call(report_tx));
    let message = SerializedMessage::Call {
        variant,
        args,
        reply: reply::port(tx, timeout),
        // A trace rides only to a proxy, which takes it off; a local actor's
        // decoder reads the metadata as the report sink alone.
        metadata: trace::with_record(
            Some(registration.metadata()),
            traced.filter(|_| !cell.get_id().is_local()),
        ),
    };
    cell.send_serialized(message)
        .map_err(|_| CallError::NotRunning)?;
    match reply::within(timeout, rx).await {
        None => Err(CallError::Timeout),
        Some(Ok(bytes)) => Ok(bytes),
        // Whoever dropped the port reported why first.
        Some(Err(_)) => Err(match report_rx.try_recv() {
            Ok(error) => error,
            // The call was still in the mailbox when the actor stopped (for
            // a proxy: its actor stopped on the peer).
            Err(_) if cell.get_status() >= ActorStatus::Stopping => {
                CallError::ActorStopped(if cell.get_id().is_local() {
                    "the actor stopped before it took the call".into()
                } else {
                    "the proxy stopped before the call left: the actor stopped on its node".into()
                })
            }
            Err(_) if cell.get_id().is_local() => {
                CallError::Dropped("the actor dropped the reply port without replying".into())
            }
            Err(_) => CallError::Dropped("the call was dropped before it left this node".into()),
        }),
    }
}
