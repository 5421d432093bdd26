"""What the Python dialer refuses, against a scripted fake acceptor (a gRPC
server written here that says exactly what each test needs): a wrong
acceptor proof, a frame out of order, silence past the handshake deadline.
Each refusal is a SessionRefused with the proto's code and cause, and the
fake acceptor hears the matching Goodbye."""

from __future__ import annotations

import os
import queue
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest
from ractor_grpc_py import Node, SessionRefused, handshake

Script = Callable[[Iterator[Any], Any, "queue.Queue[Any]"], Iterator[Any]]


class FakeAcceptor:
    """A ClusterNode server whose Session runs ``script(requests, pb, heard)``;
    every envelope the dialer sends is put in ``heard``."""

    def __init__(self, node: Node, script: Script) -> None:
        self.heard: queue.Queue[Any] = queue.Queue()
        pb, pb_grpc = node.pb, node.pb_grpc
        heard = self.heard

        class Servicer(pb_grpc.ClusterNodeServicer):  # type: ignore[name-defined, misc]
            def Session(self, request_iterator: Iterator[Any], context: grpc.ServicerContext) -> Iterator[Any]:
                def envelopes() -> Iterator[Any]:
                    for frame in request_iterator:
                        for env in frame.envelopes:
                            heard.put(env)
                            yield env
                yield from script(envelopes(), pb, heard)

        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        pb_grpc.add_ClusterNodeServicer_to_server(Servicer(), self.server)
        port = self.server.add_insecure_port("127.0.0.1:0")
        self.addr = f"127.0.0.1:{port}"
        self.server.start()

    def goodbye(self, timeout: float = 10.0) -> Any:
        """The Goodbye the dialer sent, waiting at most ``timeout`` seconds."""
        while True:
            env = self.heard.get(timeout=timeout)
            if not isinstance(env, tuple) and env.WhichOneof("body") == "goodbye":
                return env.goodbye

    def stop(self) -> None:
        self.server.stop(grace=None)


@pytest.fixture
def fake() -> Iterator[Callable[[Node, Script], FakeAcceptor]]:
    made: list[FakeAcceptor] = []

    def factory(node: Node, script: Script) -> FakeAcceptor:
        made.append(FakeAcceptor(node, script))
        return made[-1]

    yield factory
    for f in made:
        f.stop()


def challenge(pb: Any, hello: Any, incarnation: int = 7) -> Any:
    return pb.Frame(envelopes=[pb.Envelope(challenge=pb.Challenge(
        name="fake", nonce=os.urandom(32), version=2, incarnation=incarnation, listen_addr="127.0.0.1:1"))])


def welcoming(node: Node, incarnation: int = 7) -> Script:
    """An acceptor written from the proto: it knows the cookie, checks the
    dialer's proof, welcomes it with its own and says Ready."""
    def script(envs: Iterator[Any], pb: Any, heard: Any) -> Iterator[Any]:
        h = next(envs).hello
        frame = challenge(pb, h, incarnation)
        c = frame.envelopes[0].challenge
        yield frame
        fields = handshake.HandshakeFields(h.name, h.nonce, h.min_version, h.max_version, h.incarnation,
                                           h.listen_addr, c.name, c.nonce, c.version, c.incarnation, c.listen_addr)
        heard.put(("hello", h))
        heard.put(("proof ok", next(envs).proof.proof == handshake.dialer_proof(node.cookie, fields)))
        welcome = pb.Welcome(proof=handshake.acceptor_proof(node.cookie, fields))
        yield pb.Frame(envelopes=[pb.Envelope(welcome=welcome), pb.Envelope(ready=pb.Ready())])
        for _ in envs:
            pass
    return script


def test_a_wrong_acceptor_proof_is_refused(py_node: Callable[..., Node], fake: Callable[..., FakeAcceptor]) -> None:
    def script(envs: Iterator[Any], pb: Any, heard: Any) -> Iterator[Any]:
        hello = next(envs).hello
        yield challenge(pb, hello)
        next(envs)  # the Proof
        yield pb.Frame(envelopes=[pb.Envelope(welcome=pb.Welcome(proof=bytes(32)))])
        for _ in envs:  # until the dialer closes its half
            pass

    node = py_node()
    acceptor = fake(node, script)
    with pytest.raises(SessionRefused) as refused:
        node.connect(acceptor.addr, timeout=10)
    assert (refused.value.code, refused.value.cause) == (grpc.StatusCode.UNAUTHENTICATED, "bad-cookie")
    goodbye = acceptor.goodbye()
    assert (goodbye.code, goodbye.cause) == (grpc.StatusCode.UNAUTHENTICATED.value[0], "bad-cookie")


def test_an_acceptor_written_from_the_proto_welcomes_the_dialer(py_node: Callable[..., Node],
                                                                fake: Callable[..., FakeAcceptor]) -> None:
    """The dialer's Hello and Proof are what the proto specifies: an acceptor
    that knows the cookie checks the proof, answers with its own, and the
    session becomes ready; closing it says Goodbye with OK and 'stopped'."""
    node = py_node()
    acceptor = fake(node, welcoming(node))
    session = node.connect(acceptor.addr, timeout=10)
    assert session.state == "ready" and session.peer_name == "fake"
    said: dict[str, Any] = {}  # what the acceptor's script recorded
    while len(said) < 2:
        item = acceptor.heard.get(timeout=10)
        if isinstance(item, tuple):
            said[item[0]] = item[1]
    h = said["hello"]
    assert (h.name, len(h.nonce), h.min_version, h.max_version, h.listen_addr) == ("py-node", 32, 1, 2, "")
    assert h.incarnation == node.incarnation != 0
    assert said["proof ok"]
    node.close()
    goodbye = acceptor.goodbye()
    assert (goodbye.code, goodbye.cause) == (0, "stopped")


def test_a_restarted_peer_supersedes_its_old_session(py_node: Callable[..., Node],
                                                     fake: Callable[..., FakeAcceptor]) -> None:
    node = py_node()
    old_acceptor = fake(node, welcoming(node, incarnation=7))
    new_acceptor = fake(node, welcoming(node, incarnation=8))  # "fake" again, restarted
    old = node.connect(old_acceptor.addr, timeout=10)
    new = node.connect(new_acceptor.addr, timeout=10)
    assert new.state == "ready"
    assert old.state == "closed" and old.ended is not None
    assert (old.ended.code, old.ended.cause) == (grpc.StatusCode.ABORTED, "superseded")
    goodbye = old_acceptor.goodbye()
    assert (goodbye.code, goodbye.cause) == (grpc.StatusCode.ABORTED.value[0], "superseded")
    assert node.sessions == [new]


def test_a_frame_out_of_order_is_a_protocol_violation(py_node: Callable[..., Node],
                                                      fake: Callable[..., FakeAcceptor]) -> None:
    def script(envs: Iterator[Any], pb: Any, heard: Any) -> Iterator[Any]:
        next(envs)
        yield pb.Frame(envelopes=[pb.Envelope(ready=pb.Ready())])  # Ready instead of Challenge
        for _ in envs:
            pass

    node = py_node()
    acceptor = fake(node, script)
    with pytest.raises(SessionRefused) as refused:
        node.connect(acceptor.addr, timeout=10)
    assert (refused.value.code, refused.value.cause) == (grpc.StatusCode.INVALID_ARGUMENT, "protocol-violation")
    assert "ready instead of Challenge" in refused.value.detail
    assert acceptor.goodbye().cause == "protocol-violation"


def test_a_silent_acceptor_hits_the_handshake_deadline(py_node: Callable[..., Node],
                                                       fake: Callable[..., FakeAcceptor]) -> None:
    def script(envs: Iterator[Any], pb: Any, heard: Any) -> Iterator[Any]:
        for _ in envs:  # reads, says nothing
            pass
        return
        yield

    node = py_node()
    acceptor = fake(node, script)
    with pytest.raises(SessionRefused) as refused:
        node.connect(acceptor.addr, timeout=0.5)
    assert (refused.value.code, refused.value.cause) == (grpc.StatusCode.DEADLINE_EXCEEDED, "handshake-timeout")
    assert acceptor.goodbye().cause == "handshake-timeout"
