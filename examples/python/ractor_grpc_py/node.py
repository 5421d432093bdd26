"""A Python node: dials Rust nodes, sees their actors, hosts Python actors.

::

    node = Node("py-node", cookie="secret")
    node.spawn(greeter, groups=["greeters"])        # a Python actor (see actor.py)
    node.connect("127.0.0.1:4000")                  # handshake + sync, or an exception
    pong = node.find_in_group("pong")[0]            # a Rust actor
    pong.cast("Ping", "python", 1, types=["string", "u64"])
    pong.call("Pong", 41, types=["u64"], reply="u64")   # -> 42
    node.close()                                     # Goodbye to every peer

A Python node only dials (it serves no port, so its Hello carries no listen
address and no node dials it back). It may hold sessions with several
nodes; with ``follow_peer_lists=True`` it also dials the nodes a peer in
transitive mode names in a PeerList (a Rust node in transitive mode
introduces each newcomer to its other ready peers).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any, Callable, Iterable, TypeVar

import grpc

from . import stubs
from .actor import Actor, _Message
from .errors import CallFailed, SessionError
from .session import CLOSE_GRACE, DEFAULT_SCOPE, MAX_NAME_BYTES, RemoteActor, Session

__all__ = ["Node"]

log = logging.getLogger("ractor_grpc_py.node")

T = TypeVar("T")


class Node:
    """A Python node; see the module docs.

    ``heartbeat_interval`` is how often it pings each peer (seconds), and a
    peer silent for ``heartbeat_timeout`` is declared down; keep the interval
    well below the Rust nodes' heartbeat timeout (10 s by default).
    """

    def __init__(self, name: str, cookie: str, *, heartbeat_interval: float = 2.0,
                 heartbeat_timeout: float = 10.0, follow_peer_lists: bool = False) -> None:
        if not name or len(name.encode("utf-8")) > MAX_NAME_BYTES:
            raise ValueError("a node name is 1 to 255 bytes of UTF-8")
        if not cookie:
            raise ValueError("the cookie may not be empty")
        if heartbeat_timeout <= heartbeat_interval:
            raise ValueError("heartbeat_timeout must be longer than heartbeat_interval")
        self.name = name
        self.cookie = cookie
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_timeout = heartbeat_timeout
        self.follow_peer_lists = follow_peer_lists
        #: The generated protobuf and gRPC modules.
        self.pb, self.pb_grpc = stubs.load()
        #: A random id of this process, never 0 (a restart gets a new one).
        self.incarnation = int.from_bytes(os.urandom(8), "big") or 1
        # One lock guards the node, its sessions and their views of the
        # peers; the condition announces every change.
        self._changed = threading.Condition(threading.RLock())
        self._sessions: list[Session] = []
        self._actors: dict[int, Actor] = {}
        self._groups: dict[tuple[str, str], list[int]] = {}
        self._next_pid = 1
        self._dialing: set[str] = set()
        self._closed = False

    def __enter__(self) -> "Node":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ sessions

    def connect(self, addr: str, timeout: float = 5.0) -> Session:
        """Dials the node at ``addr`` ("host:port") and returns the session
        once both sides are Ready (the peer's actors and groups are known).
        ``timeout`` bounds the handshake and first sync (the proto's
        default deadline is 5 s).

        Raises :class:`SessionRefused` with the gRPC status that says why:
        UNAUTHENTICATED for a wrong cookie, FAILED_PRECONDITION for a
        duplicate name or an existing session (``already-connected``),
        DEADLINE_EXCEEDED when ``timeout``
        seconds pass first, UNAVAILABLE when nothing listens there.
        """
        with self._changed:
            if self._closed:
                raise RuntimeError(f"node {self.name} is closed")
            session = Session(self, addr)
            self._sessions.append(session)
        session.start()
        with self._changed:
            done = self._changed.wait_for(lambda: session.state in ("ready", "closed"), timeout)
            if not done:
                session._refuse(grpc.StatusCode.DEADLINE_EXCEEDED, "handshake-timeout",
                                f"the handshake and first sync did not finish within {timeout} s")
            if session.state == "closed":
                assert session.ended is not None
                raise session.ended
        return session

    @property
    def sessions(self) -> list[Session]:
        """The sessions that have not ended."""
        with self._changed:
            return [s for s in self._sessions if s.state != "closed"]

    def _other_session(self, session: Session, peer_name: str) -> Session | None:
        """Another live session (or dial) with the node named ``peer_name``."""
        for other in self._sessions:
            if other is not session and other.peer_name == peer_name and other.state != "closed":
                return other
        return None

    def _session_ended(self, session: Session) -> None:
        if session in self._sessions:
            self._sessions.remove(session)

    def _peer_list(self, session: Session, peers: list[Any]) -> None:
        """A peer in transitive mode named the nodes it is connected to."""
        if not self.follow_peer_lists or self._closed:
            return
        connected = {s.peer_name for s in self._sessions} | {self.name}
        for peer in peers:
            if peer.name in connected or not peer.listen_addr or peer.listen_addr in self._dialing:
                continue
            self._dialing.add(peer.listen_addr)
            log.info("%s: %s names %s at %s; dialling it", self.name, session.peer_name, peer.name, peer.listen_addr)
            threading.Thread(target=self._dial_listed, args=(peer.listen_addr,),
                             name=f"dial-{peer.listen_addr}", daemon=True).start()

    def _dial_listed(self, addr: str) -> None:
        try:
            self.connect(addr)
        except (SessionError, RuntimeError) as e:
            log.warning("%s: could not dial %s from a peer list: %s", self.name, addr, e)
        finally:
            with self._changed:
                self._dialing.discard(addr)

    # ------------------------------------------------------------ the peers' actors

    def remote_actors(self) -> list[RemoteActor]:
        """Every actor of every ready peer."""
        with self._changed:
            return [a for s in self._sessions if s.state == "ready" for a in s.actors.values()]

    def find_by_name(self, name: str, node: str | None = None) -> list[RemoteActor]:
        """The peers' actors registered as ``name`` (on node ``node`` only, if given)."""
        return [a for a in self.remote_actors() if a.name == name and (node is None or a.node == node)]

    def find_in_group(self, group: str, scope: str = DEFAULT_SCOPE) -> list[RemoteActor]:
        """The peers' actors in pg group ``group`` of ``scope``."""
        return [a for a in self.remote_actors() if (scope, group) in a.groups]

    def wait_for(self, check: Callable[[], T], timeout: float, what: str) -> T:
        """Waits until ``check()`` returns something true (checked after
        every change a peer reports) and returns it; TimeoutError after
        ``timeout`` seconds, naming ``what``."""
        with self._changed:
            result = self._changed.wait_for(check, timeout)
        if not result:
            raise TimeoutError(f"{self.name}: {what} did not happen within {timeout} s")
        return result

    # ------------------------------------------------------------ our actors

    def spawn(self, actor: Actor, groups: Iterable[str] = (), scope: str = DEFAULT_SCOPE) -> int:
        """Starts ``actor``, advertises it to every peer (now and in later
        syncs) and joins it to ``groups`` of ``scope``. Returns its pid."""
        with self._changed:
            if actor.pid is not None:
                raise ValueError(f"actor {actor.name} is already started (pid {actor.pid})")
            if any(a.name == actor.name for a in self._actors.values()):
                raise ValueError(f"an actor named {actor.name!r} already runs here")
            pid = self._next_pid
            self._next_pid += 1
            actor._start(pid)
            self._actors[pid] = actor
            self._broadcast(self.pb.Envelope(spawned=self.pb.ActorSpawned(actor=self._ref(actor, describe=True))))
            for group in groups:
                self._groups.setdefault((scope, group), []).append(pid)
                joined = self.pb.PgJoined(scope=scope, group=group, actors=[self._ref(actor)])
                self._broadcast(self.pb.Envelope(pg_joined=joined))
            return pid

    def stop(self, actor: Actor, timeout: float = CLOSE_GRACE) -> None:
        """Stops ``actor`` after what its mailbox holds: peers drop it (and
        its group memberships) at once."""
        with self._changed:
            if actor.pid is None or self._actors.get(actor.pid) is not actor:
                return
            pid = actor.pid
            del self._actors[pid]
            for key in list(self._groups):
                if pid in self._groups[key]:
                    self._groups[key].remove(pid)
                    if not self._groups[key]:
                        del self._groups[key]
            self._broadcast(self.pb.Envelope(terminated=self.pb.ActorTerminated(pid=pid)))
        actor._stop(timeout)

    def _ref(self, actor: Actor, describe: bool = False) -> Any:
        """The ActorRef that advertises ``actor``; with its message type's
        description (ActorRef.message) when ``describe``. The proto asks for
        it at least on the first ActorRef of each type in a snapshot and
        when a type is new; this node simply sets it on every ActorSpawned,
        which a receiver takes as the latest description of that type."""
        assert actor.pid is not None
        ref = self.pb.ActorRef(pid=actor.pid, name=actor.name, message_type=actor.message_type)
        if describe:
            ref.message.CopyFrom(self._description(actor))
        return ref

    def _description(self, actor: Actor) -> Any:
        """``actor``'s MessageDescription, as DescribeActor gives a Rust actor's."""
        pb = self.pb
        return pb.MessageDescription(type_name=actor.message_type, variants=[
            pb.VariantDescription(name=v.name, call=v.call, reply=v.reply,
                                  args=[pb.ArgumentDescription(name=a.name, type=a.type) for a in v.args])
            for v in actor.variants.values()
        ])

    def _snapshot(self) -> list[Any]:
        """Our sync: every actor, then every group (called with the lock held)."""
        pb = self.pb
        out = [pb.Envelope(spawned=pb.ActorSpawned(actor=self._ref(a, describe=True)))
               for a in self._actors.values()]
        for (scope, group), pids in self._groups.items():
            refs = [self._ref(self._actors[pid]) for pid in pids]
            out.append(pb.Envelope(pg_joined=pb.PgJoined(scope=scope, group=group, actors=refs)))
        return out

    def _broadcast(self, envelope: Any) -> None:
        """Sends an advert change to every authenticated session (those
        still in the handshake get it in their snapshot)."""
        for session in self._sessions:
            if session.state in ("syncing", "ready"):
                session._send(envelope)

    def _deliver(self, session: Session, pid: int, variant: str, args: bytes,
                 tag: int | None, timeout_ms: int) -> None:
        """A peer's Cast (``tag`` None) or Call for our actor ``pid``."""
        actor = self._actors.get(pid)
        if actor is None:
            if tag is None:
                log.warning("%s: dropping a cast %s for unknown actor %d", self.name, variant, pid)
            else:
                session._answer(tag, CallFailed("UNKNOWN_ACTOR", f"no actor {pid} on {self.name}"))
            return
        deadline = time.monotonic() + timeout_ms / 1000 if timeout_ms else None

        def answer(outcome: bytes | CallFailed) -> None:
            assert tag is not None
            session._answer(tag, outcome)

        actor._deliver(_Message(variant, args, tag is not None, answer if tag is not None else None, deadline))

    # ------------------------------------------------------------ the end

    def close(self, timeout: float = CLOSE_GRACE) -> None:
        """Says Goodbye to every peer, waits (bounded) for the streams to
        end, and stops this node's actors."""
        with self._changed:
            self._closed = True
            sessions = list(self._sessions)
            actors = list(self._actors.values())
        for session in sessions:
            session.close(timeout=timeout)
        for actor in actors:
            self.stop(actor, timeout)
