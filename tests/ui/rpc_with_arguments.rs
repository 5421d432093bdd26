use ractor::RpcReplyPort;
use ractor_grpc::RactorClusterMessage;

#[derive(RactorClusterMessage)]
enum Message {
    #[rpc(timeout = 5)]
    Call(RpcReplyPort<String>),
    #[rpc = "yes"]
    Other(RpcReplyPort<String>),
}

fn main() {}
