use ractor_grpc::RactorClusterMessage;

#[derive(RactorClusterMessage)]
union NotAnEnum {
    value: u32,
}

fn main() {}
