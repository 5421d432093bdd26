//! The tonic implementation of `ClusterNode`: a Session stream is handed to
//! the node server, and each unary question is asked of it.

use std::sync::Arc;

use ractor::ActorRef;
use tonic::{Request, Response, Status, Streaming};

use super::{
    actor_rpc::{self, Args},
    admission::Admission,
};
use crate::{
    node::{
        ActorTarget, InternalMsg, NodeServerMessage, Reached, Selector, Wanted, describe_reached,
    },
    pb::{self, cluster_node_server::ClusterNode},
    reply::{NodeStopped, ask},
    transport::{ResponseFrames, SessionStream},
};

impl From<NodeStopped> for Status {
    fn from(_: NodeStopped) -> Self {
        Self::unavailable("the node is stopping")
    }
}

/// Serves `ClusterNode` by handing streams and questions to the node server.
#[derive(Debug, Clone)]
pub(super) struct ClusterNodeService {
    node: ActorRef<NodeServerMessage>,
    admission: Arc<Admission>,
}

impl ClusterNodeService {
    pub(super) fn new(node: ActorRef<NodeServerMessage>, admission: Admission) -> Self {
        Self {
            node,
            admission: Arc::new(admission),
        }
    }

    /// The actors a unary Cast or Call names, or NOT_FOUND.
    async fn reach(&self, wanted: Wanted) -> Result<Vec<Reached>, Status> {
        ask(&self.node, |reply| {
            InternalMsg::Reach { wanted, reply }.into()
        })
        .await?
        .map_err(Status::not_found)
    }
}

#[tonic::async_trait]
impl ClusterNode for ClusterNodeService {
    type SessionStream = ResponseFrames;

    async fn session(
        &self,
        request: Request<Streaming<pb::Frame>>,
    ) -> Result<Response<Self::SessionStream>, Status> {
        // Strangers past the limits are refused before any work is done.
        let permit = self
            .admission
            .admit(request.remote_addr().map(|a| a.ip()))?;
        // A session actor reads the request stream and writes the response;
        // the handler returns at once so the response headers go out and the
        // handshake can start.
        let (stream, response) = SessionStream::accept(request, permit);
        self.node
            .cast(InternalMsg::Accepted(Box::new(stream)).into())
            .map_err(|_| Status::from(NodeStopped))?;
        Ok(Response::new(response))
    }

    async fn get_node_info(
        &self,
        _request: Request<pb::GetNodeInfoRequest>,
    ) -> Result<Response<pb::NodeInfo>, Status> {
        let info = ask(&self.node, NodeServerMessage::GetInfo).await?;
        Ok(Response::new(info.to_pb()))
    }

    async fn list_peers(
        &self,
        _request: Request<pb::ListPeersRequest>,
    ) -> Result<Response<pb::ListPeersResponse>, Status> {
        let sessions = ask(&self.node, NodeServerMessage::ListSessions).await?;
        Ok(Response::new(pb::ListPeersResponse {
            peers: sessions.iter().map(|s| s.to_pb()).collect(),
        }))
    }

    async fn list_actors(
        &self,
        _request: Request<pb::ListActorsRequest>,
    ) -> Result<Response<pb::ListActorsResponse>, Status> {
        let actors = ask(&self.node, NodeServerMessage::ListActors).await?;
        Ok(Response::new(pb::ListActorsResponse {
            actors: actors.iter().map(|a| a.to_pb()).collect(),
        }))
    }

    async fn describe_actor(
        &self,
        request: Request<pb::DescribeActorRequest>,
    ) -> Result<Response<pb::ActorDescription>, Status> {
        use pb::describe_actor_request::Target;
        let request = request.into_inner();
        let target = match request.target {
            Some(Target::Pid(pid)) => ActorTarget::Pid(pid),
            Some(Target::Name(name)) => ActorTarget::Name(name),
            None => {
                return Err(Status::invalid_argument(
                    "name the actor: set `pid` or `name`",
                ));
            }
        };
        if !request.node.is_empty() {
            // On a named node (a peer's actor through its advert).
            let selector = match target {
                ActorTarget::Pid(pid) => Selector::Pid(pid),
                ActorTarget::Name(name) => Selector::Name(name),
            };
            let wanted = Wanted {
                selector,
                node: Some(request.node),
                all: false,
            };
            let found = self.reach(wanted).await?;
            let actor = found
                .first()
                .ok_or_else(|| Status::not_found("no actor matches"))?;
            return Ok(Response::new(describe_reached(actor).to_pb()));
        }
        let wanted = match &target {
            ActorTarget::Pid(pid) => format!("pid {pid}"),
            ActorTarget::Name(name) => format!("name {name:?}"),
        };
        let description = ask(&self.node, |reply| NodeServerMessage::DescribeActor {
            target,
            reply,
        })
        .await?;
        description
            .map(|d| Response::new(d.to_pb()))
            .ok_or_else(|| {
                Status::not_found(format!("this node advertises no actor with {wanted}"))
            })
    }

    async fn list_groups(
        &self,
        _request: Request<pb::ListGroupsRequest>,
    ) -> Result<Response<pb::ListGroupsResponse>, Status> {
        let groups = ask(&self.node, NodeServerMessage::ListGroups).await?;
        Ok(Response::new(pb::ListGroupsResponse {
            groups: groups.iter().map(|g| g.to_pb()).collect(),
        }))
    }

    async fn cast(
        &self,
        request: Request<pb::CastRequest>,
    ) -> Result<Response<pb::CastResponse>, Status> {
        let traced = actor_rpc::traceparent(request.metadata());
        let request = request.into_inner();
        let wanted = actor_rpc::wanted(request.target, request.all_members)?;
        let targets = self.reach(wanted).await?;
        let args = Args::from(request.arguments);
        actor_rpc::cast(targets, &request.variant, &args, traced).map(Response::new)
    }

    async fn call(
        &self,
        request: Request<pb::CallRequest>,
    ) -> Result<Response<pb::CallResponse>, Status> {
        let timeout = actor_rpc::call_timeout(request.metadata());
        let traced = actor_rpc::traceparent(request.metadata());
        let request = request.into_inner();
        let wanted = actor_rpc::wanted(request.target, false)?;
        let target = self
            .reach(wanted)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| Status::not_found("no actor matches the target"))?;
        let args = Args::from(request.arguments);
        actor_rpc::call(target, request.variant, &args, timeout, traced)
            .await
            .map(Response::new)
    }
}
