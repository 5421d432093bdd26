"""One ``ClusterNode/Session`` stream with a Rust node, from the dialer's side.

The life of a session, as ``cluster.proto`` describes it::

    Python (dialer)                         Rust node (acceptor)
    Hello(name, nonce, versions)     ->
                                     <-     Challenge(name, nonce, version)
    Proof(dialer proof)              ->
                                     <-     Welcome(acceptor proof)
    our actors and groups, Ready     ->     (in either order)
                                     <-     its actors and groups, Ready
    ... Cast, Call, CallReply, CallError, adverts, Ping/Pong, both ways ...
    Goodbye (either side), then each closes its half of the stream

Three threads serve a session:

- gRPC's own thread pulls frames from :meth:`Session._requests`, a generator
  over the outbox queue (it batches what is queued into one frame);
- the *reader* (:meth:`Session._read_loop`) takes the node's frames, one
  envelope at a time, in order: handshake steps, adverts, traffic;
- the *heartbeat* (:meth:`Session._heartbeat_loop`) sends a Ping every
  interval and ends a session whose peer has been silent too long.

Everything the reader changes (state, the peer's actors and groups) is
guarded by the node's lock, and every change is announced on the node's
condition, so other threads wait for what they need with a deadline.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import grpc

from . import codec, handshake
from .errors import CallFailed, CallTimeout, SessionClosed, SessionError, SessionRefused, status_code

if TYPE_CHECKING:
    from .node import Node

__all__ = ["DEFAULT_SCOPE", "MAX_PROTOCOL_VERSION", "MIN_PROTOCOL_VERSION", "RemoteActor", "Session"]

log = logging.getLogger("ractor_grpc_py.session")

#: ractor's default pg scope.
DEFAULT_SCOPE = "__default_scope__"
#: Protocol versions this node speaks: 1, and 2 (which adds Ping and Pong).
MIN_PROTOCOL_VERSION = 1
MAX_PROTOCOL_VERSION = 2
PING_VERSION = 2
#: The metadata key (trailer) in which a Rust acceptor names the cause.
CAUSE_KEY = "ractor-grpc-cause"
#: Most envelopes sent in one frame.
MAX_BATCH = 256
#: Largest gRPC message either way; the Rust node's default max message size.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
#: How long, after a session ends, the peer gets to close its half of the
#: stream before this side drops it (the proto: "at most 2 s later").
CLOSE_GRACE = 2.0
#: Names (and listen addresses) are at most this many bytes.
MAX_NAME_BYTES = 255



def describe(message: Any) -> dict[str, tuple[bool, list[str], str]]:
    """A MessageDescription as ``{variant: (is_call, [arg types], reply type)}``."""
    return {v.name: (v.call, [a.type for a in v.args], v.reply) for v in message.variants}


@dataclass
class RemoteActor:
    """An actor a Rust node advertised on a session: what the node knows of it.

    Cast to it and call it with Python values and type expressions::

        pong.cast("Ping", "python", 1, types=["string", "u64"])
        pong.call("Pong", 41, types=["u64"], reply="u64")   # -> 42

    ``types``/``reply`` may be left out when the advert described the message
    type (``description``); otherwise they are required.
    """

    session: "Session"
    pid: int
    name: str
    message_type: str
    #: The message type's description from the advert, as
    #: ``{variant: (is_call, [arg types], reply type)}``; None when not sent.
    description: dict[str, tuple[bool, list[str], str]] | None = None
    #: The pg groups it is in, as (scope, group).
    groups: set[tuple[str, str]] = field(default_factory=set)

    @property
    def node(self) -> str:
        """The name of the node it lives on."""
        return self.session.peer_name

    def __str__(self) -> str:
        return f"{self.name or self.pid}@{self.node}"

    def _types(self, variant: str, types: Sequence[str] | None, reply: str | None,
               call: bool) -> tuple[Sequence[str], str]:
        if types is not None and (reply is not None or not call):
            return types, reply or ""
        if self.description is None:
            what = "types= and reply=" if call else "types="
            raise LookupError(f"{self}: its advert does not describe {self.message_type or 'its message type'}; "
                              f"pass {what}")
        known = self.description.get(variant)
        if known is None:
            raise LookupError(f"{self}: {self.message_type} has no variant {variant!r}")
        is_call, arg_types, reply_type = known
        if is_call != call:
            raise LookupError(f"{self}: {self.message_type}::{variant} is a {'call' if is_call else 'cast'}")
        return (types if types is not None else arg_types), (reply if reply is not None else reply_type)

    def cast(self, variant: str, *args: Any, types: Sequence[str] | None = None) -> None:
        """Sends ``variant(*args)`` one way."""
        arg_types, _ = self._types(variant, types, None, call=False)
        self.session.cast(self.pid, variant, codec.encode_args(arg_types, args))

    def call(self, variant: str, *args: Any, types: Sequence[str] | None = None,
             reply: str | None = None, timeout: float | None = 5.0) -> Any:
        """Sends ``variant(*args)`` and returns the decoded reply.

        Raises :class:`CallFailed` (the callee's CallError),
        :class:`CallTimeout`, :class:`SessionClosed`, or
        ``codec.DecodeError`` if the reply does not decode as ``reply``.
        """
        arg_types, reply_type = self._types(variant, types, reply, call=True)
        result = self.session.call(self.pid, variant, codec.encode_args(arg_types, args), timeout)
        return codec.decode(reply_type, result)


class Session:
    """A session this node dialled. Made by ``Node.connect``; see the module docs."""

    def __init__(self, node: "Node", addr: str) -> None:
        self.node = node
        self.pb = node.pb
        #: The address dialled, "host:port".
        self.addr = addr
        #: Learned from the Challenge.
        self.peer_name = ""
        self.peer_listen_addr = ""
        self.peer_incarnation = 0
        self.version = 0
        #: "handshake", "syncing", "ready" or "closed".
        self.state = "handshake"
        #: Why it ended, once it has.
        self.ended: SessionError | None = None
        #: The peer's actors by pid, and its pg groups: (scope, group) -> pids.
        self.actors: dict[int, RemoteActor] = {}
        self.groups: dict[tuple[str, str], set[int]] = {}
        #: The last Ping round trip, in seconds (None before the first).
        self.last_rtt: float | None = None
        #: Message type descriptions the peer's adverts carried, by type name.
        self._descriptions: dict[str, dict[str, tuple[bool, list[str], str]]] = {}

        self._lock = node._changed  # the node's condition (and its lock)
        self._outbox: queue.Queue[Any] = queue.Queue()
        self._pending: dict[int, concurrent.futures.Future[bytes]] = {}
        self._next_tag = 1
        self._sent_ready = False
        self._got_ready = False
        self._last_heard = time.monotonic()
        self._ping_seq = 0
        self._ping_sent: dict[int, float] = {}
        self._stop = threading.Event()
        self._nonce = os.urandom(handshake.NONCE_LEN)
        self._hello = self.pb.Hello(
            name=node.name,
            nonce=self._nonce,
            min_version=MIN_PROTOCOL_VERSION,
            max_version=MAX_PROTOCOL_VERSION,
            incarnation=node.incarnation,
            listen_addr="",  # a Python node only dials: nobody can dial it back
        )
        self._phase = "await_challenge"
        self._challenge: Any = None
        options = [
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ]
        self._channel = grpc.insecure_channel(addr, options=options)
        self._stub = node.pb_grpc.ClusterNodeStub(self._channel)
        self._call: Any = None
        self._grace: threading.Timer | None = None
        self._reader = threading.Thread(target=self._read_loop, name=f"session-{addr}-reader", daemon=True)
        self._heartbeat = threading.Thread(target=self._heartbeat_loop, name=f"session-{addr}-heartbeat",
                                           daemon=True)

    def __repr__(self) -> str:
        return f"<Session {self.peer_name or '?'} at {self.addr}, {self.state}>"

    # ------------------------------------------------------------ sending

    def _send(self, *bodies: Any) -> None:
        """Queues envelopes, e.g. ``self._send(self.pb.Envelope(ready=...))``."""
        for body in bodies:
            self._outbox.put(body)

    def _requests(self) -> Iterator[Any]:
        """The frames gRPC sends: what the outbox holds, batched, until the
        ``None`` that ends our half of the stream."""
        while True:
            first = self._outbox.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    nxt = self._outbox.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    yield self.pb.Frame(envelopes=batch)
                    return
                batch.append(nxt)
            yield self.pb.Frame(envelopes=batch)

    # ------------------------------------------------------------ starting

    def start(self) -> None:
        """Sends Hello and starts reading; ``Node.connect`` waits for Ready."""
        self._send(self.pb.Envelope(hello=self._hello))
        self._call = self._stub.Session(self._requests())
        self._reader.start()

    # ------------------------------------------------------------ reading

    def _read_loop(self) -> None:
        try:
            for frame in self._call:
                with self._lock:
                    if self.state != "closed":  # nothing that follows the end is processed
                        self._on_frame(frame)
            with self._lock:
                self._finish(SessionClosed(self._who(), grpc.StatusCode.UNAVAILABLE, "transport",
                                           "the peer closed the stream without a goodbye"))
        except grpc.RpcError as e:
            with self._lock:
                self._ended_by_status(e)
        finally:
            if self._grace is not None:
                self._grace.cancel()
            self._channel.close()

    def _ended_by_status(self, e: grpc.RpcError) -> None:
        """The stream ended with a gRPC status: a refusal from the acceptor
        (its cause in the trailer) or a broken connection."""
        code = e.code()
        if self.state == "closed":
            return  # we ended it (and cancelled): already reported
        cause = ""
        for key, value in e.trailing_metadata() or ():
            if key == CAUSE_KEY:
                cause = value if isinstance(value, str) else value.decode("utf-8", "replace")
        if code == grpc.StatusCode.OK:
            code, detail = grpc.StatusCode.UNAVAILABLE, "the peer closed the stream without a goodbye"
            cause = cause or "transport"
        else:
            detail = e.details() or f"stream ended with {code.name}"
        self._finish(self._error(code, cause, detail))

    def _who(self) -> str:
        return f"{self.peer_name} at {self.addr}" if self.peer_name else self.addr

    def _error(self, code: grpc.StatusCode, cause: str, detail: str) -> SessionError:
        """SessionRefused while connecting, SessionClosed afterwards."""
        kind = SessionClosed if self.state == "ready" else SessionRefused
        return kind(self._who(), code, cause, detail)

    def _on_frame(self, frame: Any) -> None:
        self._last_heard = time.monotonic()
        if not frame.envelopes:
            return self._violation("an empty frame")
        for envelope in frame.envelopes:
            self._on_envelope(envelope)
            if self.state == "closed":
                return

    def _on_envelope(self, env: Any) -> None:
        kind = env.WhichOneof("body") or "an empty envelope"
        if kind == "goodbye":
            g = env.goodbye
            code = status_code(g.code)
            return self._finish(self._error(code, g.cause, g.reason or "the peer said goodbye"))
        if self._phase == "await_challenge":
            return self._on_challenge(env) if kind == "challenge" else self._violation(f"{kind} instead of Challenge")
        if self._phase == "await_welcome":
            return self._on_welcome(env) if kind == "welcome" else self._violation(f"{kind} instead of Welcome")
        # Authenticated: sync and traffic.
        if kind == "ready":
            if self._got_ready:
                return self._violation("a second Ready")
            self._got_ready = True
            self._maybe_ready()
        elif kind in ("spawned", "terminated", "pg_joined", "pg_left"):
            self._on_advert(kind, getattr(env, kind))
        elif kind == "cast":
            self.node._deliver(self, env.cast.to, env.cast.variant, env.cast.args, None, 0)
        elif kind == "call":
            c = env.call
            self.node._deliver(self, c.to, c.variant, c.args, c.tag, c.timeout_ms)
        elif kind == "call_reply":
            future = self._pending.pop(env.call_reply.tag, None)
            if future is not None:  # else a late answer to a call that timed out
                future.set_result(env.call_reply.result)
        elif kind == "call_error":
            future = self._pending.pop(env.call_error.tag, None)
            if future is not None:
                future.set_exception(self._call_failed(env.call_error))
        elif kind == "ping" and self.version >= PING_VERSION:
            self._send(self.pb.Envelope(pong=self.pb.Pong(seq=env.ping.seq)))
        elif kind == "pong" and self.version >= PING_VERSION:
            sent = self._ping_sent.pop(env.pong.seq, None)
            if sent is not None:
                self.last_rtt = time.monotonic() - sent
                self._lock.notify_all()
        elif kind == "peers":
            if len(env.peers.peers) > 1024:
                return self._violation("a PeerList longer than 1024 entries")
            self.node._peer_list(self, list(env.peers.peers))
        else:
            self._violation(f"unexpected {kind} after the handshake")

    def _call_failed(self, e: Any) -> CallFailed:
        names = {v: k.removeprefix("CALL_ERROR_CODE_") for k, v in self.pb.CallErrorCode.items()}
        name = names.get(e.code)
        if name is None or name == "UNSPECIFIED":
            return CallFailed("DROPPED", e.detail, number=e.code)  # unknown: like DROPPED
        return CallFailed(name, e.detail)

    # ------------------------------------------------------------ handshake

    def _on_challenge(self, env: Any) -> None:
        ch = env.challenge
        if not ch.name or len(ch.name.encode()) > MAX_NAME_BYTES:
            return self._violation("a Challenge with an empty or too long name")
        if len(ch.listen_addr.encode()) > MAX_NAME_BYTES:
            return self._violation("a Challenge with a listen address longer than 255 bytes")
        if len(ch.nonce) != handshake.NONCE_LEN:
            return self._violation("a Challenge whose nonce is not 32 bytes")
        if not MIN_PROTOCOL_VERSION <= ch.version <= MAX_PROTOCOL_VERSION:
            return self._refuse(grpc.StatusCode.FAILED_PRECONDITION, "version-mismatch",
                                f"the acceptor chose version {ch.version}, we speak "
                                f"{MIN_PROTOCOL_VERSION}..={MAX_PROTOCOL_VERSION}")
        if ch.incarnation == self.node.incarnation:
            return self._refuse(grpc.StatusCode.FAILED_PRECONDITION, "self-connection",
                                "refusing a session with this node itself")
        if ch.name == self.node.name:
            return self._refuse(grpc.StatusCode.FAILED_PRECONDITION, "duplicate-name",
                                f"the peer uses this node's own name {ch.name!r}")
        # Our claim (the proto's table): one established session per peer
        # incarnation, and one dial at a time.
        twin = self.node._other_session(self, ch.name)
        if twin is not None and twin.peer_incarnation == ch.incarnation:
            return self._refuse(grpc.StatusCode.FAILED_PRECONDITION, "already-connected",
                                f"already connected to {ch.name} (or dialling it) from {twin.addr}")
        self._challenge = ch
        self.peer_name = ch.name
        self.peer_listen_addr = ch.listen_addr
        self.peer_incarnation = ch.incarnation
        self.version = ch.version
        proof = handshake.dialer_proof(self.node.cookie, self._fields())
        self._send(self.pb.Envelope(proof=self.pb.Proof(proof=proof)))
        self._phase = "await_welcome"

    def _fields(self) -> handshake.HandshakeFields:
        h, ch = self._hello, self._challenge
        return handshake.HandshakeFields(
            hello_name=h.name, hello_nonce=h.nonce, min_version=h.min_version, max_version=h.max_version,
            hello_incarnation=h.incarnation, hello_listen_addr=h.listen_addr,
            challenge_name=ch.name, challenge_nonce=ch.nonce, version=ch.version,
            challenge_incarnation=ch.incarnation, challenge_listen_addr=ch.listen_addr,
        )

    def _on_welcome(self, env: Any) -> None:
        expected = handshake.acceptor_proof(self.node.cookie, self._fields())
        if not handshake.proofs_match(expected, env.welcome.proof):
            return self._refuse(grpc.StatusCode.UNAUTHENTICATED, "bad-cookie",
                                "bad acceptor proof (a different cookie?)")
        # A session with an older incarnation of this peer (it restarted)
        # is superseded by this one.
        old = self.node._other_session(self, self.peer_name)
        if old is not None and old.peer_incarnation != self.peer_incarnation:
            old._refuse(grpc.StatusCode.ABORTED, "superseded",
                        f"{self.peer_name} restarted: a session with its new incarnation replaces this one")
        # Authenticated: our snapshot, then Ready (the node builds it under
        # the same lock as it announces new actors, so nothing is missed).
        self._phase = "authenticated"
        self.state = "syncing"
        self._send(*self.node._snapshot(), self.pb.Envelope(ready=self.pb.Ready()))
        self._sent_ready = True
        if self.version >= PING_VERSION:
            self._heartbeat.start()
        self._maybe_ready()

    def _maybe_ready(self) -> None:
        if self._sent_ready and self._got_ready and self.state == "syncing":
            self.state = "ready"
            log.info("%s: ready with %s (protocol version %d)", self.node.name, self._who(), self.version)
            self._lock.notify_all()

    # ------------------------------------------------------------ adverts

    def _actor(self, ref: Any) -> RemoteActor:
        """The peer's actor ``ref`` (an ActorRef), added if new."""
        known = self.actors.get(ref.pid)
        if known is None:
            known = RemoteActor(self, ref.pid, ref.name, ref.message_type)
            self.actors[ref.pid] = known
        # An advert may describe the actor's message type (ActorRef.message);
        # the last description of each type name holds for the session.
        if ref.HasField("message"):
            self._descriptions[ref.message.type_name] = describe(ref.message)
        if known.message_type in self._descriptions:
            known.description = self._descriptions[known.message_type]
        return known

    def _on_advert(self, kind: str, body: Any) -> None:
        if kind == "spawned":
            self._actor(body.actor)
        elif kind == "terminated":
            gone = self.actors.pop(body.pid, None)
            if gone is not None:
                for key in gone.groups:
                    self._leave(key, body.pid)
        elif kind == "pg_joined":
            key = (body.scope, body.group)
            for ref in body.actors:
                self._actor(ref).groups.add(key)
                self.groups.setdefault(key, set()).add(ref.pid)
        else:  # pg_left; unknown pids are ignored
            key = (body.scope, body.group)
            for pid in body.pids:
                if pid in self.actors:
                    self.actors[pid].groups.discard(key)
                self._leave(key, pid)
        self._lock.notify_all()

    def _leave(self, key: tuple[str, str], pid: int) -> None:
        members = self.groups.get(key)
        if members is not None:
            members.discard(pid)
            if not members:
                del self.groups[key]

    # ------------------------------------------------------------ ending

    def _violation(self, what: str) -> None:
        self._refuse(grpc.StatusCode.INVALID_ARGUMENT, "protocol-violation", f"protocol violation: {what}")

    def _refuse(self, code: grpc.StatusCode, cause: str, detail: str) -> None:
        """Ends the session from this side with a Goodbye saying why
        (Goodbye.code is the status's number, google.rpc.Code)."""
        log.warning("%s: ending the session with %s: %s", self.node.name, self._who(), detail)
        self._finish(self._error(code, cause, detail),
                     self.pb.Goodbye(code=code.value[0], reason=detail, cause=cause))

    def _finish(self, error: SessionError, goodbye: Any = None) -> None:
        """The one end of a session (call with the lock held): the last
        words, the end of our half of the stream, failed calls, the peer's
        actors forgotten."""
        if self.state == "closed":
            return
        self.state = "closed"
        self.ended = error
        if goodbye is not None:
            self._send(self.pb.Envelope(goodbye=goodbye))
        self._send(None)  # ends _requests: our half of the stream closes
        if self._call is not None:
            # The peer gets CLOSE_GRACE seconds to close its half too; then
            # the stream is cancelled (and the reader ends).
            self._grace = threading.Timer(CLOSE_GRACE, self._call.cancel)
            self._grace.daemon = True
            self._grace.start()
        self._stop.set()
        pending, self._pending = self._pending, {}
        for future in pending.values():
            future.set_exception(SessionClosed(error.peer, error.code, error.cause, error.detail))
        self.actors.clear()
        self.groups.clear()
        if error.code != grpc.StatusCode.OK:
            log.info("%s: session with %s ended: %s", self.node.name, self._who(), error)
        self.node._session_ended(self)
        self._lock.notify_all()

    def close(self, reason: str = "node stopping", timeout: float = CLOSE_GRACE) -> None:
        """Says Goodbye (an orderly stop: code OK, cause ``stopped``) and
        waits, at most ``timeout`` seconds, for the peer to close its half."""
        with self._lock:
            if self.state != "closed":
                self._finish(SessionClosed(self._who(), grpc.StatusCode.OK, "stopped", reason),
                             self.pb.Goodbye(code=grpc.StatusCode.OK.value[0], reason=reason, cause="stopped"))
        if self._reader.is_alive():
            self._reader.join(timeout)
        if self._reader.is_alive():
            self._call.cancel()
            self._reader.join(timeout)

    # ------------------------------------------------------------ heartbeat

    def _heartbeat_loop(self) -> None:
        """At once and then every interval: end the session if the peer has
        been silent past the timeout, else send a Ping (protocol version 2)."""
        interval, timeout = self.node.heartbeat_interval, self.node.heartbeat_timeout
        first = True
        while first or not self._stop.wait(interval):
            first = False
            with self._lock:
                if self.state == "closed":
                    return
                silent = time.monotonic() - self._last_heard
                if silent > timeout:
                    self._refuse(grpc.StatusCode.UNAVAILABLE, "heartbeat-timeout",
                                 f"nothing from the peer for {silent * 1000:.0f} ms (the heartbeat timeout)")
                    self._call.cancel()  # a silent peer will not close its half
                    return
                self._ping_seq += 1
                self._ping_sent = {self._ping_seq: time.monotonic()}  # only the latest is awaited
                self._send(self.pb.Envelope(ping=self.pb.Ping(seq=self._ping_seq)))

    # ------------------------------------------------------------ traffic

    def _check_open(self) -> None:
        if self.state == "closed":
            assert self.ended is not None
            raise SessionClosed(self.ended.peer, self.ended.code, self.ended.cause, self.ended.detail)
        if self.state == "handshake":
            raise SessionClosed(self._who(), grpc.StatusCode.UNAVAILABLE, "", "the session is not authenticated yet")

    def cast(self, pid: int, variant: str, args: bytes) -> None:
        """Sends a Cast of already-encoded ``args`` to the peer's actor ``pid``."""
        with self._lock:
            self._check_open()
            self._send(self.pb.Envelope(cast=self.pb.Cast(to=pid, variant=variant, args=args)))

    def call(self, pid: int, variant: str, args: bytes, timeout: float | None = 5.0) -> bytes:
        """Sends a Call and waits for the reply bytes (at most ``timeout``
        seconds; None waits until the reply or the session's end)."""
        future: concurrent.futures.Future[bytes] = concurrent.futures.Future()
        with self._lock:
            self._check_open()
            tag = self._next_tag
            self._next_tag += 1
            self._pending[tag] = future
            timeout_ms = 0 if timeout is None else max(1, int(timeout * 1000))
            self._send(self.pb.Envelope(call=self.pb.Call(to=pid, variant=variant, args=args, tag=tag,
                                                          timeout_ms=timeout_ms)))
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            with self._lock:
                self._pending.pop(tag, None)  # a late answer is dropped
            raise CallTimeout(f"no answer to {variant} from actor {pid} on {self._who()} "
                              f"within {timeout} s") from None

    def _answer(self, tag: int, outcome: bytes | CallFailed) -> None:
        """Sends the answer to the peer's call ``tag`` (dropped if the
        session has ended: nobody is left to answer to)."""
        with self._lock:
            if self.state == "closed":
                return
            if isinstance(outcome, CallFailed):
                code = self.pb.CallErrorCode.Value(f"CALL_ERROR_CODE_{outcome.code}")
                body = self.pb.Envelope(call_error=self.pb.CallError(tag=tag, code=code, detail=outcome.detail))
            else:
                body = self.pb.Envelope(call_reply=self.pb.CallReply(tag=tag, result=outcome))
            self._send(body)
