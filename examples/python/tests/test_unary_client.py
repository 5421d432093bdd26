"""Unary Cast and Call from Python (``ractor_grpc_py.unary``) against real
Rust nodes: by name, by pg group and by pid; payload bytes and JSON; the
refusals the proto lists. And the description the Python node puts in its
adverts (ActorRef.message): a Rust node transcodes JSON for the Python actor
with it."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import pytest
from conftest import Processes
from greeter import GREETER_GROUP, make_greeter
from procs import COOKIE, WAIT
from ractor_grpc_py import Node, UnaryClient, UnaryError, by_group, by_name, by_pid, codec


def client(addr: str, node_name: str) -> UnaryClient:
    """A client with a token minted by the proto's recipe (scope all)."""
    return UnaryClient(addr, cookie=COOKIE, node_name=node_name)


@pytest.fixture
def clients() -> object:
    made: list[UnaryClient] = []

    def factory(addr: str, node_name: str | None = None, **kw: object) -> UnaryClient:
        c = client(addr, node_name) if node_name else UnaryClient(addr, **kw)  # type: ignore[arg-type]
        made.append(c)
        return c

    yield factory
    for c in made:
        c.close()


def test_call_by_name_group_and_pid_with_json_and_bytes(rust: Processes, clients: Callable[..., UnaryClient]) -> None:
    a = rust.node("node-a")
    c = clients(a.addr, "node-a")

    by_json = c.call(by_name("pong"), "Pong", args_json=[10])
    assert (by_json.json(), by_json.node) == (11, "node-a")
    assert codec.decode("u64", by_json.result) == 11  # the bytes come too

    pid = by_json.pid
    by_bytes = c.call(by_pid(pid), "Pong", codec.encode("u64", 2**64 - 2))
    assert codec.decode("u64", by_bytes.result) == 2**64 - 1
    assert by_bytes.json() == 2**64 - 1  # JSON numbers: u64 written as a number

    kv = c.call(by_group("kv"), "Get", args_json='["nothing"]')
    assert kv.json() is None and kv.result == codec.encode("option<string>", None)


def test_cast_by_group_to_all_members_and_by_pid(rust: Processes, clients: Callable[..., UnaryClient]) -> None:
    a = rust.node("node-a")
    b = rust.node("node-b", "--connect", a.addr)
    b.wait_for_line(r"\[node-b\] ready with node-a")
    c = clients(a.addr, "node-a")

    # pong on node-a and, through node-a's proxy, pong on node-b.
    delivered = c.cast(by_group("pong"), "Ping", args_json=["unary", 1], all_members=True)
    assert sorted(node for node, _ in delivered) == ["node-a", "node-b"]
    a.wait_for_line(r'pong got Ping\("unary", 1\)')
    b.wait_for_line(r'pong got Ping\("unary", 1\)')

    pid = dict(delivered)["node-a"]
    assert c.cast(by_pid(pid), "Ping", codec.encode_args(["string", "u64"], ["bytes", 2])) == [("node-a", pid)]
    assert c.call(by_name("pong", node="node-a"), "History").json() == ["ping 1 from unary", "ping 2 from bytes"]
    assert c.call(by_name("pong", node="node-b"), "History").json() == ["ping 1 from unary"]


REFUSALS = [
    ("no such name", lambda c: c.call(by_name("nobody"), "Pong", args_json=[1]),
     grpc.StatusCode.NOT_FOUND, "nobody"),
    ("no such group", lambda c: c.cast(by_group("nobody"), "Ping", args_json=["x", 1]),
     grpc.StatusCode.NOT_FOUND, "nobody"),
    ("no such pid", lambda c: c.call(by_pid(987654), "Pong", args_json=[1]),
     grpc.StatusCode.NOT_FOUND, "987654"),
    ("JSON of the wrong type", lambda c: c.call(by_name("pong"), "Pong", args_json=["ten"]),
     grpc.StatusCode.INVALID_ARGUMENT, "args_json[0]"),
    ("wrong arity", lambda c: c.call(by_name("pong"), "Pong", args_json=[1, 2]),
     grpc.StatusCode.INVALID_ARGUMENT, "args_json"),
    ("bytes that do not decode", lambda c: c.call(by_name("pong"), "Pong", b"\x01"),
     grpc.StatusCode.INVALID_ARGUMENT, ""),
    ("an unknown variant", lambda c: c.call(by_name("pong"), "Shout", args_json=[]),
     grpc.StatusCode.INVALID_ARGUMENT, "Shout"),
    ("a cast variant called", lambda c: c.call(by_name("pong"), "Ping", args_json=["x", 1]),
     grpc.StatusCode.INVALID_ARGUMENT, "Ping"),
    ("a call variant cast", lambda c: c.cast(by_name("pong"), "Pong", args_json=[1]),
     grpc.StatusCode.INVALID_ARGUMENT, "Pong"),
]


@pytest.mark.parametrize(("what", "send", "code", "says"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refusals_are_readable_statuses(rust: Processes, clients: Callable[..., UnaryClient], what: str,
                                        send: Callable[[UnaryClient], object], code: grpc.StatusCode,
                                        says: str) -> None:
    a = rust.node("node-a")
    with pytest.raises(UnaryError) as refused:
        send(clients(a.addr, "node-a"))
    assert refused.value.code == code, refused.value
    assert says in refused.value.detail, refused.value.detail


def test_tokens_are_required(rust: Processes, clients: Callable[..., UnaryClient]) -> None:
    a = rust.node("node-a")
    with pytest.raises(UnaryError) as missing:
        clients(a.addr, token=None).call(by_name("pong"), "Pong", args_json=[1])
    assert missing.value.code == grpc.StatusCode.UNAUTHENTICATED
    assert "missing authorization metadata" in missing.value.detail
    with pytest.raises(UnaryError) as forged:
        UnaryClient(a.addr, cookie="not the cookie", node_name="node-a").cast(by_name("pong"), "Ping",
                                                                             args_json=["x", 1])
    assert forged.value.code == grpc.StatusCode.UNAUTHENTICATED
    from ractor_grpc_py import mint_token

    with pytest.raises(UnaryError) as narrow:
        clients(a.addr, token=mint_token(COOKIE, "node-a", "inspect")).call(by_name("pong"), "Pong", args_json=[1])
    assert narrow.value.code == grpc.StatusCode.PERMISSION_DENIED


def test_a_call_honours_the_deadline(rust: Processes, clients: Callable[..., UnaryClient]) -> None:
    a = rust.node("node-a", "--join", "slow")  # MyBasicMessageType::Slow(ms) sleeps, then replies
    with pytest.raises(UnaryError) as late:
        clients(a.addr, "node-a").call(by_name("slow@node-a"), "Slow", args_json=[5000], timeout=0.5)
    assert late.value.code == grpc.StatusCode.DEADLINE_EXCEEDED


def test_rust_transcodes_json_for_the_python_actor_from_its_advert(
        rust: Processes, clients: Callable[..., UnaryClient], py_node: Callable[..., Node]) -> None:
    a = rust.node("node-a")
    node = py_node("py-node")
    greeter, notes = make_greeter()
    node.spawn(greeter, groups=[GREETER_GROUP])
    node.connect(a.addr)
    # node-a reports ready once it has applied everything before our Ready:
    # the greeter's advert among it.
    a.wait_for_line(r"ready with py-node")
    c = clients(a.addr, "node-a")
    # node-a has no Rust type for greeter: it learned GreeterMsg from the
    # Python node's ActorSpawned (ActorRef.message) and transcodes by it.
    target = by_name("greeter", node="py-node")
    assert c.call(target, "Sum", args_json=[[1, 2, -3]]).json() == 0
    assert c.cast(by_group(GREETER_GROUP), "Note", args_json=["via unary"]) != []
    reply = c.call(target, "Lookup", args_json=[{"a": 1, "b": 2}, "b"])
    assert (reply.json(), reply.node) == (2, "py-node")
    assert c.call(target, "Greet", args_json=["json", 2]).json() == "hello json, hello json"
    assert c.call(target, "Notes").json() == ["via unary"]
    # node-a describes the Python actor from the advert, as it would a Rust one.
    stub = node.pb_grpc.ClusterNodeStub(c._channel)
    described = stub.DescribeActor(node.pb.DescribeActorRequest(name="greeter", node="py-node"),
                                   metadata=c._metadata, timeout=WAIT)
    assert described.message == node._description(greeter)
    assert notes == ["via unary"]
    with pytest.raises(UnaryError) as wrong:
        c.call(target, "Greet", args_json=["json", -1])  # u32
    assert wrong.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "args_json[1]" in wrong.value.detail
    # A handler that raises: the call is dropped (ABORTED), with the reason.
    with pytest.raises(UnaryError) as dropped:
        c.call(target, "Greet", args_json=["", 1])
    assert dropped.value.code == grpc.StatusCode.ABORTED
    assert "ValueError" in dropped.value.detail


def test_the_python_node_reads_rust_descriptions_from_adverts(rust: Processes, py_node: Callable[..., Node]) -> None:
    a = rust.node("node-a")
    node = py_node()
    node.connect(a.addr)
    pong = node.wait_for(lambda: node.find_by_name("pong"), WAIT, "pong")[0]
    assert pong.description == {"Ping": (False, ["string", "u64"], ""), "Pong": (True, ["u64"], "u64"),
                                "History": (True, [], "list<string>")}
    # No types needed: they come from the advert.
    pong.cast("Ping", "described", 7)
    assert pong.call("Pong", 41) == 42
    assert pong.call("History") == ["ping 7 from described"]
    with pytest.raises(LookupError, match="is a cast"):
        pong.call("Ping", "x", 1)
