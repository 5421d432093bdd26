"""The handshake proofs and tokens of ``ractor_grpc_py.handshake`` against
the proto's own text: its worked test vector, and its token recipe."""

from __future__ import annotations

import re
import time
from typing import Callable

import grpc
from conftest import Processes
from procs import COOKIE, WAIT
from ractor_grpc_py import Node, handshake, stubs

VECTOR = handshake.HandshakeFields(
    hello_name="node-a", hello_nonce=bytes(range(0, 32)), min_version=1, max_version=2,
    hello_incarnation=0x0102030405060708, hello_listen_addr="127.0.0.1:4000",
    challenge_name="node-b", challenge_nonce=bytes(range(32, 64)), version=2,
    challenge_incarnation=0x1112131415161718, challenge_listen_addr="127.0.0.1:4001",
)
VECTOR_COOKIE = "ractor-grpc test vector cookie"


def documented() -> dict[str, str]:
    """The hex the proto's test vector writes down: message and both proofs."""
    text = stubs.PROTO.read_text(encoding="utf-8")
    lines = text[text.index("msg after the label"):].splitlines()[1:]
    msg = ""
    for line in lines:
        body = line.removeprefix("//").strip()
        if not re.fullmatch(r"[0-9a-f ]+", body):
            break
        msg += body.replace(" ", "")
    proofs = dict(re.findall(r"^//\s+(dialer|acceptor) proof\s+([0-9a-f]{64})$", text, re.M))
    return {"msg": msg, **proofs}


def test_the_proto_test_vector() -> None:
    doc = documented()
    assert handshake.transcript(VECTOR).hex() == doc["msg"]
    assert len(handshake.transcript(VECTOR)) == 148
    assert handshake.dialer_proof(VECTOR_COOKIE, VECTOR).hex() == doc["dialer"]
    assert handshake.acceptor_proof(VECTOR_COOKIE, VECTOR).hex() == doc["acceptor"]
    # Any change to a covered field, or another cookie, changes the proof.
    assert handshake.dialer_proof(VECTOR_COOKIE + "x", VECTOR).hex() != doc["dialer"]
    lowered = handshake.HandshakeFields(**{**VECTOR.__dict__, "max_version": 1})
    assert handshake.dialer_proof(VECTOR_COOKIE, lowered).hex() != doc["dialer"]


def test_a_token_minted_by_the_proto_recipe_opens_unary_rpcs(rust: Processes,
                                                            py_node: Callable[..., Node]) -> None:
    a = rust.node("node-a")
    node = py_node()
    token = handshake.mint_token(COOKIE, "node-a", "inspect", ttl_secs=60)
    assert re.fullmatch(r"rgt1\.[A-Za-z0-9_-]+\.inspect\.\d+\.[A-Za-z0-9_-]{43}", token), token
    assert int(token.split(".")[3]) - time.time() <= 60
    channel = grpc.insecure_channel(a.addr)
    try:
        stub = node.pb_grpc.ClusterNodeStub(channel)
        info = stub.GetNodeInfo(node.pb.GetNodeInfoRequest(), timeout=WAIT,
                                metadata=(("authorization", f"Bearer {token}"),))
        assert info.name == "node-a"
        forged = handshake.mint_token("another cookie", "node-a", "inspect", ttl_secs=60)
        try:
            stub.GetNodeInfo(node.pb.GetNodeInfoRequest(), timeout=WAIT,
                             metadata=(("authorization", f"Bearer {forged}"),))
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.UNAUTHENTICATED
        else:
            raise AssertionError("a token minted with another cookie was accepted")
    finally:
        channel.close()
