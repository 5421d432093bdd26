//! A call helper that says why a call failed.
//!
//! ractor's own `call` on a remote actor works too: a failed call ends at
//! once with `CallResult::SenderError` and the reason is logged. [`call`]
//! returns the reason as a [`CallError`] instead.

use std::time::Duration;

use ractor::{
    ActorRef, ActorStatus, Message, MessagingErr, RpcReplyPort, message::SerializedMessage,
    rpc::CallResult,
};
use tokio::sync::oneshot;

use super::{
    link::CallFailure,
    report::{Registration, Sink},
};
use crate::wire::Wire;

/// Why [`call`] got no reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The timeout passed without a reply.
    #[error("no reply within the timeout")]
    Timeout,
    /// The peer has no advertised actor with that id (it stopped, or never
    /// was remotable).
    #[error("unknown actor: {0}")]
    UnknownActor(String),
    /// The callee's node could not decode the message as the actor's type.
    #[error("the message does not decode at the callee: {0}")]
    Undecodable(String),
    /// The callee dropped the reply port without replying (or its reply did
    /// not decode here).
    #[error("the callee dropped the reply port: {0}")]
    Dropped(String),
    /// The callee stopped before it replied.
    #[error("the callee stopped: {0}")]
    ActorStopped(String),
    /// The session with the callee's node ended before the reply.
    #[error("the peer disconnected: {0}")]
    Disconnected(String),
    /// The message is larger than the session's max message size.
    #[error("the message is too large: {0}")]
    TooLarge(String),
    /// The actor (or its proxy) is not running.
    #[error("the actor is not running")]
    NotRunning,
    /// The message cannot be sent to a remote actor (its type is not a
    /// `RactorClusterMessage`, or the builder made a cast variant).
    #[error("the message cannot be sent as a remote call")]
    NotRemotable,
}

impl CallError {
    fn from_report(report: &str) -> Self {
        let (word, detail) = report.split_once(": ").unwrap_or((report, ""));
        let detail = detail.to_owned();
        match CallFailure::from_str(word) {
            Some(CallFailure::UnknownActor) => Self::UnknownActor(detail),
            Some(CallFailure::Undecodable) => Self::Undecodable(detail),
            Some(CallFailure::ActorStopped) => Self::ActorStopped(detail),
            Some(CallFailure::Timeout) => Self::Timeout,
            Some(CallFailure::Disconnected) => Self::Disconnected(detail),
            Some(CallFailure::TooLarge) => Self::TooLarge(detail),
            Some(CallFailure::Dropped) | None => Self::Dropped(detail),
        }
    }
}

/// Calls `actor` (local or remote) and waits for the reply, like
/// `ActorRef::call`, but a failure comes back as a [`CallError`] that says
/// why: unknown actor, undecodable message, dropped port, callee stopped,
/// disconnect or timeout. Failures end the call at once, not at its timeout.
///
/// # Errors
/// See [`CallError`].
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
    let (tx, rx) = oneshot::channel::<T>();
    let port = match timeout {
        Some(t) => RpcReplyPort::from((tx, t)),
        None => RpcReplyPort::from(tx),
    };
    let Ok(SerializedMessage::Call {
        variant,
        args,
        reply,
        ..
    }) = build(port).serialize()
    else {
        return Err(CallError::NotRemotable);
    };
    let (report_tx, mut report_rx) = oneshot::channel();
    let registration = Registration::new(Sink::Call(report_tx));
    let message = SerializedMessage::Call {
        variant,
        args,
        reply,
        metadata: Some(registration.metadata()),
    };
    actor
        .get_cell()
        .send_serialized(message)
        .map_err(|_| CallError::NotRunning)?;
    let outcome = super::within(timeout, rx).await.ok_or(CallError::Timeout)?;
    match outcome {
        Ok(v) => Ok(v),
        // The link reports before it drops the port, so a report is here now.
        Err(_) => Err(match report_rx.try_recv() {
            Ok(report) => CallError::from_report(&report),
            // The call was still in the proxy's mailbox when the proxy
            // stopped (its actor stopped, or the session ended).
            Err(_) if actor.get_status() >= ActorStatus::Stopping => CallError::ActorStopped(
                "the proxy stopped before the call left: the actor stopped or the session ended"
                    .into(),
            ),
            Err(_) => CallError::Dropped("no reply arrived (or the reply did not decode)".into()),
        }),
    }
}
