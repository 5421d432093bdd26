"""What a grpcurl user sees on a running ractor_grpc node.

Starts the Rust ``node`` binary (``$RACTOR_GRPC_NODE_BIN``, else
``<repo>/target/debug/node``) and talks to it only through server reflection,
the health service and the unary introspection RPCs, using ``rgcheck`` (the
grpcurl stand-in next to this file). The unary RPCs need a bearer token,
minted by ``node token`` as a user would. Every wait is bounded in time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import grpc
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import rgcheck  # noqa: E402

REPO = HERE.parents[1]
RGCHECK = HERE / "rgcheck.py"
COOKIE = "test-cookie"
SERVICE = "ractor_grpc.v1.ClusterNode"
STARTUP_TIMEOUT = 20.0  # seconds until the node must print its address
STOP_TIMEOUT = 10.0  # seconds a node gets to exit after SIGTERM
RPC_TIMEOUT = 10.0
LISTENING = re.compile(r"listening on (127\.0\.0\.1:\d+)")


def node_binary() -> Path:
    configured = os.environ.get("RACTOR_GRPC_NODE_BIN")
    if configured:
        path = Path(configured)
        if not path.is_absolute() and not path.exists():
            path = REPO / path  # relative to the repo root, as scripts/test.sh passes it
    else:
        path = REPO / "target" / "debug" / "node"
    if not path.exists():
        pytest.fail(
            f"node binary not found at {path}; build it with `cargo build --workspace` "
            "or point RACTOR_GRPC_NODE_BIN at it"
        )
    return path


@dataclass
class Node:
    """A running node process and what it printed."""

    name: str
    proc: subprocess.Popen[str]
    addr: str = ""
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    channel: grpc.Channel | None = None
    token: str = ""  # a bearer token for its unary RPCs, once minted

    @property
    def auth(self) -> tuple[tuple[str, str], ...]:
        """gRPC metadata carrying the node's token."""
        assert self.token, f"no token minted for {self.name}"
        return (("authorization", f"Bearer {self.token}"),)

    def output(self) -> str:
        return "".join(self.stdout) + "".join(self.stderr)

    def stop(self) -> None:
        if self.channel is not None:
            self.channel.close()
            self.channel = None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT)


def _drain(stream, sink: list[str], lines: "queue.Queue[str] | None") -> None:
    """Reads a pipe to its end so the node never blocks on a full pipe."""
    for line in stream:
        sink.append(line)
        if lines is not None:
            lines.put(line)
    stream.close()


def start_node(name: str, *extra: str) -> Node:
    """Starts a node on 127.0.0.1 with an OS-chosen port, waits for its
    address and mints it a token with ``node token``."""
    cmd = [str(node_binary()), "--name", name, "--cookie", COOKIE, "--listen", "127.0.0.1:0", *extra]
    node = launch(name, cmd)
    node.token = mint_token(name)
    return node


def run_node_token(*args: str) -> subprocess.CompletedProcess[str]:
    """``node token ARGS`` as a user runs it."""
    return subprocess.run(
        [str(node_binary()), "token", *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def mint_token(name: str, *extra: str) -> str:
    """A token for node ``name`` from ``node token`` (its last stdout line)."""
    done = run_node_token("--cookie", COOKIE, "--name", name, *extra)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()[-1]


def hand_minted(name: str, scope: str, expiry: int, cookie: str = COOKIE) -> str:
    """A token made by the recipe in cluster.proto, with nothing of the node's."""
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()  # noqa: E731
    lp = lambda b: len(b).to_bytes(4, "big") + b  # noqa: E731
    msg = b"ractor_grpc/v1 unary token" + lp(name.encode()) + lp(scope.encode()) + expiry.to_bytes(8, "big")
    mac = hmac.new(cookie.encode(), msg, hashlib.sha256).digest()
    return f"rgt1.{b64(name.encode())}.{scope}.{expiry}.{b64(mac)}"


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


def example_binary() -> Path:
    """The `example_pair` scenario binary, beside the node binary."""
    path = node_binary().with_name("example_pair")
    if not path.exists():
        pytest.fail(f"example_pair binary not found at {path}; build it with `cargo build --workspace`")
    return path


def launch(name: str, cmd: list[str]) -> Node:
    """Runs `cmd`, which prints 'listening on 127.0.0.1:PORT', and waits for the address."""
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
        env={**os.environ, "RUST_BACKTRACE": "1"},
    )
    node = Node(name=name, proc=proc)
    lines: queue.Queue[str] = queue.Queue()
    for stream, sink, q in ((proc.stdout, node.stdout, lines), (proc.stderr, node.stderr, None)):
        threading.Thread(target=_drain, args=(stream, sink, q), daemon=True).start()

    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not node.addr:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or proc.poll() is not None:
            code = proc.poll()
            why = f"exited with {code}" if code is not None else f"nothing after {STARTUP_TIMEOUT:.0f} s"
            node.stop()
            time.sleep(0.1)  # let the readers catch the last words
            pytest.fail(
                f"node {name} never printed 'listening on 127.0.0.1:PORT' ({why}).\n"
                f"command: {' '.join(cmd)}\noutput:\n{node.output()}"
            )
        try:
            line = lines.get(timeout=min(remaining, 0.5))
        except queue.Empty:
            continue
        match = LISTENING.search(line)
        if match:
            node.addr = match.group(1)

    node.channel = grpc.insecure_channel(node.addr)
    try:
        grpc.channel_ready_future(node.channel).result(timeout=STARTUP_TIMEOUT)
    except grpc.FutureTimeoutError:
        node.stop()
        pytest.fail(f"node {name} printed {node.addr} but accepts no connection there")
    return node


@pytest.fixture
def nodes() -> Iterator[Callable[..., Node]]:
    """A factory of nodes, all stopped when the test ends (also when it fails)."""
    started: list[Node] = []

    def factory(name: str, *extra: str) -> Node:
        node = start_node(name, *extra)
        started.append(node)
        return node

    yield factory
    for node in reversed(started):
        node.stop()


@pytest.fixture(scope="module")
def node_a() -> Iterator[Node]:
    """One node, py-a, shared by the single-node tests."""
    node = start_node("py-a")
    yield node
    node.stop()


def channel_of(node: Node) -> grpc.Channel:
    assert node.channel is not None
    return node.channel


# --------------------------------------------------------------------------
# One node
# --------------------------------------------------------------------------


def test_reflection_lists_services(node_a: Node) -> None:
    services = rgcheck.list_services(channel_of(node_a), RPC_TIMEOUT)
    assert SERVICE in services
    assert "grpc.health.v1.Health" in services
    assert any(s.startswith("grpc.reflection.") and s.endswith(".ServerReflection") for s in services), services


def test_reflection_describes_methods(node_a: Node) -> None:
    ch = channel_of(node_a)
    session = rgcheck.describe_method(ch, SERVICE, "Session", RPC_TIMEOUT)
    assert session.client_streaming and session.server_streaming, session
    assert session.input_type == session.output_type == ".ractor_grpc.v1.Frame"
    for name in ("GetNodeInfo", "ListPeers"):
        method = rgcheck.describe_method(ch, SERVICE, name, RPC_TIMEOUT)
        assert method.is_unary, method
    text = rgcheck.describe(ch, SERVICE, RPC_TIMEOUT)
    assert "rpc Session ( stream .ractor_grpc.v1.Frame ) returns ( stream .ractor_grpc.v1.Frame );" in text


@pytest.mark.parametrize("service", ["", SERVICE])
def test_health_serving(node_a: Node, service: str) -> None:
    assert rgcheck.health(channel_of(node_a), service, RPC_TIMEOUT) == "SERVING"


def test_get_node_info(node_a: Node) -> None:
    msg = rgcheck.call_unary_message(
        channel_of(node_a), f"{SERVICE}/GetNodeInfo", {}, RPC_TIMEOUT, node_a.auth)
    info = rgcheck.call_unary(channel_of(node_a), f"{SERVICE}/GetNodeInfo", {}, RPC_TIMEOUT, node_a.auth)
    assert info["name"] == "py-a"
    assert info["listenAddr"] == node_a.addr
    assert info.get("mode") in ("CONNECTION_MODE_TRANSITIVE", "CONNECTION_MODE_ISOLATED"), info
    assert info.get("version"), info
    # The cookie never leaves the node: not in the answer, not in what it printed.
    assert COOKIE not in json.dumps(info)
    assert COOKIE.encode() not in msg.SerializeToString()
    assert COOKIE not in node_a.output()


# --------------------------------------------------------------------------
# Tokens
# --------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GetNodeInfo", "ListPeers", "ListActors", "ListGroups"])
def test_a_unary_call_without_a_token_is_refused(node_a: Node, method: str) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        rgcheck.call_unary(channel_of(node_a), f"{SERVICE}/{method}", {}, RPC_TIMEOUT)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert refused.value.details().startswith(
        "missing authorization metadata: send 'authorization: Bearer <token>'"), refused.value.details()


def test_a_token_from_node_token_works(node_a: Node) -> None:
    done = run_node_token("--cookie", COOKIE, "--name", "py-a", "--scope", "inspect", "--ttl-secs", "60")
    assert done.returncode == 0, done.stderr
    token = done.stdout.splitlines()[-1]
    assert token.startswith("rgt1."), done.stdout
    info = rgcheck.call_unary(channel_of(node_a), f"{SERVICE}/GetNodeInfo", {}, RPC_TIMEOUT, bearer(token))
    assert info["name"] == "py-a"
    # The cookie also comes from the environment, as for a running node.
    env = {**os.environ, "RACTOR_GRPC_COOKIE": COOKIE}
    from_env = subprocess.run([str(node_binary()), "token", "--name", "py-a"],
                              capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL)
    assert from_env.returncode == 0, from_env.stderr
    rgcheck.call_unary(channel_of(node_a), f"{SERVICE}/ListPeers", {}, RPC_TIMEOUT,
                       bearer(from_env.stdout.splitlines()[-1]))


def test_the_proto_recipe_mints_a_working_token(node_a: Node) -> None:
    token = hand_minted("py-a", "inspect", int(time.time()) + 60)
    info = rgcheck.call_unary(channel_of(node_a), f"{SERVICE}/GetNodeInfo", {}, RPC_TIMEOUT, bearer(token))
    assert info["name"] == "py-a"


BAD_TOKENS = {
    "expired": (lambda now: hand_minted("py-a", "inspect", now - 5), "token expired at "),
    "forged": (lambda now: hand_minted("py-a", "inspect", now + 60, cookie="wrong"),
               "token signature does not verify (wrong cookie?)"),
    "other-node": (lambda now: hand_minted("py-b", "inspect", now + 60),
                   'token was minted for node "py-b", this is node "py-a"'),
}


@pytest.mark.parametrize("kind", sorted(BAD_TOKENS))
def test_a_bad_token_is_refused_with_its_reason(node_a: Node, kind: str) -> None:
    make, says = BAD_TOKENS[kind]
    token = make(int(time.time()))
    with pytest.raises(grpc.RpcError) as refused:
        rgcheck.call_unary(channel_of(node_a), f"{SERVICE}/GetNodeInfo", {}, RPC_TIMEOUT, bearer(token))
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert says in refused.value.details(), refused.value.details()


def test_list_actors_and_groups_show_a_nodes_actors() -> None:
    """A node hosting the issue's example actor in pg group example/basic."""
    node = launch("py-ex", [str(example_binary()), "serve", "--name", "py-ex", "--cookie", COOKIE])
    try:
        ch = channel_of(node)
        auth = bearer(mint_token("py-ex"))
        for name in ("ListActors", "ListGroups"):
            assert rgcheck.describe_method(ch, SERVICE, name, RPC_TIMEOUT).is_unary
        actors = rgcheck.call_unary(ch, f"{SERVICE}/ListActors", {}, RPC_TIMEOUT, auth)
        example = [a for a in actors.get("actors", []) if a.get("name") == "example"]
        assert len(example) == 1, actors
        assert {"scope": "example", "group": "basic"} in example[0].get("groups", []), actors
        groups = rgcheck.call_unary(ch, f"{SERVICE}/ListGroups", {}, RPC_TIMEOUT, auth)
        basic = [g for g in groups.get("groups", []) if g["scope"] == "example" and g["group"] == "basic"]
        assert len(basic) == 1, groups
        # proto3 JSON leaves out zero values, so pid 0 has no key.
        members = [(m["node"], m.get("pid", "0"), m["name"]) for m in basic[0]["members"]]
        assert members == [("py-ex", example[0].get("pid", "0"), "example")], groups
    finally:
        node.stop()


def test_list_peers(node_a: Node) -> None:
    peers = rgcheck.call_unary(channel_of(node_a), f"{SERVICE}/ListPeers", {}, RPC_TIMEOUT, node_a.auth)
    assert isinstance(peers.get("peers", []), list)
    assert COOKIE not in json.dumps(peers)


# --------------------------------------------------------------------------
# The CLI, as a user runs it
# --------------------------------------------------------------------------


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "RACTOR_GRPC_TOKEN"}
    return subprocess.run(
        [sys.executable, str(RGCHECK), *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env={**environ, **(env or {})},
    )


def test_cli(node_a: Node) -> None:
    listed = run_cli(node_a.addr, "list")
    assert listed.returncode == 0, listed.stderr
    assert SERVICE in listed.stdout.splitlines()

    described = run_cli(node_a.addr, "describe", SERVICE)
    assert described.returncode == 0, described.stderr
    assert "rpc Session ( stream .ractor_grpc.v1.Frame ) returns ( stream .ractor_grpc.v1.Frame );" in described.stdout

    healthy = run_cli(node_a.addr, "health")
    assert healthy.returncode == 0, healthy.stderr
    assert healthy.stdout.strip() == "SERVING"

    refused = run_cli(node_a.addr, "call", f"{SERVICE}/GetNodeInfo", "{}")
    assert refused.returncode == 1
    assert "Code: UNAUTHENTICATED" in refused.stderr, refused.stderr
    assert "missing authorization metadata" in refused.stderr, refused.stderr

    called = run_cli(node_a.addr, "--token", node_a.token, "call", f"{SERVICE}/GetNodeInfo", "{}")
    assert called.returncode == 0, called.stderr
    info = json.loads(called.stdout)
    assert info["name"] == "py-a"
    assert info["listenAddr"] == node_a.addr
    assert COOKIE not in called.stdout

    # The same token through the environment, and as a raw -H header.
    from_env = run_cli(node_a.addr, "call", f"{SERVICE}/ListPeers", "{}", env={"RACTOR_GRPC_TOKEN": node_a.token})
    assert from_env.returncode == 0, from_env.stderr
    as_header = run_cli(node_a.addr, "-H", f"authorization: Bearer {node_a.token}", "call", f"{SERVICE}/ListPeers")
    assert as_header.returncode == 0, as_header.stderr

    unknown = run_cli(node_a.addr, "call", f"{SERVICE}/NoSuchMethod", "{}")
    assert unknown.returncode == 1
    assert "NoSuchMethod" in unknown.stderr


# --------------------------------------------------------------------------
# Two nodes
# --------------------------------------------------------------------------


def ready_peer_names(node: Node) -> set[str]:
    resp = rgcheck.call_unary(channel_of(node), f"{SERVICE}/ListPeers", {}, RPC_TIMEOUT, node.auth)
    return {p.get("name", "") for p in resp.get("peers", []) if p.get("state") == "SESSION_STATE_READY"}


def test_two_nodes_see_each_other(nodes: Callable[..., Node]) -> None:
    a = nodes("py-a")
    b = nodes("py-b", "--connect", a.addr)

    deadline = time.monotonic() + 10.0
    seen: tuple[set[str], set[str]] = (set(), set())
    for _ in range(200):  # 200 x 50 ms, and never past the deadline
        seen = (ready_peer_names(a), ready_peer_names(b))
        if "py-b" in seen[0] and "py-a" in seen[1]:
            break
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert "py-b" in seen[0] and "py-a" in seen[1], (
        f"peers never both READY: py-a sees {seen[0]}, py-b sees {seen[1]}\n"
        f"--- py-a output:\n{a.output()}\n--- py-b output:\n{b.output()}"
    )
    assert COOKIE not in a.output() + b.output()
