//! Compiles `proto/` with the pure-Rust `protox` (no system `protoc`), generates
//! the tonic stubs, and writes the descriptor set that server reflection serves.

use std::{env, fs, path::PathBuf};

use protox::prost::Message as _;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // protox does not tell cargo what it read, so say it here.
    println!("cargo:rerun-if-changed=proto");

    let fds = protox::compile(["ractor_grpc/v1/cluster.proto"], ["proto"])?;

    // `compile_fds` does not write `file_descriptor_set_path` itself.
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(
        out_dir.join("ractor_grpc_descriptor.bin"),
        fds.encode_to_vec(),
    )?;

    tonic_prost_build::configure()
        // Written by hand (src/pb/frame.rs): a frame carries pre-encoded
        // envelopes, byte-identical on the wire.
        .extern_path(".ractor_grpc.v1.Frame", "crate::pb::Frame")
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
