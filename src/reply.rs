//! Waiting on replies: the reply-port timeout rules and asking the node
//! server, in one place.
//!
//! A leaf: it knows ractor and tokio, nothing of this crate. Everything that
//! builds a reply port with an optional timeout, waits on one, or asks the
//! node server a question goes through here, so the rules (a `None` timeout
//! waits for ever; a stopped node server is [`NodeStopped`]) are written once.

use std::{future::Future, time::Duration};

use ractor::{ActorRef, Message, RpcReplyPort, rpc::CallResult};
use tokio::sync::oneshot;

/// The node server is not running (it stopped, or never started).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the node server is not running")]
pub struct NodeStopped;

/// A reply port over `tx` that carries `timeout`, if there is one.
pub(crate) fn port<T>(tx: oneshot::Sender<T>, timeout: Option<Duration>) -> RpcReplyPort<T> {
    match timeout {
        Some(t) => RpcReplyPort::from((tx, t)),
        None => RpcReplyPort::from(tx),
    }
}

/// Runs `future` to completion, or until `timeout` passes if there is one;
/// `None` when the time ran out.
pub(crate) async fn within<F: Future>(timeout: Option<Duration>, future: F) -> Option<F::Output> {
    match timeout {
        Some(t) => tokio::time::timeout(t, future).await.ok(),
        None => Some(future.await),
    }
}

/// Sends `actor` the request `msg` builds around a reply port and waits for
/// the answer, without a timeout: the node server answers every request, so
/// the only failure is that it is gone.
pub(crate) async fn ask<M: Message, T: Send + 'static>(
    actor: &ActorRef<M>,
    msg: impl FnOnce(RpcReplyPort<T>) -> M,
) -> Result<T, NodeStopped> {
    match actor.call(msg, None).await {
        Ok(CallResult::Success(v)) => Ok(v),
        _ => Err(NodeStopped),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn within_gives_up_at_the_timeout_and_none_waits_for_the_value() {
        let (_tx, rx) = oneshot::channel::<u8>();
        assert_eq!(within(Some(Duration::from_millis(10)), rx).await, None);
        let (tx, rx) = oneshot::channel::<u8>();
        let waiting = tokio::spawn(within(None, rx));
        tx.send(5).expect("send");
        assert_eq!(waiting.await.expect("task").map(Result::ok), Some(Some(5)));
    }

    #[test]
    fn a_port_carries_the_timeout_it_was_given() {
        let (tx, _rx) = oneshot::channel::<u8>();
        assert_eq!(port(tx, None).get_timeout(), None);
        let (tx, _rx) = oneshot::channel::<u8>();
        let t = Duration::from_millis(250);
        assert_eq!(port(tx, Some(t)).get_timeout(), Some(t));
    }
}
