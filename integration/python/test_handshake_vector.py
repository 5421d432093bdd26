"""The handshake test vector of ``cluster.proto``, recomputed from the text.

A second implementation of the proof (Python's ``hmac``, nothing of the Rust
code) reads the documented inputs' encoding rules and checks that the
message bytes and both proofs written in the proto are what the rules give.
The Rust unit test ``the_documented_test_vector`` checks the same lines
against the node's own code, so the two languages agree through the text.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import struct
from pathlib import Path

PROTO = Path(__file__).resolve().parents[2] / "proto" / "ractor_grpc" / "v1" / "cluster.proto"

COOKIE = "ractor-grpc test vector cookie"
DIALER_LABEL = b"ractor_grpc/v1 dialer proof"
ACCEPTOR_LABEL = b"ractor_grpc/v1 acceptor proof"


def lp(text: str) -> bytes:
    """u32be(byte length) || UTF-8 bytes, as the proto defines lp(s)."""
    data = text.encode("utf-8")
    return struct.pack(">I", len(data)) + data


def transcript() -> bytes:
    """The message after the label, from the documented inputs."""
    return b"".join(
        [
            lp("node-a"),
            lp("node-b"),
            bytes(range(0, 32)),
            bytes(range(32, 64)),
            struct.pack(">II", 1, 2),
            struct.pack(">I", 2),
            struct.pack(">QQ", 0x0102030405060708, 0x1112131415161718),
            lp("127.0.0.1:4000"),
            lp("127.0.0.1:4001"),
        ]
    )


def documented() -> dict[str, str]:
    """The hex the proto's test vector writes down: message and proofs."""
    text = PROTO.read_text(encoding="utf-8")
    start = text.index("msg after the label")
    lines = text[start:].splitlines()
    msg_hex = ""
    for line in lines[1:]:
        body = line.removeprefix("//").strip()
        if not re.fullmatch(r"[0-9a-f ]+", body):
            break
        msg_hex += body.replace(" ", "")
    proofs = dict(re.findall(r"^//\s+(dialer|acceptor) proof\s+([0-9a-f]{64})$", text, re.M))
    return {"msg": msg_hex, **proofs}


def test_the_documented_message_bytes_follow_the_encoding_rules() -> None:
    doc = documented()
    assert len(bytes.fromhex(doc["msg"])) == 148
    assert doc["msg"] == transcript().hex()


def test_the_documented_proofs_are_hmac_sha256_of_label_and_message() -> None:
    doc = documented()
    key = COOKIE.encode("utf-8")
    dialer = hmac.new(key, DIALER_LABEL + transcript(), hashlib.sha256).hexdigest()
    acceptor = hmac.new(key, ACCEPTOR_LABEL + transcript(), hashlib.sha256).hexdigest()
    assert doc["dialer"] == dialer
    assert doc["acceptor"] == acceptor
    # The labels keep the two proofs apart: same key, same message.
    assert dialer != acceptor
