"""Rust processes for the tests: start, read what they print, stop.

Every wait is bounded; every process started through :func:`launch` is
stopped by the ``procs`` fixture when its test ends, also when it fails.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

REPO = Path(__file__).resolve().parents[3]
COOKIE = "py-node-test-cookie"
STARTUP_TIMEOUT = 30.0  # seconds until a process must print its address
STOP_TIMEOUT = 10.0  # seconds a process gets to exit after SIGTERM
WAIT = 15.0  # seconds any other condition may take
LISTENING = re.compile(r"listening on (127\.0\.0\.1:\d+)")


def binary(name: str) -> Path:
    """A binary of the integration crate: beside ``$RACTOR_GRPC_NODE_BIN``
    (scripts/test.sh sets it), else in ``<repo>/target/debug``."""
    configured = os.environ.get("RACTOR_GRPC_NODE_BIN")
    if configured:
        node = Path(configured)
        if not node.is_absolute():
            node = REPO / node  # relative to the repo root, as scripts/test.sh passes it
        path = node.with_name(name)
    else:
        path = REPO / "target" / "debug" / name
    if not path.exists():
        pytest.fail(f"{name} not found at {path}: build it with "
                    f"`cargo build -p integration --bin node --bin pg_call` or set RACTOR_GRPC_NODE_BIN")
    return path


@dataclass
class Proc:
    """A running process and every line it printed (stdout and stderr)."""

    name: str
    popen: subprocess.Popen[str]
    addr: str = ""
    lines: list[str] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)
    readers: list[threading.Thread] = field(default_factory=list)

    def output(self) -> str:
        with self.changed:
            return "".join(self.lines)

    def wait_for_line(self, pattern: str, timeout: float = WAIT) -> re.Match[str]:
        """The first line matching ``pattern`` (a regex), waiting at most
        ``timeout`` seconds; fails the test with the output otherwise."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for line in self.lines:
                    found = regex.search(line)
                    if found:
                        return found
                left = deadline - time.monotonic()
                if left <= 0 or (self.popen.poll() is not None and not any(r.is_alive() for r in self.readers)):
                    pytest.fail(f"{self.name} printed no line matching {pattern!r} within {timeout} s "
                                f"(exit code {self.popen.poll()}); output:\n{''.join(self.lines)}")
                self.changed.wait(min(left, 0.5))

    def wait_exit(self, timeout: float = WAIT) -> int:
        """The exit code, waiting at most ``timeout`` seconds."""
        try:
            code = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{self.name} did not exit within {timeout} s; output:\n{self.output()}")
        for reader in self.readers:
            reader.join(STOP_TIMEOUT)
        return code

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time."""
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=STOP_TIMEOUT)


def eventually(check: Callable[[], object], timeout: float, what: str, poll: float = 0.05) -> None:
    """Polls ``check`` (e.g. an RPC to a node) until it returns something
    true, at most ``timeout`` seconds; fails the test naming ``what``."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout} s")
        time.sleep(poll)


def _drain(proc: Proc, stream: object) -> None:
    """Reads a pipe to its end, so the process never blocks on a full pipe."""
    for line in stream:  # type: ignore[attr-defined]
        with proc.changed:
            proc.lines.append(line)
            proc.changed.notify_all()
    stream.close()  # type: ignore[attr-defined]
    with proc.changed:
        proc.changed.notify_all()


def launch(name: str, cmd: list[str], started: list[Proc]) -> Proc:
    """Runs ``cmd`` (which prints 'listening on 127.0.0.1:PORT' first),
    records it in ``started`` and waits for its address."""
    popen = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, bufsize=1, env={**os.environ, "RUST_BACKTRACE": "1"})
    proc = Proc(name, popen)
    started.append(proc)
    for stream in (popen.stdout, popen.stderr):
        reader = threading.Thread(target=_drain, args=(proc, stream), daemon=True)
        reader.start()
        proc.readers.append(reader)
    proc.addr = proc.wait_for_line(LISTENING.pattern, STARTUP_TIMEOUT).group(1)
    return proc
