"""The payload encoding of ``cluster.proto``, driven by type expressions.

``Cast.args``, ``Call.args`` and ``CallReply.result`` carry Rust values in a
small, documented encoding (the proto's "Payload encoding" section). Nothing
in the bytes names a type, so both ends must agree on one: a *type
expression* such as ``"list<string>"`` or ``"map<string,tuple<u8,bool>>"``
(the proto's "Type expressions" section) says what the bytes are.

This module parses type expressions and encodes and decodes Python values
with them::

    >>> encode("tuple<string,u64>", ("hi", 7)).hex()
    '0268690000000000000007'
    >>> decode("list<string>", bytes.fromhex("020161026263"))
    ['a', 'bc']

Python values for each type:

===================  =====================================================
type expression      Python value
===================  =====================================================
u8 ... u128, i8 ...  ``int`` (range-checked when encoding)
f32, f64             ``float``
bool                 ``bool``
char                 ``str`` of exactly one character (not a surrogate)
string               ``str``
bytes, opaque        ``bytes`` (``bytearray``/``memoryview`` accepted)
proto<NAME>          ``bytes`` (a protobuf message object is accepted when
                     encoding: its ``SerializeToString()`` is sent)
unit                 ``None``
list<T>              ``list`` (any sequence when encoding)
array<T,N>           ``list`` of exactly N elements
option<T>            ``None`` or the value; when T is itself an option or
                     unit, ``Some(value)`` tells Some(None) from None
tuple<A,B,...>       ``tuple``
map<K,V>             ``dict`` (keys that decode to lists become tuples)
===================  =====================================================

Decoding is strict, as the proto requires: bytes that end inside a value
(:class:`Truncated`), bytes that break a rule (:class:`Invalid`, e.g. a
varint not in its shortest form, a bool byte 0x02, bad UTF-8) and bytes left
over after the last value (:class:`TrailingBytes`) are all errors.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

__all__ = [
    "DecodeError",
    "EncodeError",
    "Invalid",
    "Some",
    "TrailingBytes",
    "Truncated",
    "TypeExpr",
    "TypeExprError",
    "decode",
    "decode_args",
    "encode",
    "encode_args",
    "parse",
    "read_varint",
    "varint",
]

# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


class TypeExprError(ValueError):
    """A type expression that does not follow the grammar."""

    def __init__(self, text: str, at: int, detail: str) -> None:
        super().__init__(f"bad type expression {text!r} at character {at}: {detail}")
        self.text = text
        self.at = at
        self.detail = detail


class EncodeError(ValueError):
    """A Python value that does not fit the type expression."""


class DecodeError(ValueError):
    """Bytes that are not exactly one valid encoding of the type."""


class Truncated(DecodeError):
    """The input ends inside a value (or a length claims more than remains)."""


class Invalid(DecodeError):
    """The bytes break a rule of the encoding."""


class TrailingBytes(DecodeError):
    """Bytes are left over after the last value."""


# --------------------------------------------------------------------------
# Type expressions
# --------------------------------------------------------------------------

#: Scalar types and the ``struct`` format of the fixed-width ones.
_FIXED = {
    "u8": ">B", "u16": ">H", "u32": ">I", "u64": ">Q",
    "i8": ">b", "i16": ">h", "i32": ">i", "i64": ">q",
    "f32": ">f", "f64": ">d",
}
_SCALARS = frozenset(_FIXED) | {"u128", "i128", "bool", "char", "string", "bytes", "unit"}
_INT_BITS = {"u8": 8, "u16": 16, "u32": 32, "u64": 64, "u128": 128,
             "i8": 8, "i16": 16, "i32": 32, "i64": 64, "i128": 128}

#: Deepest nesting a parsed expression may have (as the Rust parser).
MAX_DEPTH = 32


@dataclass(frozen=True)
class TypeExpr:
    """One parsed type expression.

    ``kind`` is a scalar's name (``"u64"``, ``"string"``, ...) or one of
    ``"list"``, ``"array"``, ``"option"``, ``"tuple"``, ``"map"``, ``"proto"``,
    ``"opaque"``. ``items`` holds the inner types (one for list, array and
    option; the fields of a tuple; key and value of a map), ``count`` an
    array's length and ``name`` a proto message's name.
    """

    kind: str
    items: tuple["TypeExpr", ...] = ()
    count: int = 0
    name: str = ""

    def __str__(self) -> str:
        inner = ",".join(str(t) for t in self.items)
        if self.kind in ("list", "option", "tuple", "map"):
            return f"{self.kind}<{inner}>"
        if self.kind == "array":
            return f"array<{inner},{self.count}>"
        if self.kind == "proto":
            return f"proto<{self.name}>"
        return self.kind


class _Parser:
    """A recursive-descent parser of the grammar in ``cluster.proto``::

        type   = scalar | "list<" type ">" | "array<" type "," count ">"
               | "option<" type ">" | "tuple<" type { "," type } ">"
               | "map<" type "," type ">" | "proto<" name ">" | "opaque"
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0

    def fail(self, detail: str) -> TypeExprError:
        return TypeExprError(self.text, self.at, detail)

    def word(self) -> str:
        """Letters, digits, ``_`` and ``.`` (the proto has no spaces)."""
        start = self.at
        while self.at < len(self.text) and (self.text[self.at].isascii()
                                            and (self.text[self.at].isalnum() or self.text[self.at] in "_.")):
            self.at += 1
        return self.text[start:self.at]

    def eat(self, char: str) -> None:
        if not self.text.startswith(char, self.at):
            raise self.fail(f"expected {char!r}")
        self.at += 1

    def expr(self, depth: int) -> TypeExpr:
        if depth > MAX_DEPTH:
            raise self.fail("nested too deeply")
        start = self.at
        word = self.word()
        if word in _SCALARS:
            return TypeExpr(word)
        if word == "opaque":
            return TypeExpr("opaque")
        if word not in ("list", "option", "array", "map", "tuple", "proto"):
            self.at = start
            raise self.fail("unknown type")
        self.eat("<")
        if word in ("list", "option"):
            result = TypeExpr(word, (self.expr(depth + 1),))
        elif word == "array":
            item = self.expr(depth + 1)
            self.eat(",")
            count_at = self.at
            digits = self.word()
            if not digits.isdigit():
                self.at = count_at
                raise self.fail("expected an element count")
            result = TypeExpr("array", (item,), count=int(digits))
        elif word == "map":
            key = self.expr(depth + 1)
            self.eat(",")
            result = TypeExpr("map", (key, self.expr(depth + 1)))
        elif word == "tuple":
            items = [self.expr(depth + 1)]
            while self.text.startswith(",", self.at):
                self.at += 1
                items.append(self.expr(depth + 1))
            result = TypeExpr("tuple", tuple(items))
        else:  # proto
            name = self.word()
            if not name:
                raise self.fail("expected a message name")
            result = TypeExpr("proto", name=name)
        self.eat(">")
        return result


_PARSED: dict[str, TypeExpr] = {}


def parse(text: str | TypeExpr) -> TypeExpr:
    """Parses a type expression (a :class:`TypeExpr` is returned as is)."""
    if isinstance(text, TypeExpr):
        return text
    cached = _PARSED.get(text)
    if cached is not None:
        return cached
    parser = _Parser(text)
    expr = parser.expr(0)
    if parser.at != len(text):
        raise parser.fail("unexpected text after the expression")
    _PARSED[text] = expr
    return expr


# --------------------------------------------------------------------------
# Values that need a wrapper
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Some:
    """``Some(value)`` of an ``option<T>`` whose T is an option or unit, where
    a bare ``None`` could not tell ``Some(None)`` from ``None``. Accepted for
    any option when encoding; produced by decoding only for those two."""

    value: Any


# --------------------------------------------------------------------------
# Varints
# --------------------------------------------------------------------------


def varint(n: int) -> bytes:
    """Unsigned LEB128, shortest form (the proto's Python recipe)."""
    if not 0 <= n < 1 << 64:
        raise EncodeError(f"varint {n} is outside 0 .. 2^64-1")
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def read_varint(data: bytes, at: int) -> tuple[int, int]:
    """Reads a varint at ``data[at:]``; returns ``(value, next position)``.

    Only the shortest form is valid: a last byte 0x00 after other bytes, an
    11th byte, or a 10th byte other than 0x01 is :class:`Invalid`.
    """
    value = 0
    for i in range(10):
        if at + i >= len(data):
            raise Truncated(f"input ends inside a varint at byte {at + i}")
        byte = data[at + i]
        if i == 9 and byte > 0x01:
            raise Invalid(f"varint at byte {at} exceeds 64 bits")
        value |= (byte & 0x7F) << (7 * i)
        if byte & 0x80 == 0:
            if byte == 0 and i > 0:
                raise Invalid(f"varint at byte {at} is not in its shortest form")
            return value, at + i + 1
    # Unreachable: a 10th byte that passed the check above has no high bit.
    raise Invalid(f"varint at byte {at} is longer than 10 bytes")


# --------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------


def encode(type_expr: str | TypeExpr, value: Any) -> bytes:
    """The encoding of ``value`` as ``type_expr``."""
    out = bytearray()
    _encode(parse(type_expr), value, out, "value")
    return bytes(out)


def encode_args(types: Sequence[str | TypeExpr], values: Sequence[Any]) -> bytes:
    """A variant's arguments: each value's encoding, concatenated in order."""
    if len(types) != len(values):
        raise EncodeError(f"expected {len(types)} arguments, got {len(values)}")
    out = bytearray()
    for i, (t, v) in enumerate(zip(types, values, strict=True)):
        _encode(parse(t), v, out, f"argument {i}")
    return bytes(out)


def _as_bytes(value: Any, where: str, t: TypeExpr) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if t.kind == "proto" and hasattr(value, "SerializeToString"):
        return value.SerializeToString()
    raise EncodeError(f"{where}: expected bytes for {t}, got {type(value).__name__}")


def _encode(t: TypeExpr, value: Any, out: bytearray, where: str) -> None:
    kind = t.kind
    if kind in _INT_BITS:
        if not isinstance(value, int) or isinstance(value, bool):
            raise EncodeError(f"{where}: expected an int for {kind}, got {type(value).__name__}")
        bits = _INT_BITS[kind]
        low, high = (-(1 << (bits - 1)), 1 << (bits - 1)) if kind[0] == "i" else (0, 1 << bits)
        if not low <= value < high:
            raise EncodeError(f"{where}: {value} does not fit {kind}")
        out += value.to_bytes(bits // 8, "big", signed=kind[0] == "i")
    elif kind in ("f32", "f64"):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise EncodeError(f"{where}: expected a float for {kind}, got {type(value).__name__}")
        if kind == "f32" and math.isfinite(value) and abs(value) > 3.4028234663852886e38:
            raise EncodeError(f"{where}: {value} does not fit f32")
        out += struct.pack(_FIXED[kind], value)
    elif kind == "bool":
        if not isinstance(value, bool):
            raise EncodeError(f"{where}: expected a bool, got {type(value).__name__}")
        out.append(1 if value else 0)
    elif kind == "char":
        if not isinstance(value, str) or len(value) != 1:
            raise EncodeError(f"{where}: expected a one-character str for char, got {value!r}")
        code = ord(value)
        if 0xD800 <= code <= 0xDFFF:
            raise EncodeError(f"{where}: {code:#x} is a surrogate, not a Unicode scalar value")
        out += code.to_bytes(4, "big")
    elif kind == "string":
        if not isinstance(value, str):
            raise EncodeError(f"{where}: expected a str, got {type(value).__name__}")
        try:
            data = value.encode("utf-8")
        except UnicodeEncodeError as e:
            raise EncodeError(f"{where}: not encodable as UTF-8: {e}") from e
        out += varint(len(data)) + data
    elif kind in ("bytes", "opaque", "proto"):
        data = _as_bytes(value, where, t)
        out += varint(len(data)) + data
    elif kind == "unit":
        if value is not None:
            raise EncodeError(f"{where}: expected None for unit, got {value!r}")
    elif kind in ("list", "array"):
        if isinstance(value, (str, bytes, dict)) or not isinstance(value, Sequence):
            raise EncodeError(f"{where}: expected a list for {t}, got {type(value).__name__}")
        if kind == "array" and len(value) != t.count:
            raise EncodeError(f"{where}: expected {t.count} elements for {t}, got {len(value)}")
        if kind == "list":
            out += varint(len(value))
        for i, item in enumerate(value):
            _encode(t.items[0], item, out, f"{where}[{i}]")
    elif kind == "option":
        if value is None:
            out.append(0)
            return
        inner = t.items[0]
        if isinstance(value, Some):
            value = value.value
        elif inner.kind in ("option", "unit"):
            raise EncodeError(f"{where}: {t} needs Some(value) or None, got {value!r}")
        out.append(1)
        _encode(inner, value, out, f"{where}.some")
    elif kind == "tuple":
        if isinstance(value, (str, bytes, dict)) or not isinstance(value, Sequence) or len(value) != len(t.items):
            raise EncodeError(f"{where}: expected a tuple of {len(t.items)} for {t}, got {value!r}")
        for i, (item_type, item) in enumerate(zip(t.items, value, strict=True)):
            _encode(item_type, item, out, f"{where}.{i}")
    elif kind == "map":
        if not isinstance(value, dict):
            raise EncodeError(f"{where}: expected a dict for {t}, got {type(value).__name__}")
        out += varint(len(value))
        for key, item in _map_order(value.items()):
            _encode(t.items[0], key, out, f"{where} key {key!r}")
            _encode(t.items[1], item, out, f"{where}[{key!r}]")
    else:  # parse() never produces another kind
        raise EncodeError(f"{where}: unknown type {t}")


def _map_order(items: Iterable[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """Entries in ascending key order when keys compare (as Rust's BTreeMap
    writes them); any order is valid, so otherwise as given."""
    entries = list(items)
    try:
        return sorted(entries, key=lambda kv: kv[0])
    except TypeError:
        return entries


# --------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------


def decode(type_expr: str | TypeExpr, data: bytes) -> Any:
    """Decodes exactly one value of ``type_expr`` from ``data``."""
    value, at = _decode(parse(type_expr), data, 0)
    if at != len(data):
        raise TrailingBytes(f"{len(data) - at} bytes left after the last value")
    return value


def decode_args(types: Sequence[str | TypeExpr], data: bytes) -> list[Any]:
    """A variant's arguments, decoded in order; the bytes must be used up."""
    values = []
    at = 0
    for i, t in enumerate(types):
        try:
            value, at = _decode(parse(t), data, at)
        except DecodeError as e:
            raise type(e)(f"argument {i} ({t}): {e}") from e
        values.append(value)
    if at != len(data):
        raise TrailingBytes(f"{len(data) - at} bytes left after the last argument")
    return values


def _take(data: bytes, at: int, n: int, what: str) -> tuple[bytes, int]:
    if at + n > len(data):
        raise Truncated(f"input ends inside a {what} at byte {at}")
    return data[at:at + n], at + n


def _count(data: bytes, at: int, what: str) -> tuple[int, int]:
    """A length or count: it may not exceed the bytes that remain."""
    n, at = read_varint(data, at)
    if n > len(data) - at:
        raise Truncated(f"{what} at byte {at} claims {n}, only {len(data) - at} bytes remain")
    return n, at


def _hashable(value: Any) -> Any:
    """A decoded map key as a dict key: lists become tuples."""
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, tuple):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple((k, _hashable(v)) for k, v in value.items())
    return value


def _decode(t: TypeExpr, data: bytes, at: int) -> tuple[Any, int]:
    kind = t.kind
    if kind in _INT_BITS:
        raw, at = _take(data, at, _INT_BITS[kind] // 8, kind)
        return int.from_bytes(raw, "big", signed=kind[0] == "i"), at
    if kind in ("f32", "f64"):
        raw, at = _take(data, at, 4 if kind == "f32" else 8, kind)
        return struct.unpack(_FIXED[kind], raw)[0], at
    if kind == "bool":
        raw, at = _take(data, at, 1, "bool")
        if raw[0] > 1:
            raise Invalid(f"bool byte {raw[0]:#04x} is neither 0x00 nor 0x01")
        return raw[0] == 1, at
    if kind == "char":
        raw, at = _take(data, at, 4, "char")
        code = int.from_bytes(raw, "big")
        if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            raise Invalid(f"char {code:#x} is not a Unicode scalar value")
        return chr(code), at
    if kind == "string":
        n, at = _count(data, at, "string length")
        raw, at = _take(data, at, n, "string")
        try:
            return raw.decode("utf-8"), at
        except UnicodeDecodeError as e:
            raise Invalid(f"string is not valid UTF-8: {e}") from e
    if kind in ("bytes", "opaque", "proto"):
        n, at = _count(data, at, f"{kind} length")
        return _take(data, at, n, kind)
    if kind == "unit":
        return None, at
    if kind in ("list", "array"):
        if kind == "list":
            n, at = _count(data, at, "list count")
        else:
            n = t.count
        items = []
        for _ in range(n):
            item, at = _decode(t.items[0], data, at)
            items.append(item)
        return items, at
    if kind == "option":
        raw, at = _take(data, at, 1, "option")
        if raw[0] == 0:
            return None, at
        if raw[0] != 1:
            raise Invalid(f"option tag {raw[0]:#04x} is neither 0x00 nor 0x01")
        inner = t.items[0]
        value, at = _decode(inner, data, at)
        return (Some(value) if inner.kind in ("option", "unit") else value), at
    if kind == "tuple":
        values = []
        for item_type in t.items:
            value, at = _decode(item_type, data, at)
            values.append(value)
        return tuple(values), at
    if kind == "map":
        n, at = _count(data, at, "map count")
        result: dict[Any, Any] = {}
        for _ in range(n):
            key, at = _decode(t.items[0], data, at)
            value, at = _decode(t.items[1], data, at)
            key = _hashable(key)
            if key in result:
                raise Invalid(f"map key {key!r} appears twice")
            result[key] = value
        return result, at
    raise Invalid(f"unknown type {t}")
