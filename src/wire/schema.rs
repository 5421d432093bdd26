//! Type expressions: the shape of a payload value, in a small grammar any
//! language can read (see "Type expressions" in `cluster.proto`).
//!
//! Owns the grammar, its printing and its parsing; [`Wire::type_expr`]
//! (crate::Wire::type_expr) gives each type's expression.

use std::{fmt, str::FromStr};

/// The shape of one payload value, as [`Wire::type_expr`](crate::Wire::type_expr)
/// describes it. Printed and parsed in the grammar documented in
/// `cluster.proto`: `u64`, `string`, `list<option<i32>>`,
/// `map<string,tuple<u8,bool>>`, ...
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TypeExpr {
    /// `u8`.
    U8,
    /// `u16`.
    U16,
    /// `u32`.
    U32,
    /// `u64` (also `usize`, which travels as 64 bits).
    U64,
    /// `u128`.
    U128,
    /// `i8`.
    I8,
    /// `i16`.
    I16,
    /// `i32`.
    I32,
    /// `i64` (also `isize`).
    I64,
    /// `i128`.
    I128,
    /// `f32`.
    F32,
    /// `f64`.
    F64,
    /// `bool`.
    Bool,
    /// `char`: one Unicode scalar value.
    Char,
    /// `string`: UTF-8 text.
    String,
    /// `bytes`: a byte sequence (`Vec<u8>`; the same encoding as
    /// `list<u8>`).
    Bytes,
    /// `unit`: no bytes at all (`()`).
    Unit,
    /// `list<T>`: a counted sequence.
    List(Box<Self>),
    /// `array<T,N>`: exactly `N` elements, no count.
    Array(Box<Self>, usize),
    /// `option<T>`: absent or one value.
    Option(Box<Self>),
    /// `tuple<A,B,...>`: the fields in order.
    Tuple(Vec<Self>),
    /// `map<K,V>`: counted key/value entries.
    Map(Box<Self>, Box<Self>),
    /// `proto<NAME>`: a length-prefixed protobuf message; `NAME` is the
    /// message's name as the type was registered with.
    Proto(String),
    /// `opaque`: length-prefixed bytes only the two Rust ends understand
    /// (`BytesConvertable` or serde types).
    Opaque,
}

impl TypeExpr {
    const SCALARS: [(Self, &'static str); 17] = [
        (Self::U8, "u8"),
        (Self::U16, "u16"),
        (Self::U32, "u32"),
        (Self::U64, "u64"),
        (Self::U128, "u128"),
        (Self::I8, "i8"),
        (Self::I16, "i16"),
        (Self::I32, "i32"),
        (Self::I64, "i64"),
        (Self::I128, "i128"),
        (Self::F32, "f32"),
        (Self::F64, "f64"),
        (Self::Bool, "bool"),
        (Self::Char, "char"),
        (Self::String, "string"),
        (Self::Bytes, "bytes"),
        (Self::Unit, "unit"),
    ];
}

impl fmt::Display for TypeExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |f: &mut fmt::Formatter<'_>, items: &[&Self]| {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                write!(f, "{item}")?;
            }
            Ok(())
        };
        match self {
            Self::List(t) => write!(f, "list<{t}>"),
            Self::Array(t, n) => write!(f, "array<{t},{n}>"),
            Self::Option(t) => write!(f, "option<{t}>"),
            Self::Tuple(items) => {
                f.write_str("tuple<")?;
                list(f, &items.iter().collect::<Vec<_>>())?;
                f.write_str(">")
            }
            Self::Map(k, v) => write!(f, "map<{k},{v}>"),
            Self::Proto(name) => write!(f, "proto<{name}>"),
            Self::Opaque => f.write_str("opaque"),
            scalar => {
                let name = Self::SCALARS
                    .iter()
                    .find(|(s, _)| s == scalar)
                    .map_or("opaque", |(_, name)| name);
                f.write_str(name)
            }
        }
    }
}

/// Why a type expression did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad type expression {text:?} at byte {at}: {detail}")]
pub struct TypeExprError {
    text: String,
    at: usize,
    detail: &'static str,
}

/// Deepest nesting a parsed expression may have, so hostile input cannot
/// exhaust the stack.
const MAX_DEPTH: usize = 32;

impl FromStr for TypeExpr {
    type Err = TypeExprError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut parser = Parser { text, at: 0 };
        let expr = parser.expr(0)?;
        if parser.at != text.len() {
            return Err(parser.error("unexpected text after the expression"));
        }
        Ok(expr)
    }
}

struct Parser<'a> {
    text: &'a str,
    at: usize,
}

impl Parser<'_> {
    fn error(&self, detail: &'static str) -> TypeExprError {
        TypeExprError {
            text: self.text.to_owned(),
            at: self.at,
            detail,
        }
    }

    /// A name: letters, digits, `_` and `.`.
    fn word(&mut self) -> &str {
        let rest = &self.text[self.at..];
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
            .unwrap_or(rest.len());
        self.at += len;
        &rest[..len]
    }

    fn eat(&mut self, c: char) -> Result<(), TypeExprError> {
        if self.text[self.at..].starts_with(c) {
            self.at += c.len_utf8();
            Ok(())
        } else {
            Err(self.error(match c {
                '<' => "expected '<'",
                '>' => "expected '>'",
                _ => "expected ','",
            }))
        }
    }

    fn expr(&mut self, depth: usize) -> Result<TypeExpr, TypeExprError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        let start = self.at;
        let word = self.word().to_owned();
        if let Some((scalar, _)) = TypeExpr::SCALARS.iter().find(|(_, n)| *n == word) {
            return Ok(scalar.clone());
        }
        let inner = |p: &mut Self| p.expr(depth + 1);
        let expr = match word.as_str() {
            "opaque" => return Ok(TypeExpr::Opaque),
            "list" | "option" => {
                self.eat('<')?;
                let t = Box::new(inner(self)?);
                if word == "list" {
                    TypeExpr::List(t)
                } else {
                    TypeExpr::Option(t)
                }
            }
            "array" => {
                self.eat('<')?;
                let t = Box::new(inner(self)?);
                self.eat(',')?;
                let count_at = self.at;
                let Ok(n) = self.word().parse() else {
                    self.at = count_at;
                    return Err(self.error("expected an element count"));
                };
                TypeExpr::Array(t, n)
            }
            "map" => {
                self.eat('<')?;
                let k = Box::new(inner(self)?);
                self.eat(',')?;
                TypeExpr::Map(k, Box::new(inner(self)?))
            }
            "tuple" => {
                self.eat('<')?;
                let mut items = vec![inner(self)?];
                while self.eat(',').is_ok() {
                    items.push(inner(self)?);
                }
                TypeExpr::Tuple(items)
            }
            "proto" => {
                self.eat('<')?;
                let name = self.word().to_owned();
                if name.is_empty() {
                    return Err(self.error("expected a message name"));
                }
                TypeExpr::Proto(name)
            }
            _ => {
                self.at = start;
                return Err(self.error("unknown type"));
            }
        };
        self.eat('>')?;
        Ok(expr)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use super::*;
    use crate::Wire;

    fn expr<T: Wire>() -> String {
        T::type_expr().to_string()
    }

    #[test]
    fn every_built_in_type_has_its_expression() {
        assert_eq!(expr::<u8>(), "u8");
        assert_eq!(expr::<i128>(), "i128");
        assert_eq!(expr::<usize>(), "u64");
        assert_eq!(expr::<isize>(), "i64");
        assert_eq!(expr::<f32>(), "f32");
        assert_eq!(expr::<bool>(), "bool");
        assert_eq!(expr::<char>(), "char");
        assert_eq!(expr::<String>(), "string");
        assert_eq!(expr::<Vec<u8>>(), "bytes");
        assert_eq!(expr::<Vec<String>>(), "list<string>");
        assert_eq!(expr::<[u16; 4]>(), "array<u16,4>");
        assert_eq!(expr::<Option<Box<i32>>>(), "option<i32>");
        assert_eq!(expr::<()>(), "unit");
        assert_eq!(expr::<(u8,)>(), "tuple<u8>");
        assert_eq!(expr::<(u8, String, bool)>(), "tuple<u8,string,bool>");
        assert_eq!(expr::<HashMap<String, Vec<u64>>>(), "map<string,list<u64>>");
        assert_eq!(
            expr::<BTreeMap<u32, (f64, char)>>(),
            "map<u32,tuple<f64,char>>"
        );
    }

    #[test]
    fn every_expression_parses_back_to_itself() {
        let texts = [
            "u8",
            "u16",
            "u32",
            "u64",
            "u128",
            "i8",
            "i16",
            "i32",
            "i64",
            "i128",
            "f32",
            "f64",
            "bool",
            "char",
            "string",
            "bytes",
            "unit",
            "opaque",
            "list<option<i32>>",
            "array<bytes,16>",
            "tuple<u8,string,tuple<bool,unit>>",
            "map<string,map<u64,list<f64>>>",
            "proto<ractor_grpc.v1.NodeInfo>",
        ];
        for text in texts {
            let parsed: TypeExpr = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(parsed.to_string(), text);
        }
    }

    #[test]
    fn malformed_expressions_say_where() {
        for (text, at) in [
            ("", 0),
            ("float", 0),
            ("list<u8", 7),
            ("list u8>", 4),
            ("map<u8>", 6),
            ("array<u8,x>", 9),
            ("tuple<>", 6),
            ("proto<>", 6),
            ("u8 ", 2),
            ("list<u8>>", 8),
        ] {
            let err = text.parse::<TypeExpr>().expect_err(text);
            assert_eq!(err.at, at, "{text}: {err}");
        }
        let deep = format!("{}u8{}", "list<".repeat(40), ">".repeat(40));
        let err = deep.parse::<TypeExpr>().expect_err("too deep");
        assert!(err.to_string().contains("nested too deeply"), "{err}");
    }
}
