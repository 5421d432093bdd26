//! The payload decoder, `wire::from_bytes`, for several types (the first
//! byte picks one): what decodes re-encodes to the same bytes where the
//! encoding is canonical, and the JSON transcoder given the type's expression
//! accepts exactly the bytes the typed decoder accepts.
#![no_main]

use std::collections::{BTreeMap, HashMap};

use ractor_grpc::wire::{self, Wire};

fn check<T: Wire + 'static>(bytes: &[u8], canonical: bool) {
    let typed = wire::from_bytes::<T>(bytes);
    let json = wire::value_to_json(&T::type_expr(), bytes);
    assert_eq!(
        typed.is_ok(),
        json.is_ok(),
        "{}: typed {:?}, JSON {:?}",
        T::type_expr(),
        typed.as_ref().err(),
        json.as_ref().err()
    );
    if let Ok(value) = typed {
        let again = wire::to_bytes(&value);
        if canonical {
            assert_eq!(again, bytes, "{} is canonical", T::type_expr());
        } else {
            assert!(wire::from_bytes::<T>(&again).is_ok());
        }
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    match which % 12 {
        0 => check::<u64>(bytes, true),
        1 => check::<(bool, char, f64)>(bytes, true),
        2 => check::<String>(bytes, true),
        3 => check::<Vec<u8>>(bytes, true),
        4 => check::<Vec<String>>(bytes, true),
        5 => check::<Vec<Vec<u64>>>(bytes, true),
        6 => check::<Option<Option<(u8, i128)>>>(bytes, true),
        7 => check::<[u16; 4]>(bytes, true),
        8 => check::<(u8, String, Vec<i64>)>(bytes, true),
        9 => check::<(Vec<()>, Option<char>)>(bytes, true),
        10 => check::<BTreeMap<u64, Vec<String>>>(bytes, false),
        _ => check::<HashMap<String, Option<u32>>>(bytes, false),
    }
});
