//! Macros that give a type [`Wire`](crate::Wire) through an encoding it
//! already has: protobuf (prost), ractor's `BytesConvertable`, or JSON
//! (serde). Each writes a varint byte length and then those bytes, so a
//! receiver in any language can find the value's end without knowing it.

/// Implements [`Wire`](crate::Wire) for prost message types: the protobuf
/// encoding, prefixed with its length as a varint.
///
/// That is exactly protobuf's own length-delimited form (what
/// `prost::Message::encode_length_delimited` writes and what a Python
/// program reads with `_DecodeVarint` and `ParseFromString`), so the type can
/// be a remote message argument or call reply and other languages use their
/// generated protobuf classes for it.
///
/// Takes one or more types, separated by commas. The calling crate needs
/// `prost` (the version `ractor_grpc` uses) for `#[derive(prost::Message)]`;
/// the generated code names only `ractor_grpc`.
///
/// # Examples
///
/// ```
/// use ractor_grpc::wire::{from_bytes, to_bytes};
///
/// #[derive(Clone, PartialEq, prost::Message)]
/// struct Ping {
///     #[prost(uint64, tag = "1")]
///     seq: u64,
/// }
///
/// #[derive(Clone, PartialEq, prost::Message)]
/// struct Pong {
///     #[prost(string, tag = "1")]
///     from: String,
/// }
///
/// ractor_grpc::derive_serialization_for_prost_type!(Ping, Pong);
///
/// // Length 2, then field 1 as a varint (tag 0x08) holding 5.
/// let bytes = to_bytes(&Ping { seq: 5 });
/// assert_eq!(bytes, [0x02, 0x08, 0x05]);
/// assert_eq!(from_bytes::<Ping>(&bytes)?, Ping { seq: 5 });
///
/// // Bytes that are not a valid message are an error, not a panic.
/// assert!(from_bytes::<Pong>(&[0x02, 0x0a, 0x05]).is_err());
/// # Ok::<(), ractor_grpc::WireError>(())
/// ```
#[macro_export]
macro_rules! derive_serialization_for_prost_type {
    ($($ty:ty),+ $(,)?) => {$(
        impl $crate::__private::Wire for $ty {
            fn encode(&self, out: &mut ::std::vec::Vec<u8>) {
                // Encoding into a `Vec` cannot run out of room, the only
                // way it fails.
                let _ = $crate::__private::prost::Message::encode_length_delimited(self, out);
            }

            fn decode(input: &mut &[u8]) -> ::core::result::Result<Self, $crate::__private::WireError> {
                let what = ::core::stringify!($ty);
                let bytes = $crate::__wire_length_prefixed!(input, what)?;
                <Self as $crate::__private::prost::Message>::decode(bytes.as_slice()).map_err(|e| {
                    $crate::__private::WireError::Invalid {
                        what,
                        detail: ::std::string::ToString::to_string(&e),
                    }
                })
            }

            fn type_expr() -> $crate::wire::TypeExpr {
                // The Rust type as named here: a protobuf full name when
                // the macro is given a path that spells it.
                $crate::wire::TypeExpr::Proto(
                    ::std::string::ToString::to_string(::core::stringify!($ty)).replace("::", "."),
                )
            }
        }
    )+};
}

/// Implements [`Wire`](crate::Wire) for types that implement ractor's
/// [`BytesConvertable`](ractor::BytesConvertable): the bytes `into_bytes`
/// returns, prefixed with their length as a varint.
///
/// This is the way to keep using a type that already has a
/// `BytesConvertable` impl (for example one written for `ractor_cluster`)
/// in remote messages: invoke the macro once next to the type, and the
/// `into_bytes`/`from_bytes` pair does the work. Takes one or more types,
/// separated by commas.
///
/// The type must implement `Clone`: `into_bytes` consumes its value and
/// [`Wire::encode`](crate::Wire::encode) has only a reference.
///
/// ractor allows `from_bytes` to panic on bad input. Decoding calls it
/// inside [`catch_unwind`](std::panic::catch_unwind) and turns a panic into
/// [`WireError::Invalid`](crate::WireError::Invalid), so a peer cannot crash
/// the receiving node; the panic hook still runs (and by default prints the
/// panic message). With `panic = "abort"` a panic aborts regardless, so
/// prefer a `from_bytes` that does not panic.
///
/// # Panics
///
/// Encoding panics if `into_bytes` does.
///
/// # Examples
///
/// ```
/// use ractor::BytesConvertable;
/// use ractor_grpc::wire::{from_bytes, to_bytes};
///
/// #[derive(Clone, Debug, PartialEq)]
/// struct Celsius(i16);
///
/// // An impl that already exists, e.g. from a ractor_cluster code base.
/// impl BytesConvertable for Celsius {
///     fn into_bytes(self) -> Vec<u8> {
///         self.0.to_be_bytes().to_vec()
///     }
///     fn from_bytes(bytes: Vec<u8>) -> Self {
///         // Panics on short input, as ractor permits.
///         Self(i16::from_be_bytes([bytes[0], bytes[1]]))
///     }
/// }
///
/// ractor_grpc::wire_via_bytes_convertable!(Celsius);
///
/// let bytes = to_bytes(&Celsius(-3));
/// assert_eq!(bytes, [0x02, 0xff, 0xfd]);
/// assert_eq!(from_bytes::<Celsius>(&bytes)?, Celsius(-3));
///
/// // A `from_bytes` panic becomes an error.
/// assert!(from_bytes::<Celsius>(&[0x01, 0x00]).is_err());
/// # Ok::<(), ractor_grpc::WireError>(())
/// ```
#[macro_export]
macro_rules! wire_via_bytes_convertable {
    ($($ty:ty),+ $(,)?) => {$(
        impl $crate::__private::Wire for $ty {
            fn encode(&self, out: &mut ::std::vec::Vec<u8>) {
                let bytes = <Self as $crate::__private::ractor::BytesConvertable>::into_bytes(
                    ::core::clone::Clone::clone(self),
                );
                <::std::vec::Vec<u8> as $crate::__private::Wire>::encode(&bytes, out);
            }

            fn decode(input: &mut &[u8]) -> ::core::result::Result<Self, $crate::__private::WireError> {
                let what = ::core::stringify!($ty);
                let bytes = $crate::__wire_length_prefixed!(input, what)?;
                // The closure owns its input and its result is dropped on a
                // panic, so no broken state can be observed afterwards.
                ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(move || {
                    <Self as $crate::__private::ractor::BytesConvertable>::from_bytes(bytes)
                }))
                .map_err(|panic| {
                    let message = panic
                        .downcast_ref::<&str>()
                        .map(|s| ::std::string::ToString::to_string(s))
                        .or_else(|| panic.downcast_ref::<::std::string::String>().cloned())
                        .unwrap_or_default();
                    $crate::__private::WireError::Invalid {
                        what,
                        detail: ::std::format!("BytesConvertable::from_bytes panicked: {message}"),
                    }
                })
            }
        }
    )+};
}

/// Implements [`Wire`](crate::Wire) for serde types: their JSON encoding
/// (`serde_json`), prefixed with its length as a varint.
///
/// Requires the `serde` feature of `ractor_grpc`; without it the expansion
/// does not compile. The calling crate needs `serde` with `derive` for the
/// derives. JSON is the choice here because every language reads it; it is
/// larger and slower than the other encodings, so prefer plain types or prost
/// messages on hot paths. Takes one or more types, separated by commas.
///
/// A type whose `Serialize` impl can fail (a map with non-string keys, a
/// custom impl that returns an error) is not supported: the failure cannot be
/// reported from [`Wire::encode`](crate::Wire::encode), so the value is sent
/// as zero bytes of JSON, which the receiver rejects as
/// [`WireError::Invalid`](crate::WireError::Invalid).
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "serde")]
/// # mod example {
/// use ractor_grpc::wire::{from_bytes, to_bytes};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, PartialEq, Serialize, Deserialize)]
/// struct Point {
///     x: i32,
///     y: i32,
/// }
///
/// ractor_grpc::wire_via_serde!(Point);
///
/// # pub fn run() -> Result<(), ractor_grpc::WireError> {
/// let bytes = to_bytes(&Point { x: 1, y: -2 });
/// assert_eq!(bytes, b"\x0e{\"x\":1,\"y\":-2}");
/// assert_eq!(from_bytes::<Point>(&bytes)?, Point { x: 1, y: -2 });
/// # Ok(())
/// # }
/// # }
/// # fn main() -> Result<(), ractor_grpc::WireError> {
/// # #[cfg(feature = "serde")]
/// # example::run()?;
/// # Ok(())
/// # }
/// ```
#[macro_export]
macro_rules! wire_via_serde {
    ($($ty:ty),+ $(,)?) => {$(
        impl $crate::__private::Wire for $ty {
            fn encode(&self, out: &mut ::std::vec::Vec<u8>) {
                // Unsupported failing `Serialize` impls send an empty
                // document, which the receiver rejects (see the macro docs).
                let json = $crate::__private::serde_json::to_vec(self).unwrap_or_default();
                <::std::vec::Vec<u8> as $crate::__private::Wire>::encode(&json, out);
            }

            fn decode(input: &mut &[u8]) -> ::core::result::Result<Self, $crate::__private::WireError> {
                let what = ::core::stringify!($ty);
                let json = $crate::__wire_length_prefixed!(input, what)?;
                $crate::__private::serde_json::from_slice(&json).map_err(|e| {
                    $crate::__private::WireError::Invalid {
                        what,
                        detail: ::std::string::ToString::to_string(&e),
                    }
                })
            }
        }
    )+};
}

/// Reads a varint length and that many bytes, as a
/// `Result<Vec<u8>, WireError>` whose errors name `$what`. For the macros
/// above; not public API.
#[doc(hidden)]
#[macro_export]
macro_rules! __wire_length_prefixed {
    ($input:expr, $what:expr) => {
        <::std::vec::Vec<u8> as $crate::__private::Wire>::decode($input).map_err(|e| match e {
            $crate::__private::WireError::Truncated { .. } => {
                $crate::__private::WireError::Truncated { what: $what }
            }
            $crate::__private::WireError::Invalid { detail, .. } => {
                $crate::__private::WireError::Invalid {
                    what: $what,
                    detail,
                }
            }
            other => other,
        })
    };
}
