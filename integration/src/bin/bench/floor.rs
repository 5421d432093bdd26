//! The floor: a bare tonic ping-pong over one `ClusterNode/Session` bidi
//! stream, with no actors, sessions or handshake. A gRPC call of either kind
//! sits on this; call latency is reported against it.

use std::{net::Ipv4Addr, time::Instant};

use ractor_grpc::pb::{
    Call, Envelope, Frame, GetNodeInfoRequest, ListActorsRequest, ListActorsResponse,
    ListGroupsRequest, ListGroupsResponse, ListPeersRequest, ListPeersResponse, NodeInfo,
    cluster_node_client::ClusterNodeClient,
    cluster_node_server::{ClusterNode, ClusterNodeServer},
    envelope::Body,
};
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::{Request, Response, Status, Streaming, transport::Endpoint};

use crate::{
    Result,
    child::{Commands, Figures, announce},
    measure::{histogram, quantile_us, record},
    workload::Sizes,
};

/// Echoes every frame of a `Session` stream back on it.
#[derive(Debug)]
struct EchoNode;

#[tonic::async_trait]
impl ClusterNode for EchoNode {
    // The inbound stream, returned as the outbound one: each frame read is
    // written straight back.
    type SessionStream = Streaming<Frame>;

    async fn session(
        &self,
        request: Request<Streaming<Frame>>,
    ) -> std::result::Result<Response<Self::SessionStream>, Status> {
        Ok(Response::new(request.into_inner()))
    }

    async fn get_node_info(
        &self,
        _: Request<GetNodeInfoRequest>,
    ) -> std::result::Result<Response<NodeInfo>, Status> {
        only_session()
    }

    async fn list_peers(
        &self,
        _: Request<ListPeersRequest>,
    ) -> std::result::Result<Response<ListPeersResponse>, Status> {
        only_session()
    }

    async fn list_actors(
        &self,
        _: Request<ListActorsRequest>,
    ) -> std::result::Result<Response<ListActorsResponse>, Status> {
        only_session()
    }

    async fn list_groups(
        &self,
        _: Request<ListGroupsRequest>,
    ) -> std::result::Result<Response<ListGroupsResponse>, Status> {
        only_session()
    }

    async fn describe_actor(
        &self,
        _: Request<ractor_grpc::pb::DescribeActorRequest>,
    ) -> std::result::Result<Response<ractor_grpc::pb::ActorDescription>, Status> {
        only_session()
    }

    async fn cast(
        &self,
        _: Request<ractor_grpc::pb::CastRequest>,
    ) -> std::result::Result<Response<ractor_grpc::pb::CastResponse>, Status> {
        only_session()
    }

    async fn call(
        &self,
        _: Request<ractor_grpc::pb::CallRequest>,
    ) -> std::result::Result<Response<ractor_grpc::pb::CallResponse>, Status> {
        only_session()
    }
}

/// What the floor server answers every unary RPC.
fn only_session<T>() -> std::result::Result<Response<T>, Status> {
    Err(Status::unimplemented(
        "the floor server only echoes Session",
    ))
}

/// The floor server: `bench:listening ADDR`, serves until exit.
pub(crate) async fn server() -> Result<()> {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    announce("listening", listener.local_addr()?);
    let serve = tonic::transport::Server::builder()
        .tcp_nodelay(true)
        .add_service(ClusterNodeServer::new(EchoNode))
        .serve_with_incoming(TcpListenerStream::new(listener));
    let mut commands = Commands::stdin();
    tokio::select! {
        served = serve => served?,
        () = commands.until_exit() => {}
    }
    Ok(())
}

/// The floor client: one Session stream, sequential round trips of a frame
/// shaped like an `Echo` call.
pub(crate) async fn client(addr: &str, smoke: bool) -> Result<()> {
    let sizes = if smoke { Sizes::SMOKE } else { Sizes::FULL };
    let mut commands = Commands::stdin();
    let channel = Endpoint::from_shared(format!("http://{addr}"))?
        .tcp_nodelay(true)
        .connect()
        .await?;
    let mut client = ClusterNodeClient::new(channel);
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let mut inbound = client.session(ReceiverStream::new(rx)).await?.into_inner();
    let mut round_trip = async |x: u64| -> Result<()> {
        let frame = Frame::from(vec![Envelope {
            body: Some(Body::Call(Call {
                to: 1,
                variant: "Echo".to_owned(),
                args: x.to_le_bytes().to_vec(),
                ..Call::default()
            })),
        }]);
        tx.send(frame)
            .await
            .map_err(|_| "the floor stream closed")?;
        match inbound.message().await? {
            Some(frame) if frame.envelopes.len() == 1 => Ok(()),
            Some(frame) => {
                Err(format!("echoed {} envelopes, sent 1", frame.envelopes.len()).into())
            }
            None => Err("the floor server ended the stream".into()),
        }
    };
    announce("ready", "");
    commands.expect_go().await?;
    for x in 0..sizes.warmup_calls {
        round_trip(x).await?;
    }
    let mut hist = histogram()?;
    let started = Instant::now();
    for x in 0..sizes.calls {
        let sent = Instant::now();
        round_trip(x).await?;
        record(&mut hist, sent.elapsed());
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut figures = Figures::default();
    figures.set("p50_us", quantile_us(&hist, 0.50));
    figures.set("p90_us", quantile_us(&hist, 0.90));
    figures.set("p99_us", quantile_us(&hist, 0.99));
    figures.set("round_trips_per_s", sizes.calls as f64 / elapsed);
    figures.announce()?;
    commands.until_exit().await;
    Ok(())
}
