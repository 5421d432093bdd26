use ractor::RpcReplyPort;
use ractor_grpc::RactorClusterMessage;

#[derive(RactorClusterMessage)]
#[rpc]
enum Message {
    #[rpc]
    #[rpc]
    Call(#[rpc] RpcReplyPort<String>),
}

fn main() {}
