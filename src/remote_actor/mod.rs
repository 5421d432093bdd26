//! Remote actors: the proxy that stands for a peer's actor, the link it
//! sends through, and the bookkeeping of calls in flight.

mod call;
pub(crate) mod deliver;
pub(crate) mod link;
pub(crate) mod proxy;
pub(crate) mod report;
pub(crate) mod writer;

pub use call::{CallError, call};
