use ractor_grpc::RactorClusterMessage;

#[derive(RactorClusterMessage)]
struct NotAnEnum {
    value: u32,
}

fn main() {}
