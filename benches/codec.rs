//! Codec costs on the send path: the payload encoding of message arguments
//! and the protobuf encoding of whole frames. Run with `cargo bench --bench codec`.

// criterion_group! generates undocumented public functions.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use prost::Message as _;
use ractor_grpc::{
    pb::{self, envelope::Body},
    wire::{from_bytes, to_bytes},
};

fn payloads(c: &mut Criterion) {
    let mut group = c.benchmark_group("payload");
    // Data(seq, 32-byte payload): the bench's cast.
    let small = (42u64, vec![7u8; 32]);
    group.throughput(Throughput::Elements(1));
    group.bench_function("encode (u64, Vec<u8; 32>)", |b| {
        b.iter(|| to_bytes(black_box(&small)))
    });
    let bytes = to_bytes(&small);
    group.bench_function("decode (u64, Vec<u8; 32>)", |b| {
        b.iter(|| from_bytes::<(u64, Vec<u8>)>(black_box(&bytes)))
    });
    let strings: Vec<String> = (0..16).map(|i| format!("item-{i}")).collect();
    group.bench_function("encode Vec<String> x16", |b| {
        b.iter(|| to_bytes(black_box(&strings)))
    });
    let bytes = to_bytes(&strings);
    group.bench_function("decode Vec<String> x16", |b| {
        b.iter(|| from_bytes::<Vec<String>>(black_box(&bytes)))
    });
    for size in [1024usize, 64 * 1024, 1024 * 1024] {
        let blob = vec![1u8; size];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(
            BenchmarkId::new("encode Vec<u8>", size),
            &blob,
            |b, blob| b.iter(|| to_bytes(black_box(blob))),
        );
        let bytes = to_bytes(&blob);
        group.bench_with_input(
            BenchmarkId::new("decode Vec<u8>", size),
            &bytes,
            |b, bytes| b.iter(|| from_bytes::<Vec<u8>>(black_box(bytes))),
        );
    }
    group.finish();
}

fn cast_envelope(seq: u64) -> pb::Envelope {
    pb::Envelope {
        body: Some(Body::Cast(pb::Cast {
            to: 3,
            variant: "Data".into(),
            args: to_bytes(&(seq, vec![7u8; 32])),
            traceparent: String::new(),
        })),
    }
}

fn frames(c: &mut Criterion) {
    let mut group = c.benchmark_group("frame");
    for batch in [1usize, 16, 256] {
        let frame = pb::Frame::from((0..batch as u64).map(cast_envelope).collect::<Vec<_>>());
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_with_input(
            BenchmarkId::new("encode casts", batch),
            &frame,
            |b, frame| b.iter(|| black_box(frame).encode_to_vec()),
        );
        let bytes = frame.encode_to_vec();
        group.bench_with_input(
            BenchmarkId::new("decode casts", batch),
            &bytes,
            |b, bytes| b.iter(|| pb::Frame::decode(black_box(bytes.as_slice()))),
        );
    }
    group.finish();
}

criterion_group!(benches, payloads, frames);
criterion_main!(benches);
