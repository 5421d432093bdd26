//! Payloads as JSON: the arguments of a described variant from a JSON
//! array, and a reply as a JSON value, so a client without the payload
//! encoding (grpcurl, a shell script) can cast and call.
//!
//! Owns the mapping between type expressions and JSON ("JSON arguments and
//! replies" in `cluster.proto`) and the checking of payload bytes against a
//! variant. Works from a [`MessageSchema`](super::MessageSchema)'s type
//! expressions alone, so it serves actors of this process and actors a peer
//! described.

use std::collections::HashSet;

use base64::{Engine as _, engine::general_purpose::STANDARD};
use serde_json::{Map, Number, Value};

use super::{
    TypeExpr, VariantSchema, Wire, WireError,
    impls::{read_count, take, write_varint},
};

/// Most elements an `array<T,N>` may have beyond the payload bytes that
/// remain (elements of zero bytes, such as `unit`).
const MAX_EMPTY_ARRAY: usize = 4096;

/// Most values of zero bytes one payload may hold beyond one per byte (see
/// [`EmptyBudget`]).
const MAX_EMPTY_VALUES: usize = 1 << 16;

/// Why arguments do not fit a variant: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{place}: {detail}")]
#[non_exhaustive]
pub struct ArgsError {
    /// Where: `args_json`, `args_json[1]`, `args_json[0]["key"][2]`, or
    /// `args` for payload bytes.
    pub place: String,
    /// What is wrong there.
    pub detail: String,
}

impl ArgsError {
    fn new(place: &str, detail: impl Into<String>) -> Self {
        Self {
            place: place.to_owned(),
            detail: detail.into(),
        }
    }
}

/// `variant`'s arguments, given as the JSON array `json`, in the payload
/// encoding.
///
/// # Errors
/// [`ArgsError`] when `json` is not JSON, not an array of as many elements
/// as the variant has arguments, or an element does not fit its type; the
/// error names the element and the place inside it.
///
/// # Examples
/// ```
/// use ractor_grpc::wire::{ArgSchema, TypeExpr, VariantSchema, args_from_json};
///
/// let ping = VariantSchema::cast(
///     "Ping",
///     vec![ArgSchema::new(None, TypeExpr::String), ArgSchema::new(None, TypeExpr::U64)],
/// );
/// assert_eq!(args_from_json(&ping, r#"["hi", 7]"#).unwrap(), b"\x02hi\0\0\0\0\0\0\0\x07");
/// let wrong = args_from_json(&ping, r#"["hi", "seven"]"#).unwrap_err();
/// assert_eq!(wrong.place, "args_json[1]");
/// ```
pub fn args_from_json(variant: &VariantSchema, json: &str) -> Result<Vec<u8>, ArgsError> {
    let value: Value = serde_json::from_str(json)
        .map_err(|e| ArgsError::new("args_json", format!("not JSON: {e}")))?;
    let Value::Array(items) = value else {
        return Err(ArgsError::new(
            "args_json",
            format!(
                "expected a JSON array of {}'s arguments {}, found {}",
                variant.name,
                signature(variant),
                found(&value)
            ),
        ));
    };
    if items.len() != variant.args.len() {
        return Err(ArgsError::new(
            "args_json",
            format!(
                "{} takes {} argument{} {}, the array has {}",
                variant.name,
                variant.args.len(),
                if variant.args.len() == 1 { "" } else { "s" },
                signature(variant),
                items.len()
            ),
        ));
    }
    let mut out = Vec::new();
    for (i, (item, arg)) in items.iter().zip(&variant.args).enumerate() {
        let mut place = format!("args_json[{i}]");
        encode(&arg.ty, item, &mut place, &mut out)?;
    }
    Ok(out)
}

/// Checks that `bytes` are exactly `variant`'s arguments in the payload
/// encoding.
///
/// # Errors
/// [`ArgsError`] (place `args`) naming the argument that does not decode,
/// or the bytes left over after the last one.
pub fn check_args(variant: &VariantSchema, bytes: &[u8]) -> Result<(), ArgsError> {
    args_to_json(variant, bytes).map(drop)
}

/// `variant`'s arguments, given as payload bytes, as a JSON array.
///
/// # Errors
/// As [`check_args`].
pub fn args_to_json(variant: &VariantSchema, mut bytes: &[u8]) -> Result<Value, ArgsError> {
    let mut items = Vec::with_capacity(variant.args.len());
    let mut budget = EmptyBudget::new(bytes.len());
    for (i, arg) in variant.args.iter().enumerate() {
        let item = decode(&arg.ty, &mut bytes, &mut budget).map_err(|e| {
            ArgsError::new(
                "args",
                format!("{}'s argument {i} ({}): {e}", variant.name, arg.ty),
            )
        })?;
        items.push(item);
    }
    if !bytes.is_empty() {
        return Err(ArgsError::new(
            "args",
            format!(
                "{} bytes left after {}'s last argument",
                bytes.len(),
                variant.name
            ),
        ));
    }
    Ok(Value::Array(items))
}

/// One value of type `ty`, given as payload bytes, as JSON.
///
/// # Errors
/// [`WireError`] when `bytes` is not exactly one valid encoding of `ty`.
pub fn value_to_json(ty: &TypeExpr, mut bytes: &[u8]) -> Result<Value, WireError> {
    let mut budget = EmptyBudget::new(bytes.len());
    let value = decode(ty, &mut bytes, &mut budget)?;
    if bytes.is_empty() {
        Ok(value)
    } else {
        Err(WireError::TrailingBytes { count: bytes.len() })
    }
}

/// One JSON value of type `ty` in the payload encoding.
///
/// # Errors
/// [`ArgsError`] (place `value` and below) when `value` does not fit `ty`.
pub fn value_from_json(ty: &TypeExpr, value: &Value) -> Result<Vec<u8>, ArgsError> {
    let mut out = Vec::new();
    encode(ty, value, &mut "value".to_owned(), &mut out)?;
    Ok(out)
}

/// `(u64, string)`: the variant's argument types, for messages.
fn signature(variant: &VariantSchema) -> String {
    let types: Vec<String> = variant.args.iter().map(|a| a.ty.to_string()).collect();
    format!("({})", types.join(", "))
}

/// What a JSON value is, for messages: `the string "abc"`, `an array`.
fn found(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) if s.chars().count() > 24 => {
            let head: String = s.chars().take(24).collect();
            format!("the string \"{head}...\"")
        }
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(a) => format!("an array of {}", a.len()),
        Value::Object(_) => "an object".into(),
    }
}

/// Whether `option<T>` writes `Some(v)` as `[v]`: when `T`'s own JSON can
/// be null, so `None` and `Some(None)` stay apart.
fn boxed_some(inner: &TypeExpr) -> bool {
    matches!(inner, TypeExpr::Option(_) | TypeExpr::Unit)
}

/// Whether `map<K,V>` is a JSON object (keys that are strings in JSON).
fn object_keys(key: &TypeExpr) -> bool {
    matches!(key, TypeExpr::String | TypeExpr::Char)
}

fn mismatch(place: &str, ty: &TypeExpr, value: &Value) -> ArgsError {
    ArgsError::new(place, format!("expected {ty}, found {}", found(value)))
}

/// An integer from a JSON number, or from a decimal string when `strings`.
fn integer(value: &Value, strings: bool) -> Option<i128> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from)),
        Value::String(s) if strings => s.parse().ok(),
        _ => None,
    }
}

/// A `u128` from a number or a decimal string (beyond `i128`'s range too).
fn unsigned_128(value: &Value) -> Option<u128> {
    match value {
        Value::String(s) => s.parse().ok(),
        other => integer(other, false).and_then(|n| u128::try_from(n).ok()),
    }
}

fn float(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            _ => None,
        },
        _ => None,
    }
}

fn base64_bytes(value: &Value, place: &str, ty: &TypeExpr) -> Result<Vec<u8>, ArgsError> {
    let Value::String(s) = value else {
        return Err(ArgsError::new(
            place,
            format!("expected {ty} as a base64 string, found {}", found(value)),
        ));
    };
    STANDARD
        .decode(s)
        .map_err(|e| ArgsError::new(place, format!("{ty} is not standard base64: {e}")))
}

/// Encodes a fixed-width integer of type `T` given as JSON.
fn fixed<T: Wire + TryFrom<i128>>(
    value: &Value,
    ty: &TypeExpr,
    place: &str,
    strings: bool,
    out: &mut Vec<u8>,
) -> Result<(), ArgsError> {
    let n = integer(value, strings).ok_or_else(|| {
        let what = if strings {
            "an integer (a number or a decimal string)"
        } else {
            "an integer"
        };
        ArgsError::new(
            place,
            format!("expected {ty}, {what}, found {}", found(value)),
        )
    })?;
    let n = T::try_from(n)
        .map_err(|_| ArgsError::new(place, format!("{n} is out of range for {ty}")))?;
    n.encode(out);
    Ok(())
}

/// Appends the encoding of `value` as a `ty` to `out`; `place` says where
/// `value` is, for errors (it is restored before returning).
fn encode(
    ty: &TypeExpr,
    value: &Value,
    place: &mut String,
    out: &mut Vec<u8>,
) -> Result<(), ArgsError> {
    use TypeExpr as T;
    match ty {
        T::U8 => fixed::<u8>(value, ty, place, false, out),
        T::U16 => fixed::<u16>(value, ty, place, false, out),
        T::U32 => fixed::<u32>(value, ty, place, false, out),
        T::U64 => fixed::<u64>(value, ty, place, true, out),
        T::I8 => fixed::<i8>(value, ty, place, false, out),
        T::I16 => fixed::<i16>(value, ty, place, false, out),
        T::I32 => fixed::<i32>(value, ty, place, false, out),
        T::I64 => fixed::<i64>(value, ty, place, true, out),
        T::I128 => fixed::<i128>(value, ty, place, true, out),
        T::U128 => {
            let n = unsigned_128(value).ok_or_else(|| {
                ArgsError::new(
                    place.as_str(),
                    format!(
                        "expected u128, a decimal string (or a number), found {}",
                        found(value)
                    ),
                )
            })?;
            n.encode(out);
            Ok(())
        }
        T::F32 | T::F64 => {
            let f = float(value).ok_or_else(|| {
                ArgsError::new(
                    place.as_str(),
                    format!(
                        "expected {ty}, a number or \"NaN\", \"Infinity\", \"-Infinity\", found {}",
                        found(value)
                    ),
                )
            })?;
            if *ty == T::F64 {
                f.encode(out);
            } else {
                #[expect(
                    clippy::cast_possible_truncation,
                    reason = "f32 is what the actor takes"
                )]
                let narrow = f as f32;
                if f.is_finite() && !narrow.is_finite() {
                    return Err(ArgsError::new(
                        place.as_str(),
                        format!("{value} is out of range for f32"),
                    ));
                }
                narrow.encode(out);
            }
            Ok(())
        }
        T::Bool => match value {
            Value::Bool(b) => {
                b.encode(out);
                Ok(())
            }
            other => Err(mismatch(place, ty, other)),
        },
        T::Char => {
            let mut chars = value.as_str().map(str::chars);
            match chars.as_mut().map(|c| (c.next(), c.next())) {
                Some((Some(c), None)) => {
                    c.encode(out);
                    Ok(())
                }
                _ => Err(ArgsError::new(
                    place.as_str(),
                    format!(
                        "expected char, a string of one character, found {}",
                        found(value)
                    ),
                )),
            }
        }
        T::String => match value {
            Value::String(s) => {
                s.encode(out);
                Ok(())
            }
            other => Err(mismatch(place, ty, other)),
        },
        T::Bytes => {
            base64_bytes(value, place, ty)?.encode(out);
            Ok(())
        }
        T::Proto(_) | T::Opaque => {
            let bytes = base64_bytes(value, place, ty)?;
            write_varint(out, bytes.len() as u64);
            out.extend_from_slice(&bytes);
            Ok(())
        }
        T::Unit => match value {
            Value::Null => Ok(()),
            other => Err(mismatch(place, ty, other)),
        },
        T::List(item) => {
            let items = elements(value, ty, place, None)?;
            write_varint(out, items.len() as u64);
            encode_each(items.iter().map(|v| (item.as_ref(), v)), place, out)
        }
        T::Array(item, n) => {
            let items = elements(value, ty, place, Some(*n))?;
            encode_each(items.iter().map(|v| (item.as_ref(), v)), place, out)
        }
        T::Tuple(fields) => {
            let items = elements(value, ty, place, Some(fields.len()))?;
            encode_each(fields.iter().zip(items), place, out)
        }
        T::Option(inner) => match value {
            Value::Null => {
                out.push(0);
                Ok(())
            }
            some if boxed_some(inner) => {
                let Value::Array(items) = some else {
                    return Err(ArgsError::new(
                        place.as_str(),
                        format!(
                            "expected {ty}: null for None or a one-element array for Some, found {}",
                            found(some)
                        ),
                    ));
                };
                let items = elements(some, ty, place, Some(1)).map(|_| items)?;
                out.push(1);
                encode_each(std::iter::once((inner.as_ref(), &items[0])), place, out)
            }
            some => {
                out.push(1);
                encode(inner, some, place, out)
            }
        },
        T::Map(key, val) => encode_map(key, val, value, ty, place, out),
    }
}

/// `value`'s elements, when it is an array (of exactly `len` if given).
fn elements<'v>(
    value: &'v Value,
    ty: &TypeExpr,
    place: &str,
    len: Option<usize>,
) -> Result<&'v Vec<Value>, ArgsError> {
    match value {
        Value::Array(items) if len.is_none_or(|n| n == items.len()) => Ok(items),
        Value::Array(items) => Err(ArgsError::new(
            place,
            format!(
                "expected {ty}, an array of {}, found an array of {}",
                len.unwrap_or_default(),
                items.len()
            ),
        )),
        other => Err(ArgsError::new(
            place,
            format!("expected {ty}, an array, found {}", found(other)),
        )),
    }
}

/// Encodes each (type, element) pair, the place of element `i` being
/// `place[i]`.
fn encode_each<'a>(
    items: impl Iterator<Item = (&'a TypeExpr, &'a Value)>,
    place: &mut String,
    out: &mut Vec<u8>,
) -> Result<(), ArgsError> {
    let len = place.len();
    for (i, (ty, item)) in items.enumerate() {
        place.push_str(&format!("[{i}]"));
        encode(ty, item, place, out)?;
        place.truncate(len);
    }
    Ok(())
}

fn encode_map(
    key: &TypeExpr,
    val: &TypeExpr,
    value: &Value,
    ty: &TypeExpr,
    place: &mut String,
    out: &mut Vec<u8>,
) -> Result<(), ArgsError> {
    let len = place.len();
    if object_keys(key) {
        let Value::Object(entries) = value else {
            return Err(ArgsError::new(
                place.as_str(),
                format!("expected {ty}, an object, found {}", found(value)),
            ));
        };
        write_varint(out, entries.len() as u64);
        for (k, v) in entries {
            place.push_str(&format!("[{k:?}]"));
            encode(key, &Value::String(k.clone()), place, out)?;
            encode(val, v, place, out)?;
            place.truncate(len);
        }
        return Ok(());
    }
    let pairs = match value {
        Value::Array(pairs) => pairs,
        other => {
            return Err(ArgsError::new(
                place.as_str(),
                format!(
                    "expected {ty}, an array of [key, value] pairs, found {}",
                    found(other)
                ),
            ));
        }
    };
    write_varint(out, pairs.len() as u64);
    let mut seen = HashSet::new();
    for (i, pair) in pairs.iter().enumerate() {
        place.push_str(&format!("[{i}]"));
        let entry = match pair {
            Value::Array(kv) if kv.len() == 2 => kv,
            other => {
                return Err(ArgsError::new(
                    place.as_str(),
                    format!("expected a [key, value] pair, found {}", found(other)),
                ));
            }
        };
        let start = out.len();
        encode(key, &entry[0], place, out)?;
        if !seen.insert(out[start..].to_vec()) {
            return Err(ArgsError::new(place.as_str(), "this key appears twice"));
        }
        encode(val, &entry[1], place, out)?;
        place.truncate(len);
    }
    Ok(())
}

/// Values of zero bytes (`unit`, empty arrays, arrays and tuples of them)
/// a payload may still hold. Each count and array length is bounded on its
/// own, but nested sequences of such values multiply (`list<list<unit>>`
/// grows with the square of the payload, `array<array<unit,N>,N>` with
/// N^2 from no bytes at all), and the type may be a peer's description:
/// the budget keeps the whole decode proportional to the payload.
#[derive(Debug)]
struct EmptyBudget(usize);

impl EmptyBudget {
    /// The budget of a payload of `len` bytes.
    fn new(len: usize) -> Self {
        Self(len.saturating_add(MAX_EMPTY_VALUES))
    }

    fn spend(&mut self) -> Result<(), WireError> {
        self.0 = self.0.checked_sub(1).ok_or_else(|| WireError::Invalid {
            what: "payload",
            detail: format!(
                "more values of zero bytes than {MAX_EMPTY_VALUES} and one per byte of the payload"
            ),
        })?;
        Ok(())
    }
}

/// Decodes one value of type `ty` from the front of `input` as JSON,
/// spending `budget` if it takes no bytes.
fn decode(ty: &TypeExpr, input: &mut &[u8], budget: &mut EmptyBudget) -> Result<Value, WireError> {
    let before = input.len();
    let value = decode_value(ty, input, budget)?;
    if input.len() == before {
        budget.spend()?;
    }
    Ok(value)
}

fn decode_value(
    ty: &TypeExpr,
    input: &mut &[u8],
    budget: &mut EmptyBudget,
) -> Result<Value, WireError> {
    use TypeExpr as T;
    Ok(match ty {
        T::U8 => u8::decode(input)?.into(),
        T::U16 => u16::decode(input)?.into(),
        T::U32 => u32::decode(input)?.into(),
        T::U64 => u64::decode(input)?.into(),
        T::I8 => i8::decode(input)?.into(),
        T::I16 => i16::decode(input)?.into(),
        T::I32 => i32::decode(input)?.into(),
        T::I64 => i64::decode(input)?.into(),
        T::U128 => u128::decode(input)?.to_string().into(),
        T::I128 => i128::decode(input)?.to_string().into(),
        T::F32 => float_json(f64::from(f32::decode(input)?)),
        T::F64 => float_json(f64::decode(input)?),
        T::Bool => bool::decode(input)?.into(),
        T::Char => char::decode(input)?.to_string().into(),
        T::String => String::decode(input)?.into(),
        T::Bytes => STANDARD.encode(Vec::<u8>::decode(input)?).into(),
        T::Unit => Value::Null,
        T::Proto(_) | T::Opaque => {
            let len = read_count(input, "length-prefixed value")?;
            STANDARD
                .encode(take(input, len, "length-prefixed value")?)
                .into()
        }
        T::List(item) => {
            let count = read_count(input, "list")?;
            let mut items = Vec::with_capacity(count.min(1024));
            for _ in 0..count {
                items.push(decode(item, input, budget)?);
            }
            Value::Array(items)
        }
        T::Array(item, n) => {
            // A described length comes from a peer: one far beyond the
            // payload (of zero-byte elements, say) must not spin.
            if *n > input.len().max(MAX_EMPTY_ARRAY) {
                return Err(WireError::Truncated { what: "array" });
            }
            let mut items = Vec::with_capacity((*n).min(1024));
            for _ in 0..*n {
                items.push(decode(item, input, budget)?);
            }
            Value::Array(items)
        }
        T::Tuple(fields) => Value::Array(
            fields
                .iter()
                .map(|f| decode(f, input, budget))
                .collect::<Result<_, _>>()?,
        ),
        T::Option(inner) => match take(input, 1, "option")? {
            [0] => Value::Null,
            [1] if boxed_some(inner) => Value::Array(vec![decode(inner, input, budget)?]),
            [1] => decode(inner, input, budget)?,
            [other] => {
                return Err(WireError::Invalid {
                    what: "option",
                    detail: format!("tag {other:#04x} is neither 00 (None) nor 01 (Some)"),
                });
            }
            _ => return Err(WireError::Truncated { what: "option" }),
        },
        T::Map(key, val) => decode_map(key, val, input, budget)?,
    })
}

fn decode_map(
    key: &TypeExpr,
    val: &TypeExpr,
    input: &mut &[u8],
    budget: &mut EmptyBudget,
) -> Result<Value, WireError> {
    let count = read_count(input, "map")?;
    let twice = || WireError::Invalid {
        what: "map",
        detail: "a key appears twice".into(),
    };
    if object_keys(key) {
        let mut entries = Map::new();
        for _ in 0..count {
            let Value::String(k) = decode(key, input, budget)? else {
                return Err(WireError::Invalid {
                    what: "map",
                    detail: "a key is not text".into(),
                });
            };
            let v = decode(val, input, budget)?;
            if entries.insert(k, v).is_some() {
                return Err(twice());
            }
        }
        return Ok(Value::Object(entries));
    }
    let mut seen = HashSet::new();
    let mut pairs = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        let before = *input;
        let k = decode(key, input, budget)?;
        if !seen.insert(&before[..before.len() - input.len()]) {
            return Err(twice());
        }
        pairs.push(Value::Array(vec![k, decode(val, input, budget)?]));
    }
    Ok(Value::Array(pairs))
}

fn float_json(f: f64) -> Value {
    match Number::from_f64(f) {
        Some(n) => Value::Number(n),
        None if f.is_nan() => "NaN".into(),
        None if f > 0.0 => "Infinity".into(),
        None => "-Infinity".into(),
    }
}

#[cfg(test)]
mod tests;
