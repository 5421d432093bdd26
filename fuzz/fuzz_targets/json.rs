//! The JSON transcoder with a fixed set of type expressions (the first byte
//! picks one): payload bytes to JSON and back, and the rest of the input as
//! JSON arguments and back; never a panic, and round trips where defined.
#![no_main]

use ractor_grpc::wire::{
    ArgSchema, TypeExpr, VariantSchema, args_from_json, args_to_json, check_args, value_from_json,
    value_to_json,
};

const TYPES: [&str; 22] = [
    "u8",
    "i64",
    "u128",
    "f32",
    "f64",
    "bool",
    "char",
    "string",
    "bytes",
    "unit",
    "opaque",
    "proto<x.Y>",
    "list<option<i32>>",
    "array<u16,4>",
    "tuple<u8,string,bool>",
    "map<string,list<u64>>",
    "map<u32,tuple<f64,char>>",
    "option<option<unit>>",
    "list<list<unit>>",
    "array<array<unit,64>,64>",
    "map<tuple<u8,u8>,option<string>>",
    "list<map<char,bytes>>",
];

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let ty: TypeExpr = TYPES[usize::from(which) % TYPES.len()]
        .parse()
        .expect("a valid type expression");
    if let Ok(json) = value_to_json(&ty, rest) {
        let bytes = value_from_json(&ty, &json).expect("decoded JSON encodes again");
        assert_eq!(value_to_json(&ty, &bytes).ok(), Some(json), "{ty}");
    }
    if let Ok(text) = std::str::from_utf8(rest) {
        let variant = VariantSchema::cast(
            "V",
            vec![
                ArgSchema::new(None, ty.clone()),
                ArgSchema::new(None, TypeExpr::String),
            ],
        );
        if let Ok(bytes) = args_from_json(&variant, text) {
            check_args(&variant, &bytes).expect("encoded arguments check");
            let back = args_to_json(&variant, &bytes).expect("encoded arguments decode");
            let again = args_from_json(&variant, &back.to_string()).ok();
            assert_eq!(again, Some(bytes), "{ty}: {text}");
        }
    }
});
