"""The Python node against real Rust nodes, each a separate process.

``node --demo-actors`` hosts ``pong`` (PongMsg) and ``kv`` (KvMsg) in pg
groups ``pong`` and ``kv``; ``pg_call`` is Rust code that finds the Python
``greeter`` in pg and calls it through a typed ``ActorRef<GreeterMsg>``.
"""

from __future__ import annotations

import time
from typing import Callable

import grpc
import procs
import pytest
from conftest import Processes
from greeter import GREETER_GROUP, make_greeter
from procs import COOKIE, WAIT
from ractor_grpc_py import CallFailed, CallTimeout, Node, SessionClosed, SessionRefused, mint_token

PONG = {"Ping": ["string", "u64"], "Pong": ["u64"], "History": []}


def test_joins_a_two_node_rust_cluster_and_casts_and_calls(rust: Processes, py_node: Callable[..., Node]) -> None:
    a = rust.node("node-a")
    b = rust.node("node-b", "--connect", a.addr)
    b.wait_for_line(r"\[node-b\] ready with node-a")

    node = py_node("py-node")
    node.connect(a.addr)
    node.connect(b.addr)

    # Both nodes' actors, found by group and by name, each on its own node.
    pongs = node.wait_for(lambda: sorted(node.find_in_group("pong"), key=lambda p: p.node), WAIT,
                          "both pong actors in pg group pong")
    assert [(p.node, p.name, p.message_type) for p in pongs] == [("node-a", "pong", "PongMsg"),
                                                                ("node-b", "pong", "PongMsg")]
    assert sorted(k.node for k in node.find_by_name("kv")) == ["node-a", "node-b"]
    assert node.find_by_name("kv", node="node-b")[0].groups == {("__default_scope__", "kv")}

    for i, (pong, proc) in enumerate(zip(pongs, (a, b), strict=True), start=1):
        pong.cast("Ping", "py-node", i, types=PONG["Ping"])
        pong.cast("Ping", "py-node", i * 10, types=PONG["Ping"])
        assert pong.call("Pong", 41 + i, types=PONG["Pong"], reply="u64") == 42 + i
        # The casts arrived, in order, before the call that follows them.
        assert pong.call("History", types=[], reply="list<string>") == [f"ping {i} from py-node",
                                                                         f"ping {i * 10} from py-node"]
        proc.wait_for_line(rf'pong got Ping\("py-node", {i}\)')

    kv_a = node.find_by_name("kv", node="node-a")[0]
    kv_b = node.find_by_name("kv", node="node-b")[0]
    kv_a.cast("Put", "lang", "python", types=["string", "string"])
    kv_a.cast("Put", "é", "✓", types=["string", "string"])
    assert kv_a.call("Get", "lang", types=["string"], reply="option<string>") == "python"
    assert kv_a.call("Dump", types=[], reply="map<string,string>") == {"lang": "python", "é": "✓"}
    assert kv_b.call("Get", "lang", types=["string"], reply="option<string>") is None


def test_call_errors_from_a_rust_node(rust: Processes, py_node: Callable[..., Node]) -> None:
    a = rust.node("node-a", "--join", "slow")
    session = py_node().connect(a.addr)
    pong = next(p for p in session.actors.values() if p.name == "pong")

    with pytest.raises(CallFailed) as unknown:
        session.call(10_000, "Pong", bytes(8))
    assert unknown.value.code == "UNKNOWN_ACTOR"
    assert "10000" in unknown.value.detail

    with pytest.raises(CallFailed) as undecodable:
        session.call(pong.pid, "Pong", b"\x01")  # a u64 is 8 bytes
    assert undecodable.value.code == "UNDECODABLE"

    # MyBasicMessageType::Slow(ms) sleeps, then replies: past the timeout,
    # the call ends here or at the callee (CallError TIMEOUT), whichever is
    # first, and the session goes on.
    slow = next(p for p in session.actors.values() if p.name == "slow@node-a")
    with pytest.raises((CallTimeout, CallFailed)) as late:
        slow.call("Slow", 3000, types=["u64"], reply="u64", timeout=0.3)
    assert isinstance(late.value, CallTimeout) or late.value.code == "TIMEOUT"
    assert pong.call("Pong", 1, types=["u64"], reply="u64") == 2


def test_a_rust_process_calls_the_python_actor(rust: Processes, py_node: Callable[..., Node]) -> None:
    caller = rust.pg_call("rust-caller", "--late-actor")
    node = py_node("py-node")
    greeter, notes = make_greeter()
    node.spawn(greeter, groups=[GREETER_GROUP])
    session = node.connect(caller.addr)

    # Rust found the greeter with ractor::pg::get_members and called it
    # through a typed ActorRef<GreeterMsg>.
    caller.wait_for_line(r'cast Note\("from rust"\)')
    assert caller.wait_for_line(r"Greet\(\"rust\", 2\) -> (.*)").group(1) == '"hello rust, hello rust"'
    assert caller.wait_for_line(r"Sum\(\[1, 2, 3, -10\]\) -> (.*)").group(1) == "-4"
    assert caller.wait_for_line(r"Lookup\(b\) -> (.*)").group(1) == "Some(2)"
    assert caller.wait_for_line(r"Notes\(\) -> (.*)").group(1) == '["from rust"]'
    # A handler that raises: Rust sees the call fail, with the reason.
    failed = caller.wait_for_line(r'Greet\(\"\", 1\) failed: (\w+): (.*)')
    assert failed.group(1) == "Dropped"
    assert "ValueError: Greet needs a name" in failed.group(2)
    assert notes == ["from rust"]

    # A change after sync: the Rust node advertises `late`, then stops it.
    late = node.wait_for(lambda: node.find_in_group("late"), WAIT, "late in pg group late")[0]
    assert late.name == "late" and late.node == "rust-caller"
    late.cast("Ping", "py-node", 1, types=PONG["Ping"])
    caller.wait_for_line(r'late got \["ping 1 from py-node"\]')
    node.wait_for(lambda: not node.find_by_name("late"), WAIT, "late's ActorTerminated")
    assert session.state == "ready"  # the actor went, the session stays

    node.close()
    caller.wait_for_line(r"the peer left")
    assert caller.wait_exit() == 0, caller.output()
    assert "[rust-caller] error:" not in caller.output(), caller.output()


def test_a_wrong_cookie_is_unauthenticated(rust: Processes, py_node: Callable[..., Node]) -> None:
    a = rust.node("node-a")
    with pytest.raises(SessionRefused) as refused:
        py_node("py-node", cookie="not-the-cookie").connect(a.addr)
    assert refused.value.code == grpc.StatusCode.UNAUTHENTICATED
    assert refused.value.cause == "bad-cookie"
    assert "UNAUTHENTICATED" in str(refused.value)
    a.wait_for_line(r"disconnected from .*: bad-cookie")
    # The refusal left nothing behind: the right cookie still gets in.
    assert py_node("py-node-2").connect(a.addr).state == "ready"
    with pytest.raises(ValueError, match="cookie may not be empty"):
        Node("py-node-3", "")


def test_one_session_per_peer(rust: Processes, py_node: Callable[..., Node]) -> None:
    a = rust.node("node-a")
    node = py_node()
    first = node.connect(a.addr)
    with pytest.raises(SessionRefused) as again:
        node.connect(a.addr)
    assert (again.value.code, again.value.cause) == (grpc.StatusCode.FAILED_PRECONDITION, "already-connected")
    # The Python node's own claim refused it, before its Proof: the node
    # never had to.
    assert again.value.detail.startswith("already connected to node-a"), again.value.detail
    assert first.state == "ready" and node.sessions == [first]
    assert first.call(node.find_by_name("pong")[0].pid, "Pong", bytes(8)) == (1).to_bytes(8, "big")


def test_goodbye_from_a_stopping_node_ends_the_session(rust: Processes, py_node: Callable[..., Node]) -> None:
    a = rust.node("node-a")
    node = py_node()
    session = node.connect(a.addr)
    pong = node.find_by_name("pong")[0]

    rust.started[0].stop()  # SIGTERM: node-a stops in order and says Goodbye
    node.wait_for(lambda: session.state == "closed", WAIT, "the end of the session")
    assert isinstance(session.ended, SessionClosed)
    assert (session.ended.code, session.ended.cause) == (grpc.StatusCode.OK, "stopped")
    assert node.find_by_name("pong") == [] and node.sessions == []
    with pytest.raises(SessionClosed):
        pong.call("Pong", 1, types=["u64"], reply="u64")


def test_heartbeats_both_ways(rust: Processes, py_node: Callable[..., Node]) -> None:
    # node-a pings every 200 ms and drops a peer silent for 1 s. The Python
    # node pings once at the start and then only every 5 s: it stays only
    # because it answers each of node-a's Pings with a Pong of the same seq.
    a = rust.node("node-a", "--heartbeat-interval", "200ms", "--heartbeat-timeout", "1s")
    node = py_node(heartbeat_interval=5.0, heartbeat_timeout=20.0)
    session = node.connect(a.addr)
    node.wait_for(lambda: session.last_rtt is not None, WAIT, "a Pong from node-a")

    channel = grpc.insecure_channel(a.addr)
    try:
        stub = node.pb_grpc.ClusterNodeStub(channel)
        auth = (("authorization", f"Bearer {mint_token(COOKIE, 'node-a', 'inspect')}"),)

        def still_ready_after_2500_ms() -> bool:
            peers = stub.ListPeers(node.pb.ListPeersRequest(), metadata=auth, timeout=WAIT).peers
            mine = [p for p in peers if p.name == "py-node"]
            assert mine, f"node-a dropped the Python node:\n{a.output()}"
            age_ms = time.time() * 1000 - mine[0].connected_since_unix_ms
            # last_rtt_us: node-a got a Pong that answers its own Ping.
            return mine[0].state == node.pb.SESSION_STATE_READY and mine[0].last_rtt_us > 0 and age_ms > 2500

        procs.eventually(still_ready_after_2500_ms, WAIT, "the session outliving node-a's heartbeat timeout")
    finally:
        channel.close()
    assert session.state == "ready"
    assert "heartbeat-timeout" not in a.output()


def test_follows_peer_lists_into_a_transitive_cluster(rust: Processes, py_node: Callable[..., Node]) -> None:
    a = rust.node("node-a", "--mode", "transitive")
    node = py_node(follow_peer_lists=True)
    node.connect(a.addr)
    # node-b joins node-a; node-a introduces the newcomer to its other peers
    # with a PeerList, and the Python node dials it.
    rust.node("node-b", "--mode", "transitive", "--connect", a.addr)
    pongs = node.wait_for(lambda: len(node.find_in_group("pong")) == 2 and node.find_in_group("pong"), WAIT,
                          "pong on both nodes")
    assert sorted(p.node for p in pongs) == ["node-a", "node-b"]
    assert sorted(s.peer_name for s in node.sessions) == ["node-a", "node-b"]
