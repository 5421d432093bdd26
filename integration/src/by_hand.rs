//! Speaking the Session protocol by hand, for tests that play a broken or
//! hostile client (in-process in the library's tests, against a node
//! process in this crate's): a gRPC codec that passes message bodies
//! through untouched, and the handshake proofs computed from the recipe in
//! `cluster.proto` alone (nothing of the library's own handshake), so those
//! tests also check the recipe.

use bytes::{Buf, BufMut};
use hmac::{Hmac, Mac};
use ractor_grpc::pb;
use sha2::Sha256;
use tonic::{
    Status,
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
};

/// The label of the dialer's proof.
pub const DIALER_LABEL: &[u8] = b"ractor_grpc/v1 dialer proof";
/// The label of the acceptor's proof.
pub const ACCEPTOR_LABEL: &[u8] = b"ractor_grpc/v1 acceptor proof";

/// Passes message bodies through untouched: the gRPC framing is tonic's,
/// what is inside is the test's.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Self;
    type Decoder = Self;
    fn encoder(&mut self) -> Self::Encoder {
        Self
    }
    fn decoder(&mut self) -> Self::Decoder {
        Self
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

/// `u32be(length) || bytes`.
fn lp(out: &mut Vec<u8>, s: &str) {
    let len = u32::try_from(s.len()).expect("names and addresses are short");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// HMAC-SHA256 under `cookie` over the transcript `cluster.proto`
/// documents, with `label` ([`DIALER_LABEL`] or [`ACCEPTOR_LABEL`]).
pub fn proof(label: &[u8], cookie: &[u8], hello: &pb::Hello, challenge: &pb::Challenge) -> Vec<u8> {
    let mut msg = label.to_vec();
    lp(&mut msg, &hello.name);
    lp(&mut msg, &challenge.name);
    msg.extend_from_slice(&hello.nonce);
    msg.extend_from_slice(&challenge.nonce);
    msg.extend_from_slice(&hello.min_version.to_be_bytes());
    msg.extend_from_slice(&hello.max_version.to_be_bytes());
    msg.extend_from_slice(&challenge.version.to_be_bytes());
    msg.extend_from_slice(&hello.incarnation.to_be_bytes());
    msg.extend_from_slice(&challenge.incarnation.to_be_bytes());
    lp(&mut msg, &hello.listen_addr);
    lp(&mut msg, &challenge.listen_addr);
    let mut mac = Hmac::<Sha256>::new_from_slice(cookie).expect("HMAC takes any key length");
    mac.update(&msg);
    mac.finalize().into_bytes().to_vec()
}
