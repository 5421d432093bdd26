//! Remote actors: the proxy that stands for a peer's actor, the link it
//! sends through, delivery of what the peer sends, and the bookkeeping of
//! calls in flight and why they fail.
//!
//! Owns the data path between a local `ActorRef` and the transport's
//! writer. Knows nothing of handshakes, the node server or which actors a
//! node advertises (it asks [`LocalActors`]).

mod call;
mod deliver;
mod error;
mod inbox;
mod link;
mod ports;
mod proxy;
mod report;
mod room;

pub use call::call;
pub(crate) use call::call_serialized;
pub(crate) use deliver::{Delivery, LocalActors, Traffic};
pub use error::{CallError, CallErrorKind};
pub(crate) use link::SessionLink;
pub use ports::{bytes_to_typed_port, decode_failed, message_taken, typed_to_bytes_port};
pub(crate) use proxy::{ProxyMsg, ProxyState, RemoteActor};
pub(crate) use room::{Registered, register};
pub use room::{SendError, send};
