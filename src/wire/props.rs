//! Property tests of the payload decoders against hostile input (the typed
//! [`from_bytes`] and the JSON transcoder that works from type expressions
//! a peer may have sent): no panic, work bounded by the input, and where an
//! encoding is defined both ways, decode and encode undo each other.
//!
//! The case count comes from `PROPTEST_CASES` (defaults below keep a debug
//! run to a few seconds); `scripts/fuzz.sh` runs them with many more.

use std::collections::{BTreeMap, HashMap};

use proptest::{collection::vec, option, prelude::*, test_runner::TestCaseError};
use serde_json::Value;

use super::{
    ArgSchema, TypeExpr, VariantSchema, Wire, args_from_json, args_to_json, check_args, from_bytes,
    to_bytes, value_from_json, value_to_json,
};

fn config(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// `bytes` with a few bytes flipped, and perhaps cut short or extended.
fn mutate(mut bytes: Vec<u8>, flips: &[(usize, u8)], cut: usize, tail: &[u8]) -> Vec<u8> {
    let len = bytes.len().max(1);
    for &(at, xor) in flips {
        if let Some(b) = bytes.get_mut(at % len) {
            *b ^= xor;
        }
    }
    match cut % 4 {
        0 => bytes.truncate(cut / 4 % len),
        1 => bytes.extend_from_slice(tail),
        _ => {}
    }
    bytes
}

fn mutations() -> impl Strategy<Value = (Vec<(usize, u8)>, usize, Vec<u8>)> {
    (
        vec((any::<usize>(), any::<u8>()), 0..3),
        any::<usize>(),
        vec(any::<u8>(), 0..4),
    )
}

// ------------------------------------------------------------ typed

/// Decoding `bytes` as `T`: never a panic; whatever decodes re-encodes to
/// the very same bytes when `T`'s encoding is canonical (and else decodes
/// again from its re-encoding); and the JSON transcoder, given `T`'s type
/// expression, accepts exactly the bytes the typed decoder accepts.
fn typed<T: Wire + 'static>(bytes: &[u8], canonical: bool) -> Result<(), TestCaseError> {
    let typed = from_bytes::<T>(bytes);
    let json = value_to_json(&T::type_expr(), bytes);
    prop_assert_eq!(
        typed.is_ok(),
        json.is_ok(),
        "{}: typed {:?}, JSON {:?}",
        T::type_expr(),
        typed.as_ref().err(),
        json.as_ref().err()
    );
    if let Ok(value) = typed {
        let again = to_bytes(&value);
        if canonical {
            prop_assert_eq!(&again, bytes, "{} is canonical", T::type_expr());
        } else {
            prop_assert!(from_bytes::<T>(&again).is_ok());
        }
    }
    Ok(())
}

type ArraysAndTuples = ([char; 2], [u16; 4], (u8, String, Vec<i64>));

/// For each type, a strategy of its values: their encodings are mutated,
/// and garbage is decoded too, as each type.
macro_rules! typed_properties {
    ($($name:ident: $t:ty = $strategy:expr, canonical = $canonical:expr;)+) => {
        proptest! {
            #![proptest_config(config(64))]
            $(
                #[test]
                fn $name(
                    value in $strategy,
                    (flips, cut, tail) in mutations(),
                    garbage in vec(any::<u8>(), 0..40),
                ) {
                    let value: $t = value;
                    let bytes = to_bytes(&value);
                    typed::<$t>(&bytes, $canonical)?;
                    typed::<$t>(&mutate(bytes, &flips, cut, &tail), $canonical)?;
                    typed::<$t>(&garbage, $canonical)?;
                }
            )+
        }
    };
}

typed_properties! {
    scalars_decode_only_what_they_encode: (u8, i128, usize, bool, char) = any::<(u8, i128, usize, bool, char)>(), canonical = true;
    floats_keep_their_bits: (f32, f64) = any::<(u32, u64)>().prop_map(|(a, b)| (f32::from_bits(a), f64::from_bits(b))), canonical = true;
    strings_and_bytes: (String, Vec<u8>) = (any::<String>(), vec(any::<u8>(), 0..20)), canonical = true;
    sequences_of_sequences: Vec<Vec<u64>> = vec(vec(any::<u64>(), 0..4), 0..4), canonical = true;
    units_in_sequences: (Vec<()>, Option<()>) = (vec(Just(()), 0..20), option::of(Just(()))), canonical = true;
    nested_options: Vec<Option<Option<String>>> = vec(any::<Option<Option<String>>>(), 0..4), canonical = true;
    arrays_and_tuples: ArraysAndTuples = any::<ArraysAndTuples>(), canonical = true;
    boxes: Box<Option<(i16, bool)>> = any::<Option<(i16, bool)>>().prop_map(Box::new), canonical = true;
    ordered_maps: BTreeMap<u64, Vec<String>> = proptest::collection::btree_map(any::<u64>(), vec(any::<String>(), 0..2), 0..4), canonical = false;
    hash_maps: HashMap<String, Option<u32>> = proptest::collection::hash_map(any::<String>(), any::<Option<u32>>(), 0..4), canonical = false;
    maps_of_maps: BTreeMap<String, BTreeMap<u8, bool>> = proptest::collection::btree_map(any::<String>(), proptest::collection::btree_map(any::<u8>(), any::<bool>(), 0..3), 0..3), canonical = false;
}

// ------------------------------------------------------------ JSON

/// Any type expression, nested up to four deep; array lengths are small,
/// or near the bound the decoder puts on elements of zero bytes.
fn type_expr() -> impl Strategy<Value = TypeExpr> {
    let leaf = prop_oneof![
        Just(TypeExpr::U8),
        Just(TypeExpr::U16),
        Just(TypeExpr::U32),
        Just(TypeExpr::U64),
        Just(TypeExpr::U128),
        Just(TypeExpr::I8),
        Just(TypeExpr::I16),
        Just(TypeExpr::I32),
        Just(TypeExpr::I64),
        Just(TypeExpr::I128),
        Just(TypeExpr::F32),
        Just(TypeExpr::F64),
        Just(TypeExpr::Bool),
        Just(TypeExpr::Char),
        Just(TypeExpr::String),
        Just(TypeExpr::Bytes),
        Just(TypeExpr::Unit),
        Just(TypeExpr::Opaque),
        Just(TypeExpr::Proto("x.Y".into())),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        let len = prop_oneof![4 => 0usize..4, 1 => 4090usize..4100];
        prop_oneof![
            inner.clone().prop_map(|t| TypeExpr::List(Box::new(t))),
            inner.clone().prop_map(|t| TypeExpr::Option(Box::new(t))),
            (inner.clone(), len).prop_map(|(t, n)| TypeExpr::Array(Box::new(t), n)),
            vec(inner.clone(), 1..4).prop_map(TypeExpr::Tuple),
            (inner.clone(), inner).prop_map(|(k, v)| TypeExpr::Map(Box::new(k), Box::new(v))),
        ]
    })
}

/// Whether bytes → JSON → bytes may change the bytes for `ty`: NaN
/// payloads are not kept, and a JSON object has its own key order.
fn lossy(ty: &TypeExpr) -> bool {
    match ty {
        TypeExpr::F32 | TypeExpr::F64 => true,
        TypeExpr::Map(k, v) => {
            matches!(**k, TypeExpr::String | TypeExpr::Char) || lossy(k) || lossy(v)
        }
        TypeExpr::List(t) | TypeExpr::Option(t) | TypeExpr::Array(t, _) => lossy(t),
        TypeExpr::Tuple(ts) => ts.iter().any(lossy),
        _ => false,
    }
}

/// Whether `ty` holds an array longer than the valid-value strategy builds.
fn long_array(ty: &TypeExpr) -> bool {
    match ty {
        TypeExpr::Array(t, n) => *n > 3 || long_array(t),
        TypeExpr::List(t) | TypeExpr::Option(t) => long_array(t),
        TypeExpr::Map(k, v) => long_array(k) || long_array(v),
        TypeExpr::Tuple(ts) => ts.iter().any(long_array),
        _ => false,
    }
}

fn varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// A count and the parts. A count may not exceed the bytes after it, so
/// parts of zero bytes (`unit`) are cut down to what that allows.
fn counted(mut parts: Vec<Vec<u8>>) -> Vec<u8> {
    while parts.len() > parts.iter().map(Vec::len).sum() {
        parts.pop();
    }
    let mut out = Vec::new();
    varint(&mut out, parts.len() as u64);
    out.extend(parts.concat());
    out
}

fn length_prefixed(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    varint(&mut out, bytes.len() as u64);
    out.extend_from_slice(bytes);
    out
}

/// Valid encodings of a `ty` value, built from the payload rules in
/// `cluster.proto` independently of the decoders under test.
fn valid(ty: &TypeExpr) -> BoxedStrategy<Vec<u8>> {
    use TypeExpr as T;
    let be = |n: usize| vec(any::<u8>(), n).boxed();
    match ty {
        T::U8 | T::I8 => be(1),
        T::U16 | T::I16 => be(2),
        T::U32 | T::I32 | T::F32 => be(4),
        T::U64 | T::I64 | T::F64 => be(8),
        T::U128 | T::I128 => be(16),
        T::Bool => any::<bool>().prop_map(|b| vec![u8::from(b)]).boxed(),
        T::Char => any::<char>()
            .prop_map(|c| u32::from(c).to_be_bytes().to_vec())
            .boxed(),
        T::String => any::<String>()
            .prop_map(|s| length_prefixed(s.as_bytes()))
            .boxed(),
        T::Bytes | T::Opaque | T::Proto(_) => vec(any::<u8>(), 0..8)
            .prop_map(|b| length_prefixed(&b))
            .boxed(),
        T::Unit => Just(Vec::new()).boxed(),
        T::List(t) => vec(valid(t), 0..4).prop_map(counted).boxed(),
        T::Array(t, n) => vec(valid(t), *n).prop_map(|p| p.concat()).boxed(),
        T::Option(t) => option::of(valid(t))
            .prop_map(|v| v.map_or(vec![0], |b| [vec![1], b].concat()))
            .boxed(),
        T::Tuple(ts) => ts
            .iter()
            .map(valid)
            .collect::<Vec<_>>()
            .prop_map(|p| p.concat())
            .boxed(),
        T::Map(k, v) => vec((valid(k), valid(v)), 0..3)
            .prop_map(|entries| {
                // A key appears once: later duplicates are left out.
                let mut keys = Vec::new();
                let mut parts = Vec::new();
                for (k, v) in entries {
                    if !keys.contains(&k) {
                        parts.push([k.clone(), v].concat());
                        keys.push(k);
                    }
                }
                counted(parts)
            })
            .boxed(),
    }
}

fn short_type_and_value() -> impl Strategy<Value = (TypeExpr, Vec<u8>)> {
    type_expr()
        .prop_filter("arrays the value strategy can fill", |t| !long_array(t))
        .prop_flat_map(|t| {
            let value = valid(&t);
            (Just(t), value)
        })
}

proptest! {
    #![proptest_config(config(256))]

    /// Any bytes as any type: an answer, never a panic; what decodes
    /// encodes back from its JSON.
    #[test]
    fn json_from_any_bytes_as_any_type(
        ty in type_expr(),
        bytes in vec(any::<u8>(), 0..64),
    ) {
        if let Ok(json) = value_to_json(&ty, &bytes) {
            let again = value_from_json(&ty, &json);
            prop_assert!(again.is_ok(), "{ty}: {json} does not encode: {again:?}");
        }
    }

    /// Valid bytes of any type become JSON that encodes back to the same
    /// JSON, and to the same bytes where nothing is lossy.
    #[test]
    fn json_round_trips_valid_values((ty, bytes) in short_type_and_value()) {
        let json = value_to_json(&ty, &bytes);
        prop_assert!(json.is_ok(), "{ty}: {bytes:02x?} does not decode: {json:?}");
        let json = json.unwrap_or(Value::Null);
        let again = value_from_json(&ty, &json);
        prop_assert!(again.is_ok(), "{ty}: {json} does not encode: {again:?}");
        let again = again.unwrap_or_default();
        prop_assert_eq!(value_to_json(&ty, &again).ok(), Some(json.clone()), "{}", ty);
        if !lossy(&ty) {
            prop_assert_eq!(&again, &bytes, "{}: {}", ty, json);
        }
    }

    /// Type expressions print and parse back to themselves.
    #[test]
    fn type_expressions_parse_what_they_print(ty in type_expr()) {
        prop_assert_eq!(ty.to_string().parse::<TypeExpr>().ok(), Some(ty));
    }

    /// Any text, and near misses of the grammar, parse or fail without a
    /// panic.
    #[test]
    fn any_text_parses_or_fails_cleanly(
        pieces in vec(prop_oneof![
            Just("list<"), Just("array<"), Just("map<"), Just("tuple<"), Just("option<"),
            Just("proto<"), Just(">"), Just(","), Just("u8"), Just("unit"), Just("4096"),
            Just("18446744073709551616"), Just(""), Just("é"), Just(" "),
        ], 0..12),
        text in any::<String>(),
    ) {
        let _ = pieces.concat().parse::<TypeExpr>();
        let _ = text.parse::<TypeExpr>();
    }

    /// Arguments from any JSON text for a variant of any argument types:
    /// refused with a place, or bytes that check against the variant and
    /// come back as JSON that encodes to them again.
    #[test]
    fn arguments_from_any_json(
        tys in vec(type_expr(), 0..3),
        json in prop_oneof![
            any::<String>(),
            Just("[]".to_owned()),
            Just("[null, [], {}]".to_owned()),
            Just(r#"[1, "2", [3], {"a": 4}, "AAAA", 1e400, -0.0, "NaN"]"#.to_owned()),
            "\\[[-0-9a-z,\\[\\]{}:\" .]{0,24}\\]",
        ],
    ) {
        let args = tys.into_iter().map(|t| ArgSchema::new(None, t)).collect();
        let variant = VariantSchema::cast("V", args);
        if let Ok(bytes) = args_from_json(&variant, &json) {
            prop_assert!(check_args(&variant, &bytes).is_ok());
            let back = args_to_json(&variant, &bytes);
            prop_assert!(back.is_ok(), "{json}: {back:?}");
            let text = back.map(|v| v.to_string()).unwrap_or_default();
            prop_assert_eq!(args_from_json(&variant, &text).ok(), Some(bytes));
        }
    }
}
