//! The protobuf contract, generated from `proto/ractor_grpc/v1/cluster.proto`.
//!
//! This module is public because it *is* the wire contract: programs in other
//! languages speak these messages, and the comments in the `.proto` file say
//! what every field means on the wire. [`FILE_DESCRIPTOR_SET`] is what server
//! reflection serves, so `grpcurl` can describe a live node without the file.

#[allow(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    clippy::use_self,
    clippy::all,
    clippy::pedantic
)]
mod generated {
    tonic::include_proto!("ractor_grpc.v1");
}

mod frame;

pub use frame::Frame;
pub(crate) use frame::{Queued, encode_envelope, framed_cast_len, framed_len};
pub use generated::*;

/// The encoded `FileDescriptorSet` of `proto/`, served by server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    tonic::include_file_descriptor_set!("ractor_grpc_descriptor");

/// The fully qualified name of the node service, as reflection and health
/// report it.
pub const CLUSTER_NODE_SERVICE: &str = "ractor_grpc.v1.ClusterNode";

impl From<envelope::Body> for Envelope {
    /// The envelope that carries `body`.
    fn from(body: envelope::Body) -> Self {
        Self { body: Some(body) }
    }
}

#[cfg(test)]
mod tests;
