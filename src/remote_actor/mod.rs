//! Remote actors: the proxy that stands for a peer's actor, the link it
//! sends through, and the bookkeeping of calls in flight.

mod call;
pub(crate) mod deliver;
pub(crate) mod link;
pub(crate) mod proxy;
pub(crate) mod report;
pub(crate) mod writer;

pub use call::{CallError, call};

/// Runs `future` to completion, or until `timeout` passes if there is one;
/// `None` when the time ran out. A reply port's optional timeout is waited on
/// this way wherever a reply is awaited.
pub(crate) async fn within<F: std::future::Future>(
    timeout: Option<std::time::Duration>,
    future: F,
) -> Option<F::Output> {
    match timeout {
        Some(t) => tokio::time::timeout(t, future).await.ok(),
        None => Some(future.await),
    }
}
