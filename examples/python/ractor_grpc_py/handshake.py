"""The cookie proofs of the Session handshake, and unary-RPC tokens.

Both come straight from the comments of ``cluster.proto``; nothing here is
shared with the Rust code. The cookie never crosses the wire: each side
proves it knows the cookie with an HMAC-SHA256 over everything both sides
said in Hello and Challenge::

    proof = HMAC-SHA256(key = cookie (UTF-8), msg =
                label
             || lp(Hello.name)   || lp(Challenge.name)
             || Hello.nonce      || Challenge.nonce
             || u32be(Hello.min_version) || u32be(Hello.max_version)
             || u32be(Challenge.version)
             || u64be(Hello.incarnation) || u64be(Challenge.incarnation)
             || lp(Hello.listen_addr)    || lp(Challenge.listen_addr))

    lp(s) = u32be(byte length of s) || s (UTF-8)

with the label ``"ractor_grpc/v1 dialer proof"`` in the dialer's Proof and
``"ractor_grpc/v1 acceptor proof"`` in the acceptor's Welcome.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import time
from dataclasses import dataclass

__all__ = [
    "ACCEPTOR_LABEL",
    "DIALER_LABEL",
    "HandshakeFields",
    "TOKEN_LABEL",
    "acceptor_proof",
    "dialer_proof",
    "lp",
    "mint_token",
    "proofs_match",
    "transcript",
]

DIALER_LABEL = b"ractor_grpc/v1 dialer proof"
ACCEPTOR_LABEL = b"ractor_grpc/v1 acceptor proof"
TOKEN_LABEL = b"ractor_grpc/v1 unary token"

#: Nonces are exactly this many random bytes.
NONCE_LEN = 32


def lp(data: str | bytes) -> bytes:
    """u32be(byte length) || bytes; a str is taken as its UTF-8 bytes."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return struct.pack(">I", len(raw)) + raw


@dataclass(frozen=True)
class HandshakeFields:
    """Every field of Hello and Challenge that the proofs cover."""

    hello_name: str
    hello_nonce: bytes
    min_version: int
    max_version: int
    hello_incarnation: int
    hello_listen_addr: str
    challenge_name: str
    challenge_nonce: bytes
    version: int
    challenge_incarnation: int
    challenge_listen_addr: str


def transcript(f: HandshakeFields) -> bytes:
    """The message after the label (148 bytes for the proto's test vector)."""
    return b"".join([
        lp(f.hello_name),
        lp(f.challenge_name),
        f.hello_nonce,
        f.challenge_nonce,
        struct.pack(">II", f.min_version, f.max_version),
        struct.pack(">I", f.version),
        struct.pack(">QQ", f.hello_incarnation, f.challenge_incarnation),
        lp(f.hello_listen_addr),
        lp(f.challenge_listen_addr),
    ])


def _proof(cookie: str, label: bytes, f: HandshakeFields) -> bytes:
    return hmac.new(cookie.encode("utf-8"), label + transcript(f), hashlib.sha256).digest()


def dialer_proof(cookie: str, f: HandshakeFields) -> bytes:
    """What the dialer sends in Proof."""
    return _proof(cookie, DIALER_LABEL, f)


def acceptor_proof(cookie: str, f: HandshakeFields) -> bytes:
    """What the acceptor sends in Welcome (the dialer checks it)."""
    return _proof(cookie, ACCEPTOR_LABEL, f)


def proofs_match(expected: bytes, received: bytes) -> bool:
    """Compares proofs in constant time, as the proto requires."""
    return hmac.compare_digest(expected, received)


def mint_token(cookie: str, node_name: str, scope: str = "all", ttl_secs: int = 300,
               now: float | None = None) -> str:
    """A bearer token for the unary RPCs of node ``node_name``.

    ``rgt1.<b64(name)>.<scope>.<expiry>.<b64(mac)>`` with
    ``mac = HMAC-SHA256(cookie, TOKEN_LABEL || lp(name) || lp(scope) || u64be(expiry))``,
    base64url without padding (the proto's Python recipe). ``scope`` is
    ``"inspect"`` or ``"all"``; a node refuses an expiry more than 24 h ahead.
    """
    if scope not in ("inspect", "all"):
        raise ValueError(f"scope must be 'inspect' or 'all', not {scope!r}")
    expiry = int(now if now is not None else time.time()) + ttl_secs

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    name = node_name.encode("utf-8")
    msg = TOKEN_LABEL + lp(name) + lp(scope.encode("ascii")) + expiry.to_bytes(8, "big")
    mac = hmac.new(cookie.encode("utf-8"), msg, hashlib.sha256).digest()
    return f"rgt1.{b64(name)}.{scope}.{expiry}.{b64(mac)}"
