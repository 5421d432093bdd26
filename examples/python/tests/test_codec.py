"""The payload encoding and the type-expression grammar, from Python.

Every type of the grammar round-trips; the proto's worked examples come out
byte for byte; and what the proto calls truncated, invalid or trailing is
refused with the matching error.
"""

from __future__ import annotations

import math
import struct
from typing import Any

import pytest
from ractor_grpc_py import codec
from ractor_grpc_py.codec import Invalid, Some, TrailingBytes, Truncated

# (type expression, value) pairs: every scalar at its edges, every compound
# form, and nestings of them.
ROUND_TRIPS: list[tuple[str, Any]] = [
    ("u8", 0), ("u8", 255),
    ("u16", 0), ("u16", 65535),
    ("u32", 0), ("u32", 2**32 - 1),
    ("u64", 0), ("u64", 2**64 - 1),
    ("u128", 0), ("u128", 2**128 - 1),
    ("i8", -128), ("i8", 127),
    ("i16", -(2**15)), ("i16", 2**15 - 1),
    ("i32", -(2**31)), ("i32", 2**31 - 1),
    ("i64", -(2**63)), ("i64", 2**63 - 1),
    ("i128", -(2**127)), ("i128", 2**127 - 1),
    ("f32", 1.5), ("f32", -0.0), ("f32", math.inf),
    ("f64", 1.5), ("f64", -1e300), ("f64", -math.inf),
    ("bool", False), ("bool", True),
    ("char", "a"), ("char", "é"), ("char", "\U0010ffff"),
    ("string", ""), ("string", "hello"), ("string", "héllo ✓ 🦀"),
    ("bytes", b""), ("bytes", bytes(range(256))),
    ("unit", None),
    ("list<string>", []), ("list<string>", ["a", "bc"]),
    ("list<list<u8>>", [[1, 2], [], [3]]),
    ("list<unit>", []),
    ("array<u16,4>", [1, 2, 3, 65535]), ("array<string,0>", []),
    ("option<string>", None), ("option<string>", "é"),
    ("option<option<u8>>", None), ("option<option<u8>>", Some(None)), ("option<option<u8>>", Some(7)),
    ("option<unit>", None), ("option<unit>", Some(None)),
    ("option<array<u16,4>>", [1, 2, 3, 4]),
    ("tuple<bool,char,f64>", (True, "é", 1.5)),
    ("tuple<u8>", (9,)),
    ("tuple<string,tuple<i8,i8>,list<bool>>", ("x", (-1, 1), [True, False])),
    ("map<string,u32>", {}), ("map<string,u32>", {"x": 1, "y": 258}),
    ("map<u64,list<string>>", {3: ["c"], 1: [], 2: ["a", "b"]}),
    ("map<tuple<u8,u8>,bool>", {(1, 2): True, (0, 0): False}),
    ("map<string,tuple<u8,bool>>", {"k": (1, True)}),
    ("map<char,option<i64>>", {"a": None, "b": -5}),
    ("proto<my.pkg.Msg>", b"\x08\x96\x01"),
    ("opaque", b"\x00\xffanything"),
    ("list<option<map<string,array<i32,2>>>>", [None, {"p": [-1, 1]}, {}]),
]


@pytest.mark.parametrize(("expr", "value"), ROUND_TRIPS, ids=[f"{e}={v!r}"[:60] for e, v in ROUND_TRIPS])
def test_every_type_round_trips(expr: str, value: Any) -> None:
    data = codec.encode(expr, value)
    back = codec.decode(expr, data)
    assert back == value
    assert codec.encode(expr, back) == data  # one encoding per value


def test_every_grammar_production_is_covered() -> None:
    kinds: set[str] = set()

    def walk(t: codec.TypeExpr) -> None:
        kinds.add(t.kind)
        for item in t.items:
            walk(item)

    for expr, _ in ROUND_TRIPS:
        walk(codec.parse(expr))
    scalars = {"u8", "u16", "u32", "u64", "u128", "i8", "i16", "i32", "i64", "i128",
               "f32", "f64", "bool", "char", "string", "bytes", "unit"}
    assert scalars | {"list", "array", "option", "tuple", "map", "proto", "opaque"} <= kinds


def test_nan_keeps_its_bits() -> None:
    for expr, fmt, bits in (("f64", ">Q", 0x7FF8_0000_0000_0001), ("f32", ">I", 0x7FC0_0001)):
        raw = struct.pack(fmt, bits)
        value = codec.decode(expr, raw)
        assert math.isnan(value)
        if expr == "f64":  # a Python float is a binary64: its bits survive as they are
            assert codec.encode(expr, value) == raw


# ----------------------------------------------------------------------------
# The proto's worked examples, byte for byte
# ----------------------------------------------------------------------------


def test_the_proto_worked_examples() -> None:
    # 1. Cast1("hi", 7u64)
    assert codec.encode_args(["string", "u64"], ["hi", 7]).hex() == "026869" + "0000000000000007"
    # 2. Call1(3u8, -2i64, port)
    assert codec.encode_args(["u8", "i64"], [3, -2]).hex() == "03" + "fffffffffffffffe"
    # 3. vec!["a", "bc"]
    assert codec.encode("list<string>", ["a", "bc"]).hex() == "02" "0161" "026263"
    # 4. Some("é"), None
    assert codec.encode("option<string>", "é").hex() == "0102c3a9"
    assert codec.encode("option<string>", None).hex() == "00"
    # 5. BTreeMap {"x": 1, "y": 258}, written in key order even if given otherwise
    assert codec.encode("map<string,u32>", {"y": 258, "x": 1}).hex() == "02" "0178" "00000001" "0179" "00000102"
    # 6. (true, 'é', 1.5)
    assert codec.encode("tuple<bool,char,f64>", (True, "é", 1.5)).hex() == "01" "000000e9" "3ff8000000000000"
    assert codec.decode_args(["string", "u64"], bytes.fromhex("0268690000000000000007")) == ["hi", 7]


@pytest.mark.parametrize(("n", "hex_"), [(0, "00"), (127, "7f"), (128, "8001"), (300, "ac02"),
                                         (2**64 - 1, "ffffffffffffffffff01")])
def test_varints_as_the_proto_writes_them(n: int, hex_: str) -> None:
    assert codec.varint(n).hex() == hex_
    assert codec.read_varint(bytes.fromhex(hex_), 0) == (n, len(hex_) // 2)


# ----------------------------------------------------------------------------
# What a receiver rejects
# ----------------------------------------------------------------------------


@pytest.mark.parametrize(("expr", "value"), [rt for rt in ROUND_TRIPS if codec.encode(*rt)],
                         ids=[f"{e}={v!r}"[:60] for e, v in ROUND_TRIPS if codec.encode(e, v)])
def test_every_truncation_is_refused(expr: str, value: Any) -> None:
    data = codec.encode(expr, value)
    for cut in range(len(data)):
        with pytest.raises(Truncated):
            codec.decode(expr, data[:cut])


@pytest.mark.parametrize(("expr", "value"), [("u8", 1), ("string", "hi"), ("unit", None), ("list<u8>", [1]),
                                             ("option<u8>", None), ("map<string,u8>", {"a": 1})])
def test_trailing_bytes_are_refused(expr: str, value: Any) -> None:
    with pytest.raises(TrailingBytes):
        codec.decode(expr, codec.encode(expr, value) + b"\x00")
    with pytest.raises(TrailingBytes):
        codec.decode_args([expr], codec.encode(expr, value) + b"\x01")


INVALID = [
    ("string", "8000", "not in its shortest form"),        # length 0 written in two bytes
    ("bytes", "810000", "not in its shortest form"),       # a longer non-shortest varint
    ("list<u8>", "ffffffffffffffffff02", "exceeds 64 bits"),
    ("list<u8>", "ffffffffffffffffff8001", "exceeds 64 bits"),
    # An 11-byte varint: its 10th byte carries the high bit, beyond 64 bits.
    ("list<u8>", "8080808080808080808001", "exceeds 64 bits"),
    ("bool", "02", "neither 0x00 nor 0x01"),
    ("option<u8>", "0200", "neither 0x00 nor 0x01"),
    ("char", "0000d800", "not a Unicode scalar value"),
    ("char", "00110000", "not a Unicode scalar value"),
    ("string", "02c328", "not valid UTF-8"),
    ("map<string,u8>", "02016101016102", "appears twice"),
]


@pytest.mark.parametrize(("expr", "hex_", "says"), INVALID, ids=[f"{e}:{h}" for e, h, _ in INVALID])
def test_invalid_bytes_are_refused(expr: str, hex_: str, says: str) -> None:
    with pytest.raises(Invalid, match=says):
        codec.decode(expr, bytes.fromhex(hex_))


def test_a_count_beyond_the_remaining_bytes_is_truncated() -> None:
    # Five units take no bytes, but a count may not exceed what remains.
    with pytest.raises(Truncated, match="claims 5"):
        codec.decode("list<unit>", bytes.fromhex("05"))
    with pytest.raises(Truncated):
        codec.decode("string", bytes.fromhex("0a6869"))


ENCODE_ERRORS = [
    ("u8", 256), ("u8", -1), ("i8", -129), ("u64", 2**64), ("u32", "1"), ("u8", True),
    ("f32", 1e39), ("bool", 1), ("char", "ab"), ("char", "\ud800"), ("string", b"x"),
    ("bytes", "x"), ("unit", 0), ("list<u8>", "ab"), ("array<u8,2>", [1]),
    ("option<option<u8>>", 3), ("tuple<u8,u8>", (1,)), ("map<string,u8>", [("a", 1)]),
    ("proto<a.B>", "text"),
]


@pytest.mark.parametrize(("expr", "value"), ENCODE_ERRORS, ids=[f"{e}={v!r}" for e, v in ENCODE_ERRORS])
def test_values_that_do_not_fit_are_refused(expr: str, value: Any) -> None:
    with pytest.raises(codec.EncodeError):
        codec.encode(expr, value)


def test_arity_is_checked() -> None:
    with pytest.raises(codec.EncodeError, match="expected 2 arguments, got 1"):
        codec.encode_args(["u8", "u8"], [1])


def test_a_protobuf_message_encodes_as_its_bytes() -> None:
    from google.protobuf import wrappers_pb2

    msg = wrappers_pb2.StringValue(value="hi")
    data = codec.encode("proto<google.protobuf.StringValue>", msg)
    assert data == codec.varint(len(msg.SerializeToString())) + msg.SerializeToString()
    assert wrappers_pb2.StringValue.FromString(codec.decode("proto<google.protobuf.StringValue>", data)) == msg


# ----------------------------------------------------------------------------
# The grammar
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("expr", sorted({e for e, _ in ROUND_TRIPS}))
def test_expressions_print_back_as_written(expr: str) -> None:
    assert str(codec.parse(expr)) == expr


MALFORMED = [
    ("", 0, "unknown type"),
    ("usize", 0, "unknown type"),
    ("list<", 5, "unknown type"),
    ("list<u8", 7, "expected '>'"),
    ("list <u8>", 4, "expected '<'"),
    ("map<u8>", 6, "expected ','"),
    ("map<u8, u8>", 7, "unknown type"),
    ("array<u8,x>", 9, "expected an element count"),
    ("array<u8,-1>", 9, "expected an element count"),
    ("tuple<>", 6, "unknown type"),
    ("proto<>", 6, "expected a message name"),
    ("u8>", 2, "unexpected text after the expression"),
    ("option<u8>x", 10, "unexpected text after the expression"),
    ("list<" * 40 + "u8" + ">" * 40, 165, "nested too deeply"),
]


@pytest.mark.parametrize(("text", "at", "says"), MALFORMED, ids=[t[:20] for t, _, _ in MALFORMED])
def test_malformed_expressions_say_where(text: str, at: int, says: str) -> None:
    with pytest.raises(codec.TypeExprError) as refused:
        codec.parse(text)
    assert refused.value.detail == says
    assert refused.value.at == at
