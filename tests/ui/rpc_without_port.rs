use ractor_grpc::RactorClusterMessage;

#[derive(RactorClusterMessage)]
enum Message {
    Cast(String),
    #[rpc]
    Call(u8, i64),
    #[rpc]
    Unit,
}

fn main() {}
