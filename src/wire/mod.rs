//! The payload encoding: how message arguments and call replies become bytes.
//!
//! ractor's own `BytesConvertable` covers only a few types (no `Vec<String>`,
//! `Option`, tuples or maps), and orphan rules stop this crate from adding
//! impls for them, so remote messages use [`Wire`] instead. The encoding is
//! language-neutral and specified, with worked examples, in
//! `proto/ractor_grpc/v1/cluster.proto` (see `Cast.args`), so a program in
//! another language can build arguments and read replies.
//!
//! Decoding never panics: malformed input is a [`WireError`].

mod describe;
mod impls;
mod json;
mod macros;
mod schema;

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;

use std::fmt;

pub use describe::{
    ArgSchema, Describe, DescribedType, MessageSchema, VariantSchema, register_schema, schema_for,
};
pub use json::{
    ArgsError, args_from_json, args_to_json, check_args, value_from_json, value_to_json,
};
pub use schema::{TypeExpr, TypeExprError};

/// A type that can travel as a remote message argument or call reply.
///
/// Implemented for integers, floats, `bool`, `char`, `String`, `Vec<T>`,
/// `Option<T>`, tuples, `HashMap` and `BTreeMap`. Other types opt in:
/// prost messages with [`derive_serialization_for_prost_type!`](crate::derive_serialization_for_prost_type),
/// types with ractor's `BytesConvertable` with
/// [`wire_via_bytes_convertable!`](crate::wire_via_bytes_convertable), and
/// serde types (feature `serde`) with [`wire_via_serde!`](crate::wire_via_serde).
pub trait Wire: Sized {
    /// Appends the encoding of `self` to `out`.
    fn encode(&self, out: &mut Vec<u8>);

    /// Decodes one value from the front of `input` and advances it past the
    /// bytes it used.
    ///
    /// # Errors
    /// [`WireError`] when `input` is truncated or not a valid encoding.
    fn decode(input: &mut &[u8]) -> Result<Self, WireError>;

    /// The value's shape as a [`TypeExpr`], for peers and tools in other
    /// languages. `opaque` unless the type says more.
    fn type_expr() -> TypeExpr {
        TypeExpr::Opaque
    }
}

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireError {
    /// The input ended before the value did.
    Truncated {
        /// What was being decoded.
        what: &'static str,
    },
    /// The bytes are not a valid encoding of the type.
    Invalid {
        /// What was being decoded.
        what: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// Bytes were left over after the last value.
    TrailingBytes {
        /// How many.
        count: usize,
    },
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { what } => write!(f, "input ends inside a {what}"),
            Self::Invalid { what, detail } => write!(f, "invalid {what}: {detail}"),
            Self::TrailingBytes { count } => write!(f, "{count} bytes left after the last value"),
        }
    }
}

impl std::error::Error for WireError {}

/// Encodes one value.
pub fn to_bytes<T: Wire>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    value.encode(&mut out);
    out
}

/// Decodes exactly one value from `bytes`; leftover bytes are an error.
///
/// # Errors
/// [`WireError`] when `bytes` is not exactly one valid encoding of `T`.
pub fn from_bytes<T: Wire>(mut bytes: &[u8]) -> Result<T, WireError> {
    let value = T::decode(&mut bytes)?;
    if bytes.is_empty() {
        Ok(value)
    } else {
        Err(WireError::TrailingBytes { count: bytes.len() })
    }
}
