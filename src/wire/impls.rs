//! [`Wire`] for standard types, as the "Payload encoding" spec says
//! (`docs/payload-encoding.txt`, made for `proto/ractor_grpc/v1/cluster.proto`).
//!
//! Every decoder here bounds its work and memory by the input it was given:
//! counts are checked against the bytes that remain before anything is
//! allocated, and no input can make a decoder panic.

use std::any::{Any, TypeId};
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hash};

use super::{TypeExpr, Wire, WireError};

/// Most bytes a decoder reserves ahead of the elements it has decoded, so a
/// small payload claiming many large elements cannot reserve much memory.
const PREALLOC_BUDGET: usize = 64 * 1024;

/// Longest valid varint: ten 7-bit groups hold 64 bits.
const MAX_VARINT_LEN: usize = 10;

/// Appends `value` as an unsigned LEB128 varint, shortest form.
pub(super) fn write_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads an unsigned LEB128 varint. Rejects forms longer than needed and
/// values above `u64::MAX`, so every value has exactly one encoding.
pub(super) fn read_varint(input: &mut &[u8], what: &'static str) -> Result<u64, WireError> {
    let mut value = 0u64;
    for i in 0..MAX_VARINT_LEN {
        let Some((&byte, rest)) = input.split_first() else {
            return Err(WireError::Truncated { what });
        };
        let group = u64::from(byte & 0x7f);
        if i == MAX_VARINT_LEN - 1 && byte > 0x01 {
            return Err(invalid(what, "varint exceeds 64 bits"));
        }
        value |= group << (7 * i);
        if byte & 0x80 == 0 {
            if byte == 0 && i > 0 {
                return Err(invalid(what, "varint is not in its shortest form"));
            }
            *input = rest;
            return Ok(value);
        }
        *input = rest;
    }
    Err(invalid(what, "varint longer than 10 bytes"))
}

/// Reads a varint length or count. It may not exceed the bytes that remain:
/// a length counts bytes, and an element or entry takes at least one byte
/// (the spec extends the bound to zero-byte elements such as `()`), so the
/// work and memory a decoder spends stay proportional to its input.
pub(super) fn read_count(input: &mut &[u8], what: &'static str) -> Result<usize, WireError> {
    let count = read_varint(input, what)?;
    match usize::try_from(count) {
        Ok(count) if count <= input.len() => Ok(count),
        _ => Err(WireError::Truncated { what }),
    }
}

/// Splits `len` bytes off the front of `input`.
pub(super) fn take<'a>(
    input: &mut &'a [u8],
    len: usize,
    what: &'static str,
) -> Result<&'a [u8], WireError> {
    let Some((head, rest)) = input.split_at_checked(len) else {
        return Err(WireError::Truncated { what });
    };
    *input = rest;
    Ok(head)
}

/// Splits `N` bytes off the front of `input` as an array.
fn take_array<const N: usize>(input: &mut &[u8], what: &'static str) -> Result<[u8; N], WireError> {
    let Some((head, rest)) = input.split_first_chunk::<N>() else {
        return Err(WireError::Truncated { what });
    };
    *input = rest;
    Ok(*head)
}

fn invalid(what: &'static str, detail: impl Into<String>) -> WireError {
    WireError::Invalid {
        what,
        detail: detail.into(),
    }
}

/// `value` as a `B`, when `A` and `B` are the same type.
fn same_type<A: 'static, B: 'static>(value: A) -> Option<B> {
    let mut slot = Some(value);
    (&mut slot as &mut dyn Any)
        .downcast_mut::<Option<B>>()?
        .take()
}

/// How many `T`s to reserve for `count` claimed elements.
fn prealloc<T>(count: usize) -> usize {
    count.min(PREALLOC_BUDGET / size_of::<T>().max(1))
}

/// Fixed-width integers: big-endian two's complement.
macro_rules! wire_int {
    ($($t:ty => $expr:expr),* $(,)?) => {$(
        impl Wire for $t {
            fn encode(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_be_bytes());
            }

            fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
                take_array(input, stringify!($t)).map(Self::from_be_bytes)
            }

            fn type_expr() -> TypeExpr {
                $expr
            }
        }
    )*};
}

wire_int!(
    u8 => TypeExpr::U8,
    u16 => TypeExpr::U16,
    u32 => TypeExpr::U32,
    u64 => TypeExpr::U64,
    u128 => TypeExpr::U128,
    i8 => TypeExpr::I8,
    i16 => TypeExpr::I16,
    i32 => TypeExpr::I32,
    i64 => TypeExpr::I64,
    i128 => TypeExpr::I128,
);

// `usize`/`isize` travel as 64 bits so both ends agree whatever their
// platforms; a value the receiving platform cannot hold is invalid.
impl Wire for usize {
    fn encode(&self, out: &mut Vec<u8>) {
        // Lossless: no supported platform has a usize wider than 64 bits.
        (*self as u64).encode(out);
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        let value = u64::decode(input).map_err(|_| WireError::Truncated { what: "usize" })?;
        Self::try_from(value)
            .map_err(|_| invalid("usize", format!("{value} does not fit this platform")))
    }

    fn type_expr() -> TypeExpr {
        TypeExpr::U64
    }
}

impl Wire for isize {
    fn encode(&self, out: &mut Vec<u8>) {
        (*self as i64).encode(out);
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        let value = i64::decode(input).map_err(|_| WireError::Truncated { what: "isize" })?;
        Self::try_from(value)
            .map_err(|_| invalid("isize", format!("{value} does not fit this platform")))
    }

    fn type_expr() -> TypeExpr {
        TypeExpr::I64
    }
}

// Floats: the IEEE-754 bits, big-endian, so NaN payloads survive.
impl Wire for f32 {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_bits().to_be_bytes());
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        take_array(input, "f32").map(|b| Self::from_bits(u32::from_be_bytes(b)))
    }

    fn type_expr() -> TypeExpr {
        TypeExpr::F32
    }
}

impl Wire for f64 {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_bits().to_be_bytes());
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        take_array(input, "f64").map(|b| Self::from_bits(u64::from_be_bytes(b)))
    }

    fn type_expr() -> TypeExpr {
        TypeExpr::F64
    }
}

impl Wire for bool {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        match take_array::<1>(input, "bool")? {
            [0] => Ok(false),
            [1] => Ok(true),
            [b] => Err(invalid(
                "bool",
                format!("byte {b:#04x} is neither 0x00 nor 0x01"),
            )),
        }
    }

    fn type_expr() -> TypeExpr {
        TypeExpr::Bool
    }
}

impl Wire for char {
    fn encode(&self, out: &mut Vec<u8>) {
        u32::from(*self).encode(out);
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        let value = take_array(input, "char").map(u32::from_be_bytes)?;
        Self::from_u32(value)
            .ok_or_else(|| invalid("char", format!("{value:#x} is not a Unicode scalar value")))
    }

    fn type_expr() -> TypeExpr {
        TypeExpr::Char
    }
}

impl Wire for String {
    fn encode(&self, out: &mut Vec<u8>) {
        write_varint(out, self.len() as u64);
        out.extend_from_slice(self.as_bytes());
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        let len = read_count(input, "string")?;
        let bytes = take(input, len, "string")?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_owned()),
            Err(e) => Err(invalid("string", e.to_string())),
        }
    }

    fn type_expr() -> TypeExpr {
        TypeExpr::String
    }
}

// `Vec<u8>` is the common bulk payload, so it is copied in one go rather
// than byte by byte. Stable Rust has no specialization and `Wire` has no
// per-slice hook, so the fast path finds `u8` through `Any`: the downcast
// is a type-id comparison, and `T: 'static` costs nothing for message types.
impl<T: Wire + 'static> Wire for Vec<T> {
    fn encode(&self, out: &mut Vec<u8>) {
        write_varint(out, self.len() as u64);
        if let Some(bytes) = (self as &dyn Any).downcast_ref::<Vec<u8>>() {
            out.extend_from_slice(bytes);
        } else {
            for item in self {
                item.encode(out);
            }
        }
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        let count = read_count(input, "sequence")?;
        if TypeId::of::<T>() == TypeId::of::<u8>() {
            let bytes = take(input, count, "sequence")?.to_vec();
            return same_type(bytes)
                .ok_or_else(|| invalid("sequence", "byte fast path type mismatch"));
        }
        let mut items = Self::with_capacity(prealloc::<T>(count));
        for _ in 0..count {
            items.push(T::decode(input)?);
        }
        Ok(items)
    }

    fn type_expr() -> TypeExpr {
        if TypeId::of::<T>() == TypeId::of::<u8>() {
            TypeExpr::Bytes
        } else {
            TypeExpr::List(Box::new(T::type_expr()))
        }
    }
}

/// Fixed-size arrays: the `N` elements, no count (both ends know `N`).
impl<T: Wire, const N: usize> Wire for [T; N] {
    fn encode(&self, out: &mut Vec<u8>) {
        for item in self {
            item.encode(out);
        }
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        let mut items = Vec::with_capacity(prealloc::<T>(N));
        for _ in 0..N {
            items.push(T::decode(input)?);
        }
        Self::try_from(items).map_err(|_| invalid("array", "wrong element count"))
    }

    fn type_expr() -> TypeExpr {
        TypeExpr::Array(Box::new(T::type_expr()), N)
    }
}

impl<T: Wire> Wire for Option<T> {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            None => out.push(0),
            Some(value) => {
                out.push(1);
                value.encode(out);
            }
        }
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        match take_array::<1>(input, "option")? {
            [0] => Ok(None),
            [1] => T::decode(input).map(Some),
            [tag] => Err(invalid(
                "option",
                format!("tag {tag:#04x} is neither 0x00 nor 0x01"),
            )),
        }
    }

    fn type_expr() -> TypeExpr {
        TypeExpr::Option(Box::new(T::type_expr()))
    }
}

impl<T: Wire> Wire for Box<T> {
    fn encode(&self, out: &mut Vec<u8>) {
        (**self).encode(out);
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        T::decode(input).map(Self::new)
    }

    fn type_expr() -> TypeExpr {
        T::type_expr()
    }
}

impl Wire for () {
    fn encode(&self, _out: &mut Vec<u8>) {}

    fn decode(_input: &mut &[u8]) -> Result<Self, WireError> {
        Ok(())
    }

    fn type_expr() -> TypeExpr {
        TypeExpr::Unit
    }
}

/// Tuples: the elements' encodings one after another.
macro_rules! wire_tuple {
    ($($name:ident)+) => {
        impl<$($name: Wire),+> Wire for ($($name,)+) {
            #[allow(non_snake_case)]
            fn encode(&self, out: &mut Vec<u8>) {
                let ($($name,)+) = self;
                $($name.encode(out);)+
            }

            fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
                Ok(($($name::decode(input)?,)+))
            }

            fn type_expr() -> TypeExpr {
                TypeExpr::Tuple(vec![$($name::type_expr()),+])
            }
        }
    };
}

wire_tuple!(A);
wire_tuple!(A B);
wire_tuple!(A B C);
wire_tuple!(A B C D);
wire_tuple!(A B C D E);
wire_tuple!(A B C D E F);
wire_tuple!(A B C D E F G);
wire_tuple!(A B C D E F G H);

fn encode_entries<'a, K: Wire + 'a, V: Wire + 'a>(
    out: &mut Vec<u8>,
    len: usize,
    entries: impl Iterator<Item = (&'a K, &'a V)>,
) {
    write_varint(out, len as u64);
    for (key, value) in entries {
        key.encode(out);
        value.encode(out);
    }
}

/// Decodes `count` entries into `insert`, which reports whether the key was
/// already present; a repeated key is invalid, as it has no single meaning.
fn decode_entries<K: Wire, V: Wire>(
    input: &mut &[u8],
    count: usize,
    mut insert: impl FnMut(K, V) -> bool,
) -> Result<(), WireError> {
    for _ in 0..count {
        let key = K::decode(input)?;
        let value = V::decode(input)?;
        if insert(key, value) {
            return Err(invalid("map", "duplicate key"));
        }
    }
    Ok(())
}

impl<K, V, S> Wire for HashMap<K, V, S>
where
    K: Wire + Eq + Hash,
    V: Wire,
    S: BuildHasher + Default,
{
    fn encode(&self, out: &mut Vec<u8>) {
        encode_entries(out, self.len(), self.iter());
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        let count = read_count(input, "map")?;
        let mut map = Self::with_capacity_and_hasher(prealloc::<(K, V)>(count), S::default());
        decode_entries(input, count, |k, v| map.insert(k, v).is_some())?;
        Ok(map)
    }

    fn type_expr() -> TypeExpr {
        TypeExpr::Map(Box::new(K::type_expr()), Box::new(V::type_expr()))
    }
}

impl<K: Wire + Ord, V: Wire> Wire for BTreeMap<K, V> {
    fn encode(&self, out: &mut Vec<u8>) {
        encode_entries(out, self.len(), self.iter());
    }

    fn decode(input: &mut &[u8]) -> Result<Self, WireError> {
        let count = read_count(input, "map")?;
        let mut map = Self::new();
        decode_entries(input, count, |k, v| map.insert(k, v).is_some())?;
        Ok(map)
    }

    fn type_expr() -> TypeExpr {
        TypeExpr::Map(Box::new(K::type_expr()), Box::new(V::type_expr()))
    }
}
