use ractor::RpcReplyPort;
use ractor_grpc::RactorClusterMessage;

#[derive(RactorClusterMessage)]
enum Message {
    #[rpc]
    Call(RpcReplyPort<u8>, u16, RpcReplyPort<u32>),
    #[rpc]
    Named {
        first: RpcReplyPort<u8>,
        second: ractor::RpcReplyPort<u8>,
    },
}

fn main() {}
