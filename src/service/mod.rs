//! The gRPC face of a node: `ClusterNode`, reflection and health on one port.

mod cluster_node;

use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tonic::transport::{Server, server::TcpIncoming};
use tonic_health::{ServingStatus, server::HealthReporter};
use tracing::warn;

use crate::{
    node::{NodeConfig, NodeServerMessage},
    pb::{self, cluster_node_server::ClusterNodeServer},
};

pub(crate) use cluster_node::ClusterNodeService;

/// HTTP/2 flow-control window of one stream. tonic's default is 64 KiB,
/// which stalls a session on a window update every 64 KiB of payload.
pub(crate) const STREAM_WINDOW: u32 = 4 * 1024 * 1024;
/// HTTP/2 flow-control window of a whole connection.
pub(crate) const CONNECTION_WINDOW: u32 = 8 * 1024 * 1024;
/// Largest HTTP/2 frame (default 16 KiB): fewer frame headers for big batches.
pub(crate) const MAX_FRAME: u32 = 1024 * 1024;

/// Starts serving `ClusterNode`, reflection (v1 and v1alpha) and health on
/// `listener` until `shutdown` fires. Health reports SERVING from the start.
pub(crate) async fn serve(
    listener: TcpListener,
    config: &NodeConfig,
    node: ractor::ActorRef<NodeServerMessage>,
    shutdown: oneshot::Receiver<()>,
) -> Result<(HealthReporter, JoinHandle<()>), Box<dyn std::error::Error + Send + Sync>> {
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_service_status(pb::CLUSTER_NODE_SERVICE, ServingStatus::Serving)
        .await;
    health.set_service_status("", ServingStatus::Serving).await;

    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection().build_v1()?;
    let reflection_v1alpha = reflection().build_v1alpha()?;

    let max = config.max_message_size();
    let cluster_node = ClusterNodeServer::new(ClusterNodeService::new(node))
        .max_decoding_message_size(max)
        .max_encoding_message_size(max);

    let heartbeat = config.heartbeat();
    let router = Server::builder()
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_frame_size(MAX_FRAME)
        .http2_keepalive_interval(Some(heartbeat.interval))
        .http2_keepalive_timeout(Some(heartbeat.timeout))
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(cluster_node);
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    let task = tokio::spawn(async move {
        let stop = async {
            let _ = shutdown.await;
        };
        if let Err(e) = router.serve_with_incoming_shutdown(incoming, stop).await {
            warn!(error = %e, "gRPC server ended with an error");
        }
    });
    Ok((health, task))
}
