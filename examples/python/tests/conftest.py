"""Fixtures of the Python reference node's tests.

Makes ``ractor_grpc_py`` importable, generates its stubs from the
repository's proto (in the test run: they are never committed), and hands
tests Rust processes and Python nodes that are stopped when the test ends,
also when it fails.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Iterator

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import procs  # noqa: E402
from ractor_grpc_py import Node, stubs  # noqa: E402

# A missing or stale copy of the stubs is regenerated before any test runs.
stubs.load()


class Processes:
    """Starts Rust processes for one test."""

    def __init__(self) -> None:
        self.started: list[procs.Proc] = []

    def node(self, name: str, *extra: str) -> procs.Proc:
        """``node --name NAME --demo-actors`` on 127.0.0.1, with the test cookie."""
        cmd = [str(procs.binary("node")), "--name", name, "--cookie", procs.COOKIE,
               "--listen", "127.0.0.1:0", "--demo-actors", *extra]
        return procs.launch(name, cmd, self.started)

    def pg_call(self, name: str, *extra: str) -> procs.Proc:
        """The Rust program that finds the Python greeter in pg and calls it."""
        cmd = [str(procs.binary("pg_call")), "--name", name, "--cookie", procs.COOKIE,
               "--listen", "127.0.0.1:0", *extra]
        return procs.launch(name, cmd, self.started)

    def stop_all(self) -> None:
        for proc in reversed(self.started):
            proc.stop()


@pytest.fixture
def rust() -> Iterator[Processes]:
    """Rust processes, all stopped at the end of the test."""
    processes = Processes()
    try:
        yield processes
    finally:
        processes.stop_all()


@pytest.fixture
def py_node() -> Iterator[Callable[..., Node]]:
    """A factory of Python nodes, all closed at the end of the test."""
    made: list[Node] = []

    def factory(name: str = "py-node", cookie: str = procs.COOKIE, **options: object) -> Node:
        node = Node(name, cookie, **options)  # type: ignore[arg-type]
        made.append(node)
        return node

    try:
        yield factory
    finally:
        for node in made:
            node.close(timeout=procs.STOP_TIMEOUT)
