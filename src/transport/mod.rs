//! What the server side and the dialing side of a Session stream share: the
//! HTTP/2 and TLS settings, the two halves of a stream, the outbox of encoded
//! envelopes and the writer that feeds the sending half, dialing, and the lifecycle of a node's gRPC server.
//!
//! Owns every tonic transport detail; knows nothing of sessions, actors or
//! the node server. Above `pb` and `reason`, below everything that moves
//! envelopes.

mod dial;
mod outbox;
mod preface;
mod serve;
mod settings;
mod stream;
mod tls;
mod writer;

pub(crate) use dial::{DialError, dial};
pub(crate) use outbox::{Bound, Outbox, Refused};
pub(crate) use serve::Serving;
pub(crate) use settings::Settings;
pub use stream::Direction;
#[cfg(test)]
pub(crate) use stream::acceptor_channel;
pub(crate) use stream::{ResponseFrames, SessionStream};
pub use tls::TlsConfig;
pub(crate) use writer::{Farewell, FrameTx, LastStatus, run as run_writer};
