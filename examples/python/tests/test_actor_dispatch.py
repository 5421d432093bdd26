"""How a Python actor answers, without sockets: the codes the proto gives
for unknown actors, unknown variants, bad arguments and failing handlers."""

from __future__ import annotations

import concurrent.futures
from typing import Callable

import pytest
from greeter import make_greeter
from ractor_grpc_py import CallFailed, Node, codec


def test_a_call_is_decoded_by_the_variant_types_and_the_reply_encoded() -> None:
    greeter, notes = make_greeter()
    args = codec.encode_args(["map<string,u64>", "string"], [{"a": 1, "b": 2}, "b"])
    assert greeter.handle("Lookup", args, is_call=True) == codec.encode("option<u64>", 2)
    assert greeter.handle("Note", codec.encode("string", "hi"), is_call=False) == b""
    assert notes == ["hi"]


@pytest.mark.parametrize(("variant", "args", "is_call", "code", "says"), [
    ("Shout", b"", True, "UNDECODABLE", "GreeterMsg has no variant 'Shout'"),
    ("Note", codec.encode("string", "x"), True, "UNDECODABLE", "is a cast variant, sent as a call"),
    ("Notes", b"", False, "UNDECODABLE", "is a call variant, sent as a cast"),
    ("Greet", codec.encode("string", "x"), True, "UNDECODABLE", "argument 1 (u32)"),
    ("Greet", codec.encode_args(["string", "u32"], ["x", 1]) + b"\x00", True, "UNDECODABLE", "1 bytes left"),
    ("Greet", codec.encode_args(["string", "u32"], ["", 1]), True, "DROPPED", "raised ValueError"),
])
def test_refusals_carry_the_proto_codes(variant: str, args: bytes, is_call: bool, code: str, says: str) -> None:
    greeter, _ = make_greeter()
    with pytest.raises(CallFailed) as refused:
        greeter.handle(variant, args, is_call)
    assert refused.value.code == code
    assert says in refused.value.detail


def test_a_reply_that_does_not_fit_its_type_is_dropped() -> None:
    greeter, _ = make_greeter()

    @greeter.on_call("Broken", [], reply="u8")
    def broken() -> int:
        return 300

    with pytest.raises(CallFailed) as refused:
        greeter.handle("Broken", b"", is_call=True)
    assert refused.value.code == "DROPPED"
    assert "does not fit u8" in refused.value.detail


class FakeSession:
    """Stands in for a Session: records the answers a node sends."""

    def __init__(self) -> None:
        self.answers: dict[int, concurrent.futures.Future[bytes | CallFailed]] = {}

    def _answer(self, tag: int, outcome: bytes | CallFailed) -> None:
        self.answers.setdefault(tag, concurrent.futures.Future()).set_result(outcome)

    def answer(self, tag: int) -> bytes | CallFailed:
        return self.answers.setdefault(tag, concurrent.futures.Future()).result(timeout=10)


def test_the_node_routes_by_pid_and_refuses_unknown_ones(py_node: Callable[..., Node]) -> None:
    node = py_node()
    greeter, _ = make_greeter()
    pid = node.spawn(greeter, groups=["greeters"])
    session = FakeSession()
    node._deliver(session, pid, "Sum", codec.encode("list<i64>", [1, 2]), tag=1, timeout_ms=0)  # type: ignore[arg-type]
    node._deliver(session, pid + 1, "Sum", b"", tag=2, timeout_ms=0)  # type: ignore[arg-type]
    assert session.answer(1) == codec.encode("i64", 3)
    unknown = session.answer(2)
    assert isinstance(unknown, CallFailed) and unknown.code == "UNKNOWN_ACTOR"
    assert f"no actor {pid + 1} on py-node" == unknown.detail
    # Its advert: ActorSpawned, then the group, as a snapshot gives them.
    snapshot = node._snapshot()
    assert [e.WhichOneof("body") for e in snapshot] == ["spawned", "pg_joined"]
    assert snapshot[0].spawned.actor.message_type == "GreeterMsg"
    assert (snapshot[1].pg_joined.scope, snapshot[1].pg_joined.group) == ("__default_scope__", "greeters")
