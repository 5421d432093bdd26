//! The bench message type, once per derive: both derives implement
//! `ractor::Message`, so each system gets its own identical enum, and the
//! workloads are written once against [`SinkProtocol`].

use ractor::RpcReplyPort;

/// What the sink actor sees, whichever system delivered it.
#[derive(Debug)]
pub(crate) enum Request {
    /// `Data(seq, payload)`: a cast.
    Data(u64, Vec<u8>),
    /// `Echo(x)`: replies `x + 1`.
    Echo(u64, RpcReplyPort<u64>),
    /// Replies `[received, payload bytes, out of order]` and resets them.
    TakeStats(RpcReplyPort<Vec<u64>>),
}

/// Builds and takes apart the `SinkMsg` of one system.
pub(crate) trait SinkProtocol: ractor::Message + Sized {
    /// `SinkMsg::Data`.
    fn data(seq: u64, payload: Vec<u8>) -> Self;
    /// `SinkMsg::Echo`.
    fn echo(x: u64, reply: RpcReplyPort<u64>) -> Self;
    /// `SinkMsg::TakeStats`.
    fn take_stats(reply: RpcReplyPort<Vec<u64>>) -> Self;
    /// The variant as a [`Request`].
    fn into_request(self) -> Request;
}

/// Implements [`SinkProtocol`] for a `SinkMsg` enum in scope.
macro_rules! sink_protocol {
    () => {
        impl super::SinkProtocol for SinkMsg {
            fn data(seq: u64, payload: Vec<u8>) -> Self {
                Self::Data(seq, payload)
            }
            fn echo(x: u64, reply: RpcReplyPort<u64>) -> Self {
                Self::Echo(x, reply)
            }
            fn take_stats(reply: RpcReplyPort<Vec<u64>>) -> Self {
                Self::TakeStats(reply)
            }
            fn into_request(self) -> super::Request {
                match self {
                    Self::Data(seq, payload) => super::Request::Data(seq, payload),
                    Self::Echo(x, reply) => super::Request::Echo(x, reply),
                    Self::TakeStats(reply) => super::Request::TakeStats(reply),
                }
            }
        }
    };
}

/// The message type on ractor_grpc.
pub(crate) mod grpc {
    use ractor::RpcReplyPort;
    use ractor_grpc::RactorClusterMessage;

    /// The issue's `SinkMsg`.
    #[derive(Debug, RactorClusterMessage)]
    pub(crate) enum SinkMsg {
        /// A sequence number and a payload.
        Data(u64, Vec<u8>),
        /// Replies `x + 1`.
        #[rpc]
        Echo(u64, RpcReplyPort<u64>),
        /// Replies `[received, payload bytes, out of order]` and resets.
        #[rpc]
        TakeStats(RpcReplyPort<Vec<u64>>),
    }

    sink_protocol!();
}

/// The same message type on ractor_cluster 0.16.5.
pub(crate) mod cluster {
    use ractor::RpcReplyPort;
    use ractor_cluster::RactorClusterMessage;

    /// The issue's `SinkMsg`.
    #[derive(Debug, RactorClusterMessage)]
    pub(crate) enum SinkMsg {
        /// A sequence number and a payload.
        Data(u64, Vec<u8>),
        /// Replies `x + 1`.
        #[rpc]
        Echo(u64, RpcReplyPort<u64>),
        /// Replies `[received, payload bytes, out of order]` and resets.
        #[rpc]
        TakeStats(RpcReplyPort<Vec<u64>>),
    }

    sink_protocol!();
}
