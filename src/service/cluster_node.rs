//! The tonic implementation of `ClusterNode`.

use std::pin::Pin;

use ractor::{ActorRef, rpc::CallResult};
use tokio::sync::mpsc;
use tokio_stream::{Stream, wrappers::ReceiverStream};
use tonic::{Request, Response, Status, Streaming};

use crate::{
    node::{Accepted, InternalMsg, NodeServerMessage},
    pb::{self, cluster_node_server::ClusterNode},
};

/// The frames a node sends on a Session stream it serves.
type SessionStream = Pin<Box<dyn Stream<Item = Result<pb::Frame, Status>> + Send>>;

/// Serves `ClusterNode` by handing streams and questions to the node server.
#[derive(Debug, Clone)]
pub(crate) struct ClusterNodeService {
    node: ActorRef<NodeServerMessage>,
}

impl ClusterNodeService {
    pub(crate) fn new(node: ActorRef<NodeServerMessage>) -> Self {
        Self { node }
    }

    async fn ask<T: Send + 'static>(
        &self,
        msg: impl FnOnce(ractor::RpcReplyPort<T>) -> NodeServerMessage,
    ) -> Result<T, Status> {
        match self.node.call(msg, None).await {
            Ok(CallResult::Success(v)) => Ok(v),
            _ => Err(Status::unavailable("the node is stopping")),
        }
    }
}

#[tonic::async_trait]
impl ClusterNode for ClusterNodeService {
    type SessionStream = SessionStream;

    async fn session(
        &self,
        request: Request<Streaming<pb::Frame>>,
    ) -> Result<Response<Self::SessionStream>, Status> {
        let remote_addr = request.remote_addr();
        // The session actor reads the request stream and writes the response
        // through this queue; the handler returns at once so the response
        // headers go out and the handshake can start.
        let (tx, rx) = mpsc::channel(crate::node::OUTBOUND_QUEUE_FRAMES);
        self.node
            .cast(
                InternalMsg::Accepted(Box::new(Accepted {
                    inbound: request.into_inner(),
                    outbound: tx,
                    remote_addr,
                }))
                .into(),
            )
            .map_err(|_| Status::unavailable("the node is stopping"))?;
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn get_node_info(
        &self,
        _request: Request<pb::GetNodeInfoRequest>,
    ) -> Result<Response<pb::NodeInfo>, Status> {
        let info = self.ask(NodeServerMessage::GetInfo).await?;
        Ok(Response::new(info.to_pb()))
    }

    async fn list_peers(
        &self,
        _request: Request<pb::ListPeersRequest>,
    ) -> Result<Response<pb::ListPeersResponse>, Status> {
        let sessions = self.ask(NodeServerMessage::ListSessions).await?;
        Ok(Response::new(pb::ListPeersResponse {
            peers: sessions.iter().map(|s| s.to_pb()).collect(),
        }))
    }

    async fn list_actors(
        &self,
        _request: Request<pb::ListActorsRequest>,
    ) -> Result<Response<pb::ListActorsResponse>, Status> {
        let actors = self.ask(NodeServerMessage::ListActors).await?;
        Ok(Response::new(pb::ListActorsResponse {
            actors: actors.iter().map(|a| a.to_pb()).collect(),
        }))
    }

    async fn list_groups(
        &self,
        _request: Request<pb::ListGroupsRequest>,
    ) -> Result<Response<pb::ListGroupsResponse>, Status> {
        let groups = self.ask(NodeServerMessage::ListGroups).await?;
        Ok(Response::new(pb::ListGroupsResponse {
            groups: groups.iter().map(|g| g.to_pb()).collect(),
        }))
    }
}
