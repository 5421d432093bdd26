//! One frame read off a Session stream: protobuf-decoded as the reader's
//! codec does, then fed to session machines fresh, mid-handshake and ready,
//! as acceptor and as dialer; panics if one breaks a promise.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ractor_grpc::__fuzz::frame(data));
