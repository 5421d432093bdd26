"""A reference Python node for ractor_grpc clusters.

Written from ``proto/ractor_grpc/v1/cluster.proto`` alone, to copy from:

- :mod:`.codec`      the payload encoding, driven by type expressions
- :mod:`.handshake`  the cookie proofs of the Session handshake, tokens
- :mod:`.session`    one Session stream with a Rust node
- :mod:`.node`       a node: dials Rust nodes, hosts Python actors
- :mod:`.actor`      Python actors that Rust code calls through a typed ActorRef
- :mod:`.unary`      unary Cast and Call with a token, for programs that are not nodes
- :mod:`.stubs`      the gRPC stubs, generated from the proto when needed
"""

from .actor import Actor
from .codec import Some, decode, encode
from .errors import CallFailed, CallTimeout, RactorGrpcError, SessionClosed, SessionError, SessionRefused
from .handshake import mint_token
from .node import Node
from .session import DEFAULT_SCOPE, RemoteActor, Session
from .unary import UnaryClient, UnaryError, UnaryReply, by_group, by_name, by_pid

__all__ = [
    "DEFAULT_SCOPE",
    "Actor",
    "CallFailed",
    "CallTimeout",
    "Node",
    "RactorGrpcError",
    "RemoteActor",
    "Session",
    "SessionClosed",
    "SessionError",
    "SessionRefused",
    "Some",
    "UnaryClient",
    "UnaryError",
    "UnaryReply",
    "by_group",
    "by_name",
    "by_pid",
    "decode",
    "encode",
    "mint_token",
]
