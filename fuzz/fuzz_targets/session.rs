//! A whole session scripted by the input: frames of raw bytes, the honest
//! peer's envelopes, replays and reflections, and the driver's inputs, in any
//! order; panics if the machine breaks a promise.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ractor_grpc::__fuzz::session(data));
