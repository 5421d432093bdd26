"""Unary ``Cast`` and ``Call``: reach an actor without becoming a node.

A program that only wants to send a message needs no Session, no cookie
handshake and no sync: it asks a node, in one RPC, to cast to or call one
of its actors (or a peer's, through the node's proxy). The node checks the
arguments against the actor's description first; they come as payload
bytes (see ``codec``) or as a JSON array that the node transcodes. A call
answers with the reply's bytes and, when the node knows the reply type, its
JSON. Every unary RPC needs a bearer token minted from the cookie::

    client = UnaryClient("127.0.0.1:4000", cookie="secret", node_name="node-a")
    client.call(by_name("pong"), "Pong", args_json=[10]).json()     # -> 11
    client.cast(by_group("pong"), "Ping", args=codec.encode_args(["string", "u64"], ["py", 1]),
                all_members=True)                                   # -> where it went
    client.close()

A refusal is a :class:`UnaryError` with the gRPC status the proto lists:
NOT_FOUND (no such actor, group member or node), INVALID_ARGUMENT (no
target, an unknown variant, a cast variant called or the reverse, arguments
that do not fit, saying where), FAILED_PRECONDITION (JSON for an actor whose
type the node does not know), DEADLINE_EXCEEDED, ABORTED, UNAVAILABLE,
UNAUTHENTICATED (no token, or a bad one), PERMISSION_DENIED (an ``inspect``
token).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import grpc

from . import stubs
from .errors import RactorGrpcError
from .handshake import mint_token
from .session import MAX_MESSAGE_BYTES

__all__ = ["UnaryClient", "UnaryError", "UnaryReply", "by_group", "by_name", "by_pid"]

_pb, _pb_grpc = stubs.load()


class UnaryError(RactorGrpcError):
    """A unary Cast or Call refused: ``code`` (a ``grpc.StatusCode``) and the
    node's ``detail``."""

    def __init__(self, method: str, code: grpc.StatusCode, detail: str) -> None:
        super().__init__(f"{method}: {code.name}: {detail}")
        self.code = code
        self.detail = detail


def by_pid(pid: int, node: str = "") -> Any:
    """The actor with local id ``pid`` on ``node`` (empty: the node asked)."""
    return _pb.ActorSelector(pid=pid, node=node)


def by_name(name: str, node: str = "") -> Any:
    """The actor registered as ``name``: the node's own first, else a
    peer's (only ``node``'s when it is given)."""
    return _pb.ActorSelector(name=name, node=node)


def by_group(group: str, scope: str = "", node: str = "") -> Any:
    """The members of pg group ``group`` (scope empty: ractor's default)."""
    return _pb.ActorSelector(group=_pb.GroupSelector(scope=scope, group=group), node=node)


@dataclass(frozen=True)
class UnaryReply:
    """A unary Call's answer."""

    #: The reply in the payload encoding (decode it with ``codec.decode``).
    result: bytes
    #: The reply as JSON text, when the node knows the reply type; else "".
    result_json: str
    #: The node and pid of the actor that answered.
    node: str
    pid: int

    def json(self) -> Any:
        """``result_json`` parsed; ValueError when the node sent none."""
        if not self.result_json:
            raise ValueError("the node sent no JSON reply (it does not know the reply type)")
        return json.loads(self.result_json)


def _arguments(args: bytes | None, args_json: str | Sequence[Any] | None) -> dict[str, Any]:
    """The request's ``arguments`` oneof: bytes, or a JSON array (a Python
    list is dumped to JSON), or neither."""
    if args is not None and args_json is not None:
        raise ValueError("give args (payload bytes) or args_json, not both")
    if args is not None:
        return {"args": bytes(args)}
    if args_json is not None:
        return {"args_json": args_json if isinstance(args_json, str) else json.dumps(list(args_json))}
    return {}


class UnaryClient:
    """Unary Cast and Call on one node.

    Pass a ``token`` (e.g. from ``node token --scope all``), or the
    ``cookie`` and the node's ``node_name`` to mint one by the proto's
    recipe (``scope`` "all", valid ``ttl_secs``). Without either, requests
    carry no token and the node answers UNAUTHENTICATED.
    """

    def __init__(self, addr: str, token: str | None = None, *, cookie: str | None = None,
                 node_name: str | None = None, ttl_secs: int = 300) -> None:
        if token is None and cookie is not None:
            if not node_name:
                raise ValueError("minting a token needs the node's name (node_name=...)")
            token = mint_token(cookie, node_name, "all", ttl_secs)
        self.addr = addr
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self._channel = grpc.insecure_channel(addr, options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ])
        self._stub = _pb_grpc.ClusterNodeStub(self._channel)

    def __enter__(self) -> UnaryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def cast(self, target: Any, variant: str, args: bytes | None = None, *,
             args_json: str | Sequence[Any] | None = None, all_members: bool = False,
             timeout: float = 10.0) -> list[tuple[str, int]]:
        """Casts ``variant`` to ``target`` (``by_pid``/``by_name``/``by_group``);
        with a group, to one member or, with ``all_members``, to each.
        Returns where it went: ``[(node, pid), ...]``."""
        request = _pb.CastRequest(target=target, variant=variant, all_members=all_members,
                                  **_arguments(args, args_json))
        try:
            response = self._stub.Cast(request, metadata=self._metadata, timeout=timeout)
        except grpc.RpcError as e:
            raise UnaryError("Cast", e.code(), e.details() or "") from None
        return [(a.node, a.pid) for a in response.delivered]

    def call(self, target: Any, variant: str, args: bytes | None = None, *,
             args_json: str | Sequence[Any] | None = None, timeout: float = 10.0) -> UnaryReply:
        """Calls ``variant`` on ``target`` and returns its reply; the call
        ends at ``timeout`` seconds (the gRPC deadline) with DEADLINE_EXCEEDED."""
        request = _pb.CallRequest(target=target, variant=variant, **_arguments(args, args_json))
        try:
            response = self._stub.Call(request, metadata=self._metadata, timeout=timeout)
        except grpc.RpcError as e:
            raise UnaryError("Call", e.code(), e.details() or "") from None
        return UnaryReply(response.result, response.result_json, response.actor.node, response.actor.pid)
