"""The exceptions a Python node raises.

Sessions end with a *code* (a gRPC status), a *cause* word and a readable
*detail*, the same three things the proto's ``Goodbye`` carries and a Rust
acceptor puts in the status it ends a stream with (the cause in the
``ractor-grpc-cause`` trailer). Calls fail with one of the proto's
``CallErrorCode`` names.
"""

from __future__ import annotations

import grpc

__all__ = [
    "CallFailed",
    "CallTimeout",
    "RactorGrpcError",
    "SessionClosed",
    "SessionError",
    "SessionRefused",
    "status_code",
]

_BY_NUMBER = {status.value[0]: status for status in grpc.StatusCode}


def status_code(number: int) -> grpc.StatusCode:
    """The ``grpc.StatusCode`` with this number (UNKNOWN for numbers gRPC lacks)."""
    return _BY_NUMBER.get(number, grpc.StatusCode.UNKNOWN)


class RactorGrpcError(Exception):
    """Base class of this package's errors."""


class SessionError(RactorGrpcError):
    """A session ended or could not start.

    ``code`` is the gRPC status that classifies it (``grpc.StatusCode.OK``
    for an orderly stop), ``cause`` the proto's cause word (``bad-cookie``,
    ``stopped``, ``heartbeat-timeout``, ...; empty if the peer named none),
    ``detail`` what happened in words, ``peer`` the address or name of the
    other node.
    """

    def __init__(self, peer: str, code: grpc.StatusCode, cause: str, detail: str) -> None:
        cause_text = f", cause {cause}" if cause else ""
        super().__init__(f"session with {peer}: {code.name}{cause_text}: {detail}")
        self.peer = peer
        self.code = code
        self.cause = cause
        self.detail = detail


class SessionRefused(SessionError):
    """``Node.connect`` failed: the handshake or the first sync did not
    complete (a wrong cookie is ``code == grpc.StatusCode.UNAUTHENTICATED``)."""


class SessionClosed(SessionError):
    """The session ended while in use (a call in flight fails with this)."""


class CallFailed(RactorGrpcError):
    """The callee's node answered a call with ``CallError``.

    ``code`` is the ``CallErrorCode`` without its prefix: ``UNKNOWN_ACTOR``,
    ``UNDECODABLE``, ``DROPPED``, ``ACTOR_STOPPED``, ``TIMEOUT``,
    ``TOO_LARGE``. A number this build does not know reads as ``DROPPED``
    (the proto says so) and keeps the number in ``number``.
    """

    def __init__(self, code: str, detail: str, number: int | None = None) -> None:
        shown = code if number is None else f"{code} (code {number})"
        super().__init__(f"call failed: {shown}: {detail}")
        self.code = code
        self.detail = detail
        self.number = number


class CallTimeout(RactorGrpcError, TimeoutError):
    """No answer to a call within the caller's timeout."""
