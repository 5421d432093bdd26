use ractor::RpcReplyPort;
use ractor_grpc::RactorClusterMessage;

#[derive(RactorClusterMessage)]
enum Message {
    Call(u8, RpcReplyPort<String>),
}

fn main() {}
