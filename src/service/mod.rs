//! The gRPC face of a node: `ClusterNode`, reflection and health on one
//! port. Every unary `ClusterNode` RPC needs a client certificate or a
//! bearer token (`unary_auth`); `Session`, reflection and health are open,
//! `Session` within the limits on strangers (`admission`).
//!
//! Owns the tonic services and their assembly; turns gRPC requests into
//! messages for the node server. The node never imports this module: it
//! gets its face through [`NodeServer::new`], defined here, which hands it
//! [`serve`].

mod actor_rpc;
mod admission;
mod cluster_node;
mod unary_auth;

use ractor::ActorProcessingErr;

use crate::{
    node::{Face, NodeConfig, NodeServer},
    pb::{self, cluster_node_server::ClusterNodeServer},
    transport::Serving,
};

use admission::Admission;
use cluster_node::ClusterNodeService;
use unary_auth::Authenticated;

impl NodeServer {
    /// A node server with these settings.
    pub fn new(config: NodeConfig) -> Self {
        Self::with_face(config, |face| Box::pin(serve(face)))
    }
}

/// Serves `ClusterNode` (its unary RPCs behind `tokens`), reflection (v1
/// and v1alpha) and health on `listener`. Health reports SERVING from the
/// start.
async fn serve(face: Face) -> Result<Serving, ActorProcessingErr> {
    let Face {
        listener,
        settings,
        tokens,
        limits,
        node,
    } = face;
    let (health, health_service) = tonic_health::server::health_reporter();
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection().build_v1()?;
    let reflection_v1alpha = reflection().build_v1alpha()?;
    let max = settings.max_message_size;
    let cluster_node =
        ClusterNodeServer::new(ClusterNodeService::new(node, Admission::new(limits)))
            .max_decoding_message_size(max)
            .max_encoding_message_size(max);
    let cluster_node = Authenticated::new(cluster_node, tokens);
    let router = settings
        .server()?
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(cluster_node);
    // Silent connections get as long as a handshake to say something.
    let preface_deadline = settings.open_timeout;
    Ok(Serving::start(router, listener, health, preface_deadline).await)
}
