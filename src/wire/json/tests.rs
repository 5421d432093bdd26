use std::collections::{BTreeMap, HashMap};

use serde_json::{Value, json};

use super::*;
use crate::wire::{ArgSchema, from_bytes, to_bytes};

fn ty(text: &str) -> TypeExpr {
    text.parse().expect("a valid type expression")
}

/// Encodes `json` as `ty` and checks the bytes are what `Wire` writes for
/// `rust`, and that they decode back to `back` (the JSON replies use).
fn fits<T: Wire + PartialEq + std::fmt::Debug>(text: &str, json: Value, rust: &T, back: Value) {
    let t = ty(text);
    let bytes = value_from_json(&t, &json).expect("fits its type");
    assert_eq!(
        bytes,
        to_bytes(rust),
        "{text}: {json} encodes as the Rust value"
    );
    assert_eq!(&from_bytes::<T>(&bytes).expect("Rust decodes it"), rust);
    assert_eq!(
        value_to_json(&t, &bytes).expect("decodes"),
        back,
        "{text} back to JSON"
    );
}

#[test]
fn every_scalar_round_trips_through_json() {
    fits("u8", json!(255), &255u8, json!(255));
    fits("u16", json!(513), &513u16, json!(513));
    fits(
        "u32",
        json!(4_000_000_000u32),
        &4_000_000_000u32,
        json!(4_000_000_000u32),
    );
    fits("u64", json!(u64::MAX), &u64::MAX, json!(u64::MAX));
    fits(
        "u64",
        json!("18446744073709551615"),
        &u64::MAX,
        json!(u64::MAX),
    );
    fits("i8", json!(-128), &-128i8, json!(-128));
    fits("i16", json!(-300), &-300i16, json!(-300));
    fits("i32", json!(-70_000), &-70_000i32, json!(-70_000));
    fits("i64", json!(i64::MIN), &i64::MIN, json!(i64::MIN));
    fits(
        "i64",
        json!("-9007199254740993"),
        &-9_007_199_254_740_993i64,
        json!(-9_007_199_254_740_993i64),
    );
    fits(
        "u128",
        json!(u128::MAX.to_string()),
        &u128::MAX,
        json!(u128::MAX.to_string()),
    );
    fits("u128", json!(7), &7u128, json!("7"));
    fits(
        "i128",
        json!(i128::MIN.to_string()),
        &i128::MIN,
        json!(i128::MIN.to_string()),
    );
    fits("f32", json!(1.5), &1.5f32, json!(1.5));
    fits("f64", json!(-0.25), &-0.25f64, json!(-0.25));
    fits("f64", json!("Infinity"), &f64::INFINITY, json!("Infinity"));
    fits(
        "f64",
        json!("-Infinity"),
        &f64::NEG_INFINITY,
        json!("-Infinity"),
    );
    fits("bool", json!(true), &true, json!(true));
    fits("char", json!("é"), &'é', json!("é"));
    fits(
        "string",
        json!("héllo"),
        &"héllo".to_owned(),
        json!("héllo"),
    );
    fits(
        "bytes",
        json!("AAEC/w=="),
        &vec![0u8, 1, 2, 255],
        json!("AAEC/w=="),
    );
    fits("unit", json!(null), &(), json!(null));
    // NaN is not equal to itself: check its bytes and its JSON instead.
    let nan = value_from_json(&ty("f64"), &json!("NaN")).expect("NaN");
    assert!(from_bytes::<f64>(&nan).expect("f64").is_nan());
    assert_eq!(
        value_to_json(&ty("f64"), &nan).expect("decodes"),
        json!("NaN")
    );
}

#[test]
fn every_compound_type_round_trips_through_json() {
    fits(
        "list<string>",
        json!(["a", "bc"]),
        &vec!["a".to_owned(), "bc".to_owned()],
        json!(["a", "bc"]),
    );
    fits("list<u8>", json!([1, 2]), &vec![1u8, 2], json!([1, 2]));
    fits(
        "array<u16,3>",
        json!([1, 2, 3]),
        &[1u16, 2, 3],
        json!([1, 2, 3]),
    );
    fits("option<string>", json!(null), &None::<String>, json!(null));
    fits(
        "option<string>",
        json!("x"),
        &Some("x".to_owned()),
        json!("x"),
    );
    // Nested options keep None and Some(None) apart.
    fits(
        "option<option<u8>>",
        json!(null),
        &None::<Option<u8>>,
        json!(null),
    );
    fits(
        "option<option<u8>>",
        json!([null]),
        &Some(None::<u8>),
        json!([null]),
    );
    fits(
        "option<option<u8>>",
        json!([4]),
        &Some(Some(4u8)),
        json!([4]),
    );
    fits("option<unit>", json!([null]), &Some(()), json!([null]));
    fits(
        "tuple<bool,char,f64>",
        json!([true, "é", 1.5]),
        &(true, 'é', 1.5f64),
        json!([true, "é", 1.5]),
    );
    let map = BTreeMap::from([("x".to_owned(), 1u32), ("y".to_owned(), 258)]);
    fits(
        "map<string,u32>",
        json!({"x": 1, "y": 258}),
        &map,
        json!({"x": 1, "y": 258}),
    );
    let by_number = BTreeMap::from([(1u8, "one".to_owned()), (2, "two".to_owned())]);
    fits(
        "map<u8,string>",
        json!([[1, "one"], [2, "two"]]),
        &by_number,
        json!([[1, "one"], [2, "two"]]),
    );
    let nested = HashMap::from([("k".to_owned(), (7u8, false))]);
    fits(
        "map<string,tuple<u8,bool>>",
        json!({"k": [7, false]}),
        &nested,
        json!({"k": [7, false]}),
    );
    // proto<..> and opaque travel as base64 of what follows the length.
    let opaque = value_from_json(&ty("opaque"), &json!("aGk=")).expect("base64");
    assert_eq!(opaque, b"\x02hi");
    assert_eq!(
        value_to_json(&ty("proto<a.B>"), &opaque).expect("decodes"),
        json!("aGk=")
    );
}

fn place_of(text: &str, json: Value) -> ArgsError {
    value_from_json(&ty(text), &json).expect_err("does not fit")
}

#[test]
fn a_value_that_does_not_fit_says_where_and_why() {
    let e = place_of("list<tuple<u8,string>>", json!([[1, "a"], [2, 3]]));
    assert_eq!(e.place, "value[1][1]");
    assert_eq!(e.detail, "expected string, found the number 3");
    let e = place_of("u8", json!(256));
    assert_eq!(e.detail, "256 is out of range for u8");
    let e = place_of("i8", json!(-1.5));
    assert!(
        e.detail.starts_with("expected i8, an integer"),
        "{}",
        e.detail
    );
    let e = place_of("u32", json!("7"));
    assert!(
        e.detail.contains("found the string \"7\""),
        "strings only for 64 bits: {}",
        e.detail
    );
    let e = place_of("u64", json!("-1"));
    assert_eq!(e.detail, "-1 is out of range for u64");
    let e = place_of("array<u8,2>", json!([1]));
    assert_eq!(
        e.detail,
        "expected array<u8,2>, an array of 2, found an array of 1"
    );
    let e = place_of("map<string,u8>", json!({"a": 1, "b": "x"}));
    assert_eq!(e.place, "value[\"b\"]");
    let e = place_of("map<u8,u8>", json!([[1, 1], [1, 2]]));
    assert_eq!(
        (e.place.as_str(), e.detail.as_str()),
        ("value[1]", "this key appears twice")
    );
    let e = place_of("bytes", json!("not base64!"));
    assert!(
        e.detail.starts_with("bytes is not standard base64"),
        "{}",
        e.detail
    );
    let e = place_of("char", json!("ab"));
    assert!(e.detail.starts_with("expected char"), "{}", e.detail);
    let e = place_of("f32", json!(1e300));
    assert_eq!(e.detail, "1e+300 is out of range for f32");
    let e = place_of("option<unit>", json!(7));
    assert_eq!(
        e.detail,
        "expected option<unit>: null for None or a one-element array for Some, found the number 7"
    );
}

fn call1() -> VariantSchema {
    VariantSchema::call(
        "Call1",
        vec![
            ArgSchema::new(None, TypeExpr::U8),
            ArgSchema::new(None, TypeExpr::I64),
        ],
        ty("list<string>"),
    )
}

#[test]
fn arguments_come_from_a_json_array_of_the_right_length() {
    let variant = call1();
    assert_eq!(
        args_from_json(&variant, "[3, -2]").expect("fits"),
        [vec![3u8], (-2i64).to_be_bytes().to_vec()].concat()
    );
    let e = args_from_json(&variant, "[3]").expect_err("one short");
    assert_eq!(
        e.to_string(),
        "args_json: Call1 takes 2 arguments (u8, i64), the array has 1"
    );
    let e = args_from_json(&variant, "[3, -2, 1]").expect_err("one over");
    assert!(e.detail.ends_with("the array has 3"), "{e}");
    let e = args_from_json(&variant, "[3, ").expect_err("malformed");
    assert_eq!(e.place, "args_json");
    assert!(e.detail.starts_with("not JSON: EOF while parsing"), "{e}");
    let e = args_from_json(&variant, r#"{"a": 3}"#).expect_err("an object");
    assert_eq!(
        e.detail,
        "expected a JSON array of Call1's arguments (u8, i64), found an object"
    );
    let e = args_from_json(&variant, r#"[3, "x"]"#).expect_err("a string");
    assert_eq!(e.place, "args_json[1]");
    let none = VariantSchema::cast("Tick", Vec::new());
    assert_eq!(
        args_from_json(&none, "[]").expect("no arguments"),
        Vec::<u8>::new()
    );
}

#[test]
fn payload_bytes_are_checked_against_the_variant() {
    let variant = call1();
    let good = [vec![3u8], (-2i64).to_be_bytes().to_vec()].concat();
    check_args(&variant, &good).expect("fits");
    assert_eq!(args_to_json(&variant, &good).expect("fits"), json!([3, -2]));
    let e = check_args(&variant, &good[..5]).expect_err("truncated");
    assert_eq!(
        e.to_string(),
        "args: Call1's argument 1 (i64): input ends inside a i64"
    );
    let e = check_args(&variant, &[good.clone(), vec![0]].concat()).expect_err("trailing");
    assert_eq!(e.detail, "1 bytes left after Call1's last argument");
}

#[test]
fn bytes_that_break_a_rule_do_not_become_json() {
    // Not the shortest varint, an option tag of 2, a repeated map key,
    // invalid UTF-8, a count larger than the input.
    assert!(value_to_json(&ty("list<u8>"), &[0x81, 0x00, 1]).is_err());
    assert!(value_to_json(&ty("option<u8>"), &[2, 1]).is_err());
    assert!(value_to_json(&ty("map<string,u8>"), &[2, 1, b'a', 1, 1, b'a', 2]).is_err());
    assert!(value_to_json(&ty("map<u8,u8>"), &[2, 1, 1, 1, 2]).is_err());
    assert!(value_to_json(&ty("string"), &[2, 0xff, 0xfe]).is_err());
    assert!(value_to_json(&ty("list<unit>"), &[200]).is_err());
    // A described array far longer than the payload does not spin.
    assert!(value_to_json(&ty("array<unit,18446744073709551615>"), &[]).is_err());
    assert_eq!(
        value_to_json(&ty("array<unit,3>"), &[]).expect("3 units"),
        json!([null, null, null])
    );
    assert!(matches!(
        value_to_json(&ty("u8"), &[1, 2]),
        Err(WireError::TrailingBytes { count: 1 })
    ));
}

/// Each level of a nested sequence of zero-byte values is
/// within its own bound, yet together they multiply, so a type a peer
/// describes could make a tiny payload decode into billions of nulls.
#[test]
fn nested_values_of_zero_bytes_are_bounded_by_the_payload() {
    // 4096^3 nulls from an empty payload.
    let over = |r: Result<Value, WireError>| {
        matches!(
            r,
            Err(WireError::Invalid {
                what: "payload",
                ..
            })
        )
    };
    let deep = ty("array<array<array<unit,4096>,4096>,4096>");
    assert!(over(value_to_json(&deep, &[])));
    let empty = ty("array<array<array<array<u8,0>,4096>,4096>,4096>");
    assert!(over(value_to_json(&empty, &[])));
    // Counts that each fit the bytes after them, but whose units add up
    // with the square of the payload: m lists each claiming the bytes
    // after their count (two-byte counts), then 128 empty lists.
    let m = 3000usize;
    let mut quadratic = Vec::new();
    write_varint(&mut quadratic, (m + 128) as u64);
    for i in 0..m {
        write_varint(&mut quadratic, (2 * (m - i - 1) + 128) as u64);
    }
    quadratic.extend([0; 128]);
    assert!(over(value_to_json(&ty("list<list<unit>>"), &quadratic)));
    // The same budget holds for a variant's arguments together.
    let variant = VariantSchema::cast("V", vec![ArgSchema::new(None, deep)]);
    assert!(check_args(&variant, &[]).is_err());
    // What stays within the bound still decodes.
    let within = value_to_json(&ty("array<array<unit,64>,64>"), &[]).expect("4160 values");
    assert_eq!(within.as_array().map(Vec::len), Some(64));
    assert_eq!(
        value_to_json(&ty("list<list<unit>>"), &[2, 1, 0]).expect("two lists"),
        json!([[null], []])
    );
}
