//! A raw Session client for tests: sends whatever bytes it is given, so tests
//! can play a broken or malicious peer.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Status, transport::Channel};

pub use integration::by_hand::RawCodec;

/// An open raw Session stream.
pub struct RawSession {
    pub tx: mpsc::Sender<Vec<u8>>,
    pub inbound: tonic::Streaming<Vec<u8>>,
}

pub async fn open(addr: &str) -> RawSession {
    try_open(addr).await.expect("session opens")
}

/// Opens a raw Session stream, or returns the status the node refused it
/// with.
pub async fn try_open(addr: &str) -> Result<RawSession, Status> {
    let channel = Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("ready");
    let (tx, rx) = mpsc::channel(16);
    let path = http::uri::PathAndQuery::from_static("/ractor_grpc.v1.ClusterNode/Session");
    let response = grpc
        .streaming(tonic::Request::new(ReceiverStream::new(rx)), path, RawCodec)
        .await?;
    Ok(RawSession {
        tx,
        inbound: response.into_inner(),
    })
}

impl RawSession {
    /// Reads until the stream ends; returns the frames read and the final
    /// status (None for a clean end). Bounded by `within`.
    pub async fn finish(mut self, within: Duration) -> (Vec<Vec<u8>>, Option<Status>) {
        let mut frames = Vec::new();
        let read = async {
            loop {
                match self.inbound.message().await {
                    Ok(Some(f)) => frames.push(f),
                    Ok(None) => return None,
                    Err(s) => return Some(s),
                }
            }
        };
        let status = tokio::time::timeout(within, read)
            .await
            .expect("stream ends in time");
        drop(self.tx);
        (frames, status)
    }
}
