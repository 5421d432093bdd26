//! The lifecycle of a node's gRPC server: serving, reporting health, and
//! stopping within a grace period.
//!
//! Owns the listener's task and the health statuses; which services the
//! router carries is `service`'s business.

use std::time::Duration;

use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tokio_stream::StreamExt as _;
use tonic::transport::server::{Router, TcpIncoming};
use tonic_health::{ServingStatus, server::HealthReporter};
use tracing::warn;

use super::preface::PrefaceDeadline;
use crate::pb;

/// A running gRPC server: stop it with [`Serving::stop`].
#[derive(Debug)]
pub(crate) struct Serving {
    health: HealthReporter,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Serving {
    /// Serves `router` on `listener` until stopped. `health` is the reporter
    /// of the health service `router` carries; the node's services are
    /// reported SERVING from the start. A connection whose client has not
    /// sent the HTTP/2 preface within `preface_deadline` is closed.
    pub(crate) async fn start(
        router: Router,
        listener: TcpListener,
        health: HealthReporter,
        preface_deadline: Duration,
    ) -> Self {
        for name in ["", pb::CLUSTER_NODE_SERVICE] {
            health
                .set_service_status(name, ServingStatus::Serving)
                .await;
        }
        let (shutdown, stopped) = oneshot::channel::<()>();
        let incoming = TcpIncoming::from(listener)
            .with_nodelay(Some(true))
            .map(move |accepted| accepted.map(|tcp| PrefaceDeadline::new(tcp, preface_deadline)));
        let task = tokio::spawn(async move {
            let stop = async {
                let _ = stopped.await;
            };
            if let Err(e) = router.serve_with_incoming_shutdown(incoming, stop).await {
                warn!(error = %e, "gRPC server ended with an error");
            }
        });
        Self {
            health,
            shutdown: Some(shutdown),
            task: Some(task),
        }
    }

    /// Reports the node's services NOT_SERVING (it is stopping).
    pub(crate) async fn not_serving(&self) {
        for name in ["", pb::CLUSTER_NODE_SERVICE] {
            self.health
                .set_service_status(name, ServingStatus::NotServing)
                .await;
        }
    }

    /// Closes the listener and waits up to `grace` for open connections to
    /// finish, then drops them.
    pub(crate) async fn stop(&mut self, grace: Duration) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(grace, &mut task).await.is_err()
        {
            task.abort();
        }
    }
}
