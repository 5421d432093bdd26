#!/usr/bin/env python3
"""The Python reference node, step by step, against running Rust nodes.

    demo.py --node 127.0.0.1:4000 --cookie demo-cookie [--caller 127.0.0.1:4001]

``--node`` is a Rust ``node --demo-actors`` (actors ``pong`` and ``kv``);
``--caller``, if given, is the Rust program ``pg_call``, which finds the
Python actor ``greeter`` in pg and calls it. Last, the demo reaches the
actors with unary Cast and Call (a token, no session). ``run.sh demo`` starts
both Rust processes and runs this. Every step prints what it does in plain
words.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from greeter import GREETER_GROUP, make_greeter  # noqa: E402
from ractor_grpc_py import (  # noqa: E402
    CallFailed,
    Node,
    SessionRefused,
    UnaryClient,
    UnaryError,
    by_group,
    by_name,
    by_pid,
    codec,
)

NAME = "py-node"


def say(text: str) -> None:
    print(f"[{NAME}] {text}", flush=True)


def talk_to_demo_actors(node: Node, addr: str) -> str:
    """Part 1: a Rust node's actors, found by group and by name. Returns
    the node's name."""
    say(f"Connecting to the Rust node at {addr} ...")
    session = node.connect(addr, timeout=10)
    say(f"Handshake done: {session.peer_name} and {NAME} proved they know the cookie "
        f"(protocol version {session.version}); its actors and groups arrived before Ready.")
    say(f"{session.peer_name} advertises {len(session.actors)} actors:")
    for actor in sorted(session.actors.values(), key=lambda a: a.pid):
        groups = ", ".join(group for _, group in sorted(actor.groups)) or "no group"
        say(f"    pid {actor.pid}: {actor.name} ({actor.message_type}), in pg group {groups}")

    pong = node.find_in_group("pong")[0]
    say(f'Found {pong.name} in pg group "pong" on {pong.node}. PongMsg is Ping(string,u64) (a cast), '
        "Pong(u64) -> u64 and History() -> list<string> (calls).")
    for n in (1, 2):
        pong.cast("Ping", NAME, n, types=["string", "u64"])
        say(f'cast Ping("{NAME}", {n})')
    say(f"call Pong(41) -> {pong.call('Pong', 41, types=['u64'], reply='u64')}")
    say(f"call History() -> {pong.call('History', types=[], reply='list<string>')}")

    kv = node.find_by_name("kv")[0]
    say(f"Found {kv.name} by name on {kv.node}. KvMsg is Put(string,string) (a cast), "
        "Get(string) -> option<string> and Dump() -> map<string,string>.")
    kv.cast("Put", "language", "python", types=["string", "string"])
    say('cast Put("language", "python")')
    say(f'call Get("language") -> {kv.call("Get", "language", types=["string"], reply="option<string>")!r}')
    say(f'call Get("missing") -> {kv.call("Get", "missing", types=["string"], reply="option<string>")!r}')
    say(f"call Dump() -> {kv.call('Dump', types=[], reply='map<string,string>')}")
    try:
        kv.call("Get", 42, types=["u64"], reply="option<string>")
    except CallFailed as refused:
        say(f"call Get(42), a u64 where KvMsg wants a string -> refused by {kv.node}: "
            f"{refused.code}: {refused.detail}")
    return session.peer_name


def host_greeter(node: Node, addr: str) -> None:
    """Part 2: Rust code calls a Python actor through a typed ActorRef."""
    greeter, notes = make_greeter(on_message=lambda line: say(f"    {line}"))
    pid = node.spawn(greeter, groups=[GREETER_GROUP])
    say(f'Hosting the Python actor greeter (GreeterMsg, pid {pid}) in pg group "{GREETER_GROUP}".')
    say(f"Connecting to the Rust program pg_call at {addr}; it finds greeter with "
        "ractor::pg::get_members and calls it through an ActorRef<GreeterMsg>:")
    session = node.connect(addr, timeout=10)
    node.wait_for(lambda: session.state == "closed", 30, "pg_call finishing")
    assert session.ended is not None
    say(f"{session.peer_name} is done and said goodbye ({session.ended.code.name}, cause "
        f"{session.ended.cause or 'none'}); greeter's notes: {notes}")


def unary(addr: str, node_name: str, cookie: str) -> None:
    """Part 3: unary Cast and Call, for programs that are not nodes."""
    say(f"Unary Cast and Call on {node_name} need no session: a bearer token minted from the cookie "
        f"(rgt1.<name>.<scope>.<expiry>.<mac>, scope all) is enough.")
    with UnaryClient(addr, cookie=cookie, node_name=node_name) as client:
        reply = client.call(by_name("pong"), "Pong", args_json=[99])
        say(f"Call pong by name, Pong with args_json [99] -> result_json {reply.result_json} "
            f"(and the bytes {reply.result.hex()})")
        delivered = client.cast(by_group("kv"), "Put", args_json=["via", "unary"])
        say(f'Cast to pg group "kv", Put with args_json ["via", "unary"] -> delivered to {delivered}')
        pid = delivered[0][1]
        reply = client.call(by_pid(pid), "Get", codec.encode("string", "via"))
        say(f'Call kv by pid {pid}, Get with payload bytes {codec.encode("string", "via").hex()} '
            f"-> {codec.decode('option<string>', reply.result)!r}")
        try:
            client.call(by_name("pong"), "Pong", args_json=["ten"])
        except UnaryError as refused:
            say(f'Call Pong with args_json ["ten"] -> {refused.code.name}: {refused.detail}')
    try:
        UnaryClient(addr).call(by_name("pong"), "Pong", args_json=[1])
    except UnaryError as refused:
        say(f"The same call without a token -> {refused.code.name}: {refused.detail}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--node", required=True, help="a Rust `node --demo-actors`, HOST:PORT")
    parser.add_argument("--caller", help="the Rust program `pg_call`, HOST:PORT")
    parser.add_argument("--cookie", required=True, help="the cluster cookie")
    args = parser.parse_args()
    # The package logs what goes wrong (a handler that raises, a session
    # refused) as warnings: show them in the same plain form.
    logging.basicConfig(level=logging.WARNING, format=f"[{NAME}] %(levelname)s %(name)s: %(message)s")

    with Node(NAME, args.cookie) as node:
        try:
            node_name = talk_to_demo_actors(node, args.node)
            if args.caller:
                host_greeter(node, args.caller)
            unary(args.node, node_name, args.cookie)
        except SessionRefused as refused:
            say(f"The Rust node refused the session: {refused}")
            return 1
        say("Closing: Goodbye to every Rust node still connected.")
    say("Done.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
