"""Python actors that Rust nodes can cast to and call.

An :class:`Actor` is a name, a message type name and a set of variants, each
with its argument types (type expressions) and, for a call, its reply type.
It looks, from a Rust node, like any remote actor: the Rust code declares
the same enum (same variant names, same argument and reply types) with
``#[derive(RactorClusterMessage)]`` and calls it through a typed
``ActorRef``::

    greeter = Actor("greeter", "GreeterMsg")

    @greeter.on_cast("Note", ["string"])
    def note(text: str) -> None:
        notes.append(text)

    @greeter.on_call("Greet", [("name", "string"), ("times", "u32")], reply="string")
    def greet(name: str, times: int) -> str:
        return ", ".join([f"hello {name}"] * times)

Messages are handled one at a time, in arrival order, on the actor's own
thread (its mailbox), as in ractor.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from . import codec
from .errors import CallFailed

__all__ = ["Actor", "Argument", "Variant"]

log = logging.getLogger("ractor_grpc_py.actor")


@dataclass(frozen=True)
class Argument:
    """One argument: its field name (empty in a tuple variant) and type."""

    name: str
    type: str


@dataclass(frozen=True)
class Variant:
    """One message variant and the function that handles it."""

    name: str
    call: bool
    args: tuple[Argument, ...]
    reply: str  # a call's reply type expression; "" for a cast
    handler: Callable[..., Any]

    @property
    def arg_types(self) -> list[str]:
        return [a.type for a in self.args]


def _arguments(spec: Sequence[str | tuple[str, str]]) -> tuple[Argument, ...]:
    """``["u64", ("name", "string")]`` -> Arguments, each type parsed (so a
    typo fails here, not at the first message)."""
    args = []
    for item in spec:
        name, type_ = ("", item) if isinstance(item, str) else item
        codec.parse(type_)
        args.append(Argument(name, type_))
    return tuple(args)


@dataclass
class _Message:
    """What the mailbox holds: a cast (``answer`` None) or a call."""

    variant: str
    args: bytes
    is_call: bool
    # For a call: takes the reply bytes or a CallFailed, exactly once.
    answer: Callable[[bytes | CallFailed], None] | None = None
    deadline: float | None = None  # time.monotonic() after which the caller gave up


@dataclass
class Actor:
    """A Python actor. Register variants with :meth:`on_cast` and
    :meth:`on_call`, then start it with ``Node.spawn``."""

    name: str
    message_type: str
    variants: dict[str, Variant] = field(default_factory=dict)
    #: Its local id, given by ``Node.spawn``.
    pid: int | None = None
    _mailbox: "queue.Queue[_Message | None]" = field(default_factory=queue.Queue, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    # ------------------------------------------------------------ declaring

    def on_cast(self, variant: str,
                args: Sequence[str | tuple[str, str]] = ()) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Registers the decorated function as the handler of a cast variant."""
        def register(handler: Callable[..., Any]) -> Callable[..., Any]:
            self._add(Variant(variant, False, _arguments(args), "", handler))
            return handler
        return register

    def on_call(self, variant: str, args: Sequence[str | tuple[str, str]] = (),
                reply: str = "unit") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Registers the decorated function as the handler of a call variant;
        its return value is the reply, encoded as ``reply``."""
        def register(handler: Callable[..., Any]) -> Callable[..., Any]:
            codec.parse(reply)
            self._add(Variant(variant, True, _arguments(args), reply, handler))
            return handler
        return register

    def _add(self, variant: Variant) -> None:
        if variant.name in self.variants:
            raise ValueError(f"{self.message_type} already has a variant {variant.name!r}")
        self.variants[variant.name] = variant

    # ------------------------------------------------------------ handling

    def handle(self, variant: str, args: bytes, is_call: bool) -> bytes:
        """Handles one message now, on the calling thread: decodes ``args``
        by the variant's types, runs the handler and encodes its reply.

        Returns the reply bytes (empty for a cast). Raises :class:`CallFailed`
        with the code the proto gives: ``UNDECODABLE`` for an unknown
        variant, a cast variant called (or a call variant cast) and
        arguments that do not decode; ``DROPPED`` when the handler raises or
        returns something that does not fit the reply type (no reply is
        sent, as when a Rust actor drops its reply port).
        """
        found = self.variants.get(variant)
        if found is None:
            raise CallFailed("UNDECODABLE", f"{self.message_type} has no variant {variant!r}")
        if found.call != is_call:
            kind, sent = ("call", "cast") if found.call else ("cast", "call")
            raise CallFailed("UNDECODABLE", f"{self.message_type}::{variant} is a {kind} variant, sent as a {sent}")
        try:
            values = codec.decode_args(found.arg_types, args)
        except codec.DecodeError as e:
            raise CallFailed("UNDECODABLE", f"{self.message_type}::{variant}: {e}") from e
        try:
            result = found.handler(*values)
        except Exception as e:  # a handler's bug must not kill the actor
            log.warning("%s: handler of %s raised %s: %s", self.name, variant, type(e).__name__, e,
                        exc_info=log.isEnabledFor(logging.DEBUG))
            raise CallFailed("DROPPED", f"{self.name}'s handler of {variant} raised {type(e).__name__}: {e}") from e
        if not found.call:
            return b""
        try:
            return codec.encode(found.reply, result)
        except codec.EncodeError as e:
            raise CallFailed("DROPPED", f"{self.name}'s reply to {variant} does not fit {found.reply}: {e}") from e

    def _run(self) -> None:
        """The mailbox loop: one message at a time, until ``None``."""
        while True:
            message = self._mailbox.get()
            if message is None:
                return
            if message.deadline is not None and time.monotonic() > message.deadline:
                if message.answer is not None:
                    message.answer(CallFailed("TIMEOUT", "the caller's timeout passed before the actor got to it"))
                continue
            try:
                reply = self.handle(message.variant, message.args, message.is_call)
            except CallFailed as failure:
                if message.answer is None:
                    log.warning("%s: dropping cast %s: %s", self.name, message.variant, failure.detail)
                else:
                    message.answer(failure)
                continue
            if message.answer is not None:
                if message.deadline is not None and time.monotonic() > message.deadline:
                    message.answer(CallFailed("TIMEOUT", "the caller's timeout passed while the actor handled it"))
                else:
                    message.answer(reply)

    def _start(self, pid: int) -> None:
        self.pid = pid
        self._thread = threading.Thread(target=self._run, name=f"actor-{self.name}", daemon=True)
        self._thread.start()

    def _stop(self, timeout: float) -> None:
        """Ends the mailbox loop after what is queued."""
        self._mailbox.put(None)
        if self._thread is not None:
            self._thread.join(timeout)

    def _deliver(self, message: _Message) -> None:
        self._mailbox.put(message)
