//! The lifecycle of a node's gRPC server: serving, reporting health, and
//! stopping within a grace period; or, for a mounted node, only holding the
//! services for the application's own server.
//!
//! Owns the listener's task, the health statuses and the services to hand
//! out; which services those are is `service`'s business.

use std::time::Duration;

use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tokio_stream::StreamExt as _;
use tonic::{service::Routes, transport::server::TcpIncoming};
use tonic_health::{ServingStatus, server::HealthReporter};
use tracing::warn;

use super::preface::PrefaceDeadline;
use crate::pb;

/// A node's services, served on its own listener until [`Serving::stop`],
/// or mounted: handed to the application, which serves them.
#[derive(Debug)]
pub(crate) struct Serving {
    routes: Routes,
    health: HealthReporter,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Serving {
    /// Holds `routes` for the application to serve. `health` is the
    /// reporter of the health service `routes` carries; the node's services
    /// are reported SERVING from the start.
    pub(crate) async fn mounted(routes: Routes, health: HealthReporter) -> Self {
        for name in ["", pb::CLUSTER_NODE_SERVICE] {
            health
                .set_service_status(name, ServingStatus::Serving)
                .await;
        }
        Self {
            routes,
            health,
            shutdown: None,
            task: None,
        }
    }

    /// Serves `routes` on `listener` with `server`'s settings until
    /// stopped, and holds them for the application too (see
    /// [`Serving::mounted`]). A connection whose client has not sent the
    /// HTTP/2 preface within `preface_deadline` is closed.
    pub(crate) async fn start(
        mut server: tonic::transport::Server,
        routes: Routes,
        listener: TcpListener,
        health: HealthReporter,
        preface_deadline: Duration,
    ) -> Self {
        let mut serving = Self::mounted(routes, health).await;
        let router = server.add_routes(serving.routes.clone());
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
        serving.shutdown = Some(shutdown);
        serving.task = Some(task);
        serving
    }

    /// The node's services, to serve on a server of the application's.
    pub(crate) fn routes(&self) -> Routes {
        self.routes.clone()
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
