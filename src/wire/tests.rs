use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;

use proptest::collection::{btree_map, hash_map, vec};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use super::impls::{read_varint, write_varint};
use super::{Wire, WireError, from_bytes, to_bytes};

// Inside the crate that defines `Wire`, so the orphan rule allows it.
crate::derive_serialization_for_prost_type!(prost_types::Timestamp, prost_types::Duration);

/// A type that already has a ractor `BytesConvertable` impl, with a
/// `from_bytes` that panics on short input as ractor permits.
#[derive(Clone, Debug, PartialEq)]
struct Celsius(i16);

impl ractor::BytesConvertable for Celsius {
    fn into_bytes(self) -> Vec<u8> {
        self.0.to_be_bytes().to_vec()
    }

    // Indexing panics on short input: that is the point.
    fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(i16::from_be_bytes([bytes[0], bytes[1]]))
    }
}

/// A `BytesConvertable` type that never panics.
#[derive(Clone, Debug, PartialEq)]
struct Blob(Vec<u8>);

impl ractor::BytesConvertable for Blob {
    fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }
}

crate::wire_via_bytes_convertable!(Celsius, Blob);

fn config() -> ProptestConfig {
    // Modest case counts keep this file fast in debug builds; nothing is
    // written to disk on failure (the seed is printed instead).
    ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// `value` survives a round trip; a trailing byte is reported; every strict
/// prefix of its encoding is `Truncated`, never a (wrong) value.
fn check<T: Wire + PartialEq + Debug>(value: &T) -> Result<(), TestCaseError> {
    let bytes = to_bytes(value);
    let decoded = from_bytes::<T>(&bytes);
    prop_assert_eq!(decoded.as_ref(), Ok(value));
    check_framing::<T>(&bytes)
}

/// The framing half of [`check`], for types without a useful `PartialEq`.
fn check_framing<T: Wire + Debug>(bytes: &[u8]) -> Result<(), TestCaseError> {
    let mut longer = bytes.to_vec();
    longer.push(0xaa);
    prop_assert_eq!(
        from_bytes::<T>(&longer).err(),
        Some(WireError::TrailingBytes { count: 1 })
    );
    for len in 0..bytes.len() {
        let prefix = bytes.get(..len).unwrap_or_default();
        let result = from_bytes::<T>(prefix);
        prop_assert!(
            matches!(result, Err(WireError::Truncated { .. })),
            "prefix of {} of {} bytes gave {:?}",
            len,
            bytes.len(),
            result
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn unsigned_integers(a: u8, b: u16, c: u32, d: u64, e: u128) {
        check(&a)?;
        check(&b)?;
        check(&c)?;
        check(&d)?;
        check(&e)?;
        prop_assert_eq!(to_bytes(&d), d.to_be_bytes().to_vec());
    }

    #[test]
    fn signed_integers(a: i8, b: i16, c: i32, d: i64, e: i128) {
        check(&a)?;
        check(&b)?;
        check(&c)?;
        check(&d)?;
        check(&e)?;
        prop_assert_eq!(to_bytes(&e), e.to_be_bytes().to_vec());
    }

    #[test]
    fn platform_integers(a: usize, b: isize) {
        check(&a)?;
        check(&b)?;
        prop_assert_eq!(to_bytes(&a), to_bytes(&(a as u64)));
        prop_assert_eq!(to_bytes(&b), to_bytes(&(b as i64)));
    }

    #[test]
    fn floats_keep_every_bit_pattern(a: u32, b: u64) {
        // Arbitrary bits include NaNs with payloads, infinities, -0.0.
        let (x, y) = (f32::from_bits(a), f64::from_bits(b));
        let (xb, yb) = (to_bytes(&x), to_bytes(&y));
        prop_assert_eq!(from_bytes::<f32>(&xb).map(f32::to_bits), Ok(a));
        prop_assert_eq!(from_bytes::<f64>(&yb).map(f64::to_bits), Ok(b));
        check_framing::<f32>(&xb)?;
        check_framing::<f64>(&yb)?;
    }

    #[test]
    fn bool_and_char(a: bool, b: char) {
        check(&a)?;
        check(&b)?;
    }

    #[test]
    fn strings(s: String) {
        check(&s)?;
    }

    #[test]
    fn byte_vectors(v in vec(any::<u8>(), 0..300)) {
        check(&v)?;
        // The fast path writes what the per-element path writes.
        let signed: Vec<i8> = v.iter().map(|&b| b as i8).collect();
        prop_assert_eq!(to_bytes(&signed), to_bytes(&v));
        let back: Vec<u8> = from_bytes::<Vec<i8>>(&to_bytes(&v))
            .map(|s| s.into_iter().map(|b| b as u8).collect())
            .unwrap_or_default();
        prop_assert_eq!(back, v);
    }

    #[test]
    fn sequences(a in vec(any::<String>(), 0..6), b in vec(vec(any::<u64>(), 0..6), 0..6)) {
        check(&a)?;
        check(&b)?;
    }

    #[test]
    fn options(a: Option<String>, b: Option<Option<u8>>) {
        check(&a)?;
        check(&b)?;
    }

    #[test]
    fn tuples_and_arrays(
        a in (any::<u8>(), any::<String>(), vec(any::<i64>(), 0..5)),
        b: (u8, u16, u32, u64, i8, i16, i32, bool),
        c: (char,),
        d: [u8; 4],
        e: [String; 3],
    ) {
        check(&a)?;
        check(&b)?;
        check(&c)?;
        check(&d)?;
        check(&e)?;
        prop_assert_eq!(to_bytes(&d), d.to_vec());
    }

    #[test]
    fn maps(
        a in hash_map(any::<String>(), any::<u32>(), 0..6),
        b in btree_map(any::<u64>(), vec(any::<String>(), 0..3), 0..6),
    ) {
        check(&a)?;
        check(&b)?;
    }

    #[test]
    fn nested(
        a in vec((any::<Option<String>>(), btree_map(any::<i32>(), any::<bool>(), 0..4)), 0..4),
        b: Option<Box<(char, u128)>>,
        c in hash_map(any::<u64>(), proptest::option::of(vec(any::<String>(), 0..3)), 0..4),
        d: (usize, isize, i128, ()),
    ) {
        check(&a)?;
        check(&b)?;
        check(&c)?;
        check(&d)?;
    }

    #[test]
    fn prost_messages(seconds: i64, nanos: i32) {
        let timestamp = prost_types::Timestamp { seconds, nanos };
        check(&timestamp)?;
        // Exactly protobuf's length-delimited form.
        prop_assert_eq!(
            to_bytes(&timestamp),
            prost::Message::encode_length_delimited_to_vec(&timestamp)
        );
        check(&prost_types::Duration { seconds, nanos })?;
    }

    #[test]
    fn bytes_convertable(a: i16, b in vec(any::<u8>(), 0..40)) {
        check(&Celsius(a))?;
        check(&Blob(b))?;
    }

    #[test]
    fn garbage_never_panics(bytes in vec(any::<u8>(), 0..48)) {
        macro_rules! decode_all {
            ($($t:ty),+ $(,)?) => {$(
                let _ = from_bytes::<$t>(&bytes);
            )+};
        }
        decode_all!(
            u64, f64, bool, char, usize, String, Vec<u8>, Vec<String>, Vec<Vec<u64>>,
            Vec<()>, Option<Option<u8>>, (u8, String, Vec<i64>), HashMap<String, u32>,
            BTreeMap<u64, Vec<String>>, [char; 2], Box<Option<i128>>,
            prost_types::Timestamp, Celsius, Blob,
        );
    }

    #[test]
    fn varints(value: u64) {
        let mut bytes = Vec::new();
        write_varint(&mut bytes, value);
        let mut input = bytes.as_slice();
        prop_assert_eq!(read_varint(&mut input, "varint"), Ok(value));
        prop_assert!(input.is_empty());
        prop_assert_eq!(bytes.len(), (64 - value.leading_zeros() as usize).div_ceil(7).max(1));
    }
}

#[test]
fn integer_extremes() -> Result<(), TestCaseError> {
    macro_rules! extremes {
        ($($t:ty),+) => {$(
            check(&<$t>::MIN)?;
            check(&<$t>::MAX)?;
            check(&(0 as $t))?;
        )+};
    }
    extremes!(
        u8, u16, u32, u64, u128, i8, i16, i32, i64, i128, usize, isize
    );
    assert_eq!(to_bytes(&i32::MIN), [0x80, 0, 0, 0]);
    assert_eq!(to_bytes(&-1i16), [0xff, 0xff]);
    assert_eq!(to_bytes(&u128::MAX), [0xff; 16]);
    Ok(())
}

#[test]
fn unit_is_empty() {
    assert_eq!(to_bytes(&()), Vec::<u8>::new());
    assert_eq!(from_bytes::<()>(&[]), Ok(()));
    assert_eq!(
        from_bytes::<()>(&[0]),
        Err(WireError::TrailingBytes { count: 1 })
    );
}

fn is_invalid<T: Debug>(result: Result<T, WireError>) -> bool {
    matches!(result, Err(WireError::Invalid { .. }))
}

fn is_truncated<T: Debug>(result: Result<T, WireError>) -> bool {
    matches!(result, Err(WireError::Truncated { .. }))
}

#[test]
fn invalid_scalars() {
    assert!(is_invalid(from_bytes::<bool>(&[0x02])));
    assert!(is_invalid(from_bytes::<bool>(&[0xff])));
    assert!(is_invalid(from_bytes::<char>(&[0x00, 0x00, 0xd8, 0x00])));
    assert!(is_invalid(from_bytes::<char>(&[0x00, 0x00, 0xdf, 0xff])));
    assert!(is_invalid(from_bytes::<char>(&[0x00, 0x11, 0x00, 0x00])));
    assert!(is_invalid(from_bytes::<char>(&[0xff, 0xff, 0xff, 0xff])));
    assert_eq!(
        from_bytes::<char>(&[0x00, 0x10, 0xff, 0xff]),
        Ok('\u{10ffff}')
    );
    assert!(is_invalid(from_bytes::<Option<u8>>(&[0x02, 0x00])));
    assert!(is_invalid(from_bytes::<String>(&[0x02, 0xc3, 0x28])));
    assert!(is_invalid(from_bytes::<String>(&[0x01, 0x80])));
}

#[cfg(target_pointer_width = "32")]
#[test]
fn platform_integers_that_do_not_fit() {
    assert!(is_invalid(from_bytes::<usize>(&[0, 0, 0, 1, 0, 0, 0, 0])));
    assert!(is_invalid(from_bytes::<isize>(&[
        0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 0
    ])));
}

#[test]
fn duplicate_map_keys_are_invalid() {
    // Two entries, both with key "x".
    let bytes = [0x02, 0x01, b'x', 0, 0, 0, 1, 0x01, b'x', 0, 0, 0, 2];
    assert!(is_invalid(from_bytes::<BTreeMap<String, u32>>(&bytes)));
    assert!(is_invalid(from_bytes::<HashMap<String, u32>>(&bytes)));
}

#[test]
fn map_entries_in_any_order() {
    let bytes = [0x02, 0x05, 0x01, 0x03, 0x02];
    let expected = BTreeMap::from([(3u8, 2u8), (5, 1)]);
    assert_eq!(from_bytes::<BTreeMap<u8, u8>>(&bytes), Ok(expected));
    // ...but written in key order.
    assert_eq!(
        to_bytes(&BTreeMap::from([(5u8, 1u8), (3, 2)])),
        [0x02, 0x03, 0x02, 0x05, 0x01]
    );
}

#[test]
fn varint_edges() {
    let read = |bytes: &[u8]| {
        let mut input = bytes;
        read_varint(&mut input, "varint").map(|v| (v, input.len()))
    };
    assert_eq!(read(&[0x00]), Ok((0, 0)));
    assert_eq!(read(&[0x7f, 0xee]), Ok((127, 1)));
    assert_eq!(
        read(&[0xff; 9].iter().copied().chain([0x01]).collect::<Vec<_>>()),
        Ok((u64::MAX, 0))
    );
    // Not the shortest form.
    assert!(is_invalid(read(&[0x80, 0x00])));
    assert!(is_invalid(read(&[0xff, 0x80, 0x00])));
    // Above u64::MAX.
    assert!(is_invalid(read(
        &[0xff; 9].iter().copied().chain([0x02]).collect::<Vec<_>>()
    )));
    assert!(is_invalid(read(
        &[0x80; 9].iter().copied().chain([0x7f]).collect::<Vec<_>>()
    )));
    // More than ten bytes.
    assert!(is_invalid(read(&[0xff; 11])));
    assert!(is_invalid(read(&[0x80; 16])));
    // Ends inside the varint.
    assert!(is_truncated(read(&[])));
    assert!(is_truncated(read(&[0x80])));
    assert!(is_truncated(read(&[0xff; 9])));

    // The same rules where a length is read.
    assert!(is_invalid(from_bytes::<String>(&[0x80, 0x00])));
    assert!(is_invalid(from_bytes::<Vec<u8>>(&[0xff; 11])));
    assert!(is_invalid(from_bytes::<Vec<u8>>(&[0x81, 0x00, 0x61])));
}

#[test]
fn huge_counts_are_truncated_before_allocating() {
    let max = |tail: &[u8]| {
        [0xff; 9]
            .iter()
            .copied()
            .chain([0x01])
            .chain(tail.iter().copied())
            .collect::<Vec<_>>()
    };
    // u64::MAX elements with three bytes to back them.
    assert!(is_truncated(from_bytes::<Vec<u64>>(&max(&[1, 2, 3]))));
    assert!(is_truncated(from_bytes::<Vec<u8>>(&max(&[1, 2, 3]))));
    assert!(is_truncated(from_bytes::<String>(&max(b"abc"))));
    assert!(is_truncated(from_bytes::<HashMap<u64, String>>(&max(
        &[0; 16]
    ))));
    assert!(is_truncated(from_bytes::<BTreeMap<u8, u8>>(&max(&[0; 16]))));
    // 2^40 strings in 100 bytes of empty strings: stops at the count.
    let mut bytes = vec![0x80, 0x80, 0x80, 0x80, 0x80, 0x20];
    bytes.extend([0u8; 100]);
    assert!(is_truncated(from_bytes::<Vec<String>>(&bytes)));
    // A count the input could hold, of elements it cannot: stops at the end.
    assert!(is_truncated(from_bytes::<Vec<u64>>(&[0x40; 64])));
    // Zero-byte elements are bounded by the bytes that remain too (spec).
    assert!(is_truncated(from_bytes::<Vec<()>>(&[0x03])));
    assert_eq!(from_bytes::<Vec<()>>(&[0x00]), Ok(vec![]));
}

#[test]
fn prost_errors() {
    // Field 1 as a string (wire type 2) claiming 5 bytes that are not there.
    assert!(is_invalid(from_bytes::<prost_types::Timestamp>(&[
        0x02, 0x0a, 0x05
    ])));
    assert!(is_truncated(from_bytes::<prost_types::Timestamp>(&[
        0x05, 0x08
    ])));
    assert_eq!(to_bytes(&prost_types::Timestamp::default()), [0x00]);
}

#[test]
fn bytes_convertable_panic_is_invalid() {
    // `Celsius::from_bytes` indexes past the end of one byte.
    let result = from_bytes::<Celsius>(&[0x01, 0x00]);
    match result {
        Err(WireError::Invalid { detail, .. }) => assert!(detail.contains("panicked"), "{detail}"),
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert_eq!(to_bytes(&Celsius(-3)), [0x02, 0xff, 0xfd]);
}

/// The worked examples of "Payload encoding" in `cluster.proto`, byte for byte: if
/// this fails, the code or the spec changed and the other must follow.
mod golden {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        text.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap_or_else(|e| panic!("bad hex {b}: {e}")))
            .collect()
    }

    #[test]
    fn varints() {
        let encode = |v: u64| {
            let mut out = Vec::new();
            write_varint(&mut out, v);
            out
        };
        assert_eq!(encode(0), hex("00"));
        assert_eq!(encode(127), hex("7f"));
        assert_eq!(encode(128), hex("80 01"));
        assert_eq!(encode(300), hex("ac 02"));
        assert_eq!(encode(u64::MAX), hex("ff ff ff ff ff ff ff ff ff 01"));
    }

    #[test]
    fn example_1_cast_args() {
        // Cast1("hi".to_string(), 7u64): the fields one after another.
        let mut bytes = Vec::new();
        "hi".to_string().encode(&mut bytes);
        7u64.encode(&mut bytes);
        assert_eq!(bytes, hex("02 68 69  00 00 00 00 00 00 00 07"));
        assert_eq!(
            from_bytes::<(String, u64)>(&bytes),
            Ok(("hi".to_string(), 7))
        );
    }

    #[test]
    fn example_2_call_args() {
        // Call1(3u8, -2i64, port): the port is not encoded.
        let mut bytes = Vec::new();
        3u8.encode(&mut bytes);
        (-2i64).encode(&mut bytes);
        assert_eq!(bytes, hex("03  ff ff ff ff ff ff ff fe"));
        assert_eq!(from_bytes::<(u8, i64)>(&bytes), Ok((3, -2)));
    }

    #[test]
    fn example_3_call_reply() {
        let reply = vec!["a".to_string(), "bc".to_string()];
        assert_eq!(to_bytes(&reply), hex("02  01 61  02 62 63"));
        assert_eq!(
            from_bytes::<Vec<String>>(&hex("02 01 61 02 62 63")),
            Ok(reply)
        );
    }

    #[test]
    fn example_4_option() {
        assert_eq!(to_bytes(&Some("é".to_string())), hex("01 02 c3 a9"));
        assert_eq!(to_bytes(&None::<String>), hex("00"));
    }

    #[test]
    fn example_5_map() {
        let map = BTreeMap::from([("x".to_string(), 1u32), ("y".to_string(), 258)]);
        let bytes = hex("02  01 78 00 00 00 01  01 79 00 00 01 02");
        assert_eq!(to_bytes(&map), bytes);
        assert_eq!(from_bytes::<BTreeMap<String, u32>>(&bytes), Ok(map.clone()));
        // A HashMap writes the same entries (here in either order).
        let hash_map: HashMap<String, u32> = map.into_iter().collect();
        let written = to_bytes(&hash_map);
        let swapped = hex("02  01 79 00 00 01 02  01 78 00 00 00 01");
        assert!(written == bytes || written == swapped, "{written:02x?}");
    }

    #[test]
    fn example_6_scalars() {
        let bytes = hex("01  00 00 00 e9  3f f8 00 00 00 00 00 00");
        assert_eq!(to_bytes(&(true, 'é', 1.5f64)), bytes);
        assert_eq!(
            from_bytes::<(bool, char, f64)>(&bytes),
            Ok((true, 'é', 1.5))
        );
    }

    /// The spec's own text, so its examples cannot drift from these tests.
    #[test]
    fn spec_mentions_these_bytes() {
        let proto = include_str!("../../proto/ractor_grpc/v1/cluster.proto");
        let start = proto
            .find("// Payload encoding\n")
            .expect("the spec is in cluster.proto");
        let spec = &proto[start..];
        let spec = &spec[..spec.find("\nmessage ").unwrap_or(spec.len())];
        let spec = spec.trim_end();
        for line in [
            "//      02 68 69                    String \"hi\": length 2, \"h\" \"i\"",
            "//      00 00 00 00 00 00 00 07     u64 7",
            "//      ff ff ff ff ff ff ff fe     i64 -2 (the port is not encoded)",
            "//      01 61                       \"a\"",
            "//      02 62 63                    \"bc\"",
            "// 4. Option<String>: Some(\"é\".to_string())  ->  01 02 c3 a9",
            "//      01 78  00 00 00 01          \"x\" -> 1",
            "//      01 79  00 00 01 02          \"y\" -> 258",
            "//      00 00 00 e9                 U+00E9",
            "//      3f f8 00 00 00 00 00 00     1.5",
            "//     0 -> 00    127 -> 7f    128 -> 80 01    300 -> ac 02",
            "//     2^64-1 -> ff ff ff ff ff ff ff ff ff 01",
        ] {
            assert!(spec.lines().any(|l| l == line), "spec lacks line: {line}");
        }
        for (n, line) in spec
            .lines()
            .take_while(|l| !l.starts_with("// A one-way message"))
            .enumerate()
        {
            assert!(
                line.starts_with("//") || line.is_empty(),
                "line {} is not a comment",
                n + 1
            );
            assert!(
                line.chars().count() <= 80,
                "line {} is wider than 80 columns",
                n + 1
            );
        }
    }
}

#[cfg(feature = "serde")]
mod serde_types {
    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Point {
        x: i32,
        label: String,
        tags: Vec<Option<u8>>,
    }

    /// Non-string map keys: serde_json cannot serialize this.
    #[derive(Debug, Serialize, Deserialize)]
    struct BadKeys(HashMap<(u8, u8), u8>);

    crate::wire_via_serde!(Point, BadKeys);

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn round_trip(x: i32, label: String, tags: Vec<Option<u8>>) {
            check(&Point { x, label, tags })?;
        }

        #[test]
        fn garbage_never_panics(bytes in vec(any::<u8>(), 0..48)) {
            let _ = from_bytes::<Point>(&bytes);
        }
    }

    #[test]
    fn encoding_is_length_prefixed_json() {
        let point = Point {
            x: 1,
            label: "a".into(),
            tags: vec![None, Some(2)],
        };
        let json = br#"{"x":1,"label":"a","tags":[null,2]}"#;
        let mut expected = vec![json.len() as u8];
        expected.extend_from_slice(json);
        assert_eq!(to_bytes(&point), expected);
    }

    #[test]
    fn bad_json_is_invalid() {
        assert!(is_invalid(from_bytes::<Point>(b"\x02{}")));
        assert!(is_invalid(from_bytes::<Point>(b"\x00")));
        assert!(is_truncated(from_bytes::<Point>(b"\x05{}")));
    }

    #[test]
    fn failing_serialize_sends_nothing_the_receiver_accepts() {
        let bad = BadKeys(HashMap::from([((1, 2), 3)]));
        let bytes = to_bytes(&bad);
        assert_eq!(bytes, [0x00]);
        assert!(is_invalid(from_bytes::<BadKeys>(&bytes)));
    }
}

#[test]
fn opted_in_types_describe_themselves() {
    use crate::wire::TypeExpr;
    // A prost type is named as the macro was given it, path dots and all.
    assert_eq!(
        <prost_types::Timestamp as Wire>::type_expr(),
        TypeExpr::Proto("prost_types.Timestamp".into())
    );
    // BytesConvertable types are bytes only their two Rust ends read.
    assert_eq!(<Celsius as Wire>::type_expr(), TypeExpr::Opaque);
    assert_eq!(
        <Vec<Option<Celsius>> as Wire>::type_expr().to_string(),
        "list<option<opaque>>"
    );
}
