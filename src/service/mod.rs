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
use tonic::service::Routes;

use crate::{
    node::{Face, NodeConfig, NodeServer},
    pb::{self, cluster_node_server::ClusterNodeServer},
    transport::Serving,
};

use admission::Admission;
use cluster_node::ClusterNodeService;
use unary_auth::Authenticated;

impl NodeServer {
    /// A node server with these settings: it binds its listener when it
    /// starts and serves its services there.
    pub fn new(config: NodeConfig) -> Self {
        Self::with_face(config, |face| Box::pin(serve(face)), true)
    }

    /// A node server whose services an application serves on its own
    /// server: it binds no listener. Get the services with
    /// [`services`](crate::services) once it is spawned, and serve them on a
    /// tonic `Server` or an axum router, with the application's own
    /// services and tower layers.
    ///
    /// `config`'s listen address is where the application serves them (a
    /// port is needed, or an advertise address): peers are told to dial
    /// it. The node's TLS settings are for the sessions it dials; the
    /// application's server must serve TLS itself when its peers expect it.
    /// Its HTTP/2 settings are the application's too (the node's heartbeat
    /// finds dead peers whatever they are). Stopping the node ends its
    /// sessions and reports its health NOT_SERVING; Session streams that
    /// arrive afterwards are refused with UNAVAILABLE.
    pub fn mounted(config: NodeConfig) -> Self {
        Self::with_face(config, |face| Box::pin(serve(face)), false)
    }
}

/// `ClusterNode` (its unary RPCs behind `tokens`), reflection (v1 and
/// v1alpha) and health, served on `listener` if there is one. Health
/// reports SERVING from the start.
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
    let routes = Routes::new(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(cluster_node);
    let Some(listener) = listener else {
        return Ok(Serving::mounted(routes, health).await);
    };
    // Silent connections get as long as a handshake to say something.
    let preface_deadline = settings.open_timeout;
    let server = settings.server()?;
    Ok(Serving::start(server, routes, listener, health, preface_deadline).await)
}
