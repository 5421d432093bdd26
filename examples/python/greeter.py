"""The Python actor ``greeter``: a Python implementation of the Rust enum
``integration::greeter::GreeterMsg`` (integration/src/greeter.rs)::

    pub enum GreeterMsg {
        Note(String),
        #[rpc] Greet(String, u32, RpcReplyPort<String>),
        #[rpc] Sum(Vec<i64>, RpcReplyPort<i64>),
        #[rpc] Lookup { table: BTreeMap<String, u64>, key: String, reply: RpcReplyPort<Option<u64>> },
        #[rpc] Notes(RpcReplyPort<Vec<String>>),
    }

Each variant is declared with the same name and the type expressions of
its arguments and reply (``String`` is ``string``, ``Vec<i64>`` is
``list<i64>``, ``BTreeMap<String, u64>`` is ``map<string,u64>``, ...), so
the bytes Rust sends decode here and the replies decode there.
"""

from __future__ import annotations

from typing import Callable

from ractor_grpc_py import Actor

#: The pg group (default scope) the greeter joins; Rust finds it there.
GREETER_GROUP = "greeters"


def make_greeter(on_message: Callable[[str], None] = lambda line: None) -> tuple[Actor, list[str]]:
    """The greeter actor and the list of notes it keeps; ``on_message`` is
    told about each message in words (the demo prints them)."""
    greeter = Actor(name="greeter", message_type="GreeterMsg")
    notes: list[str] = []

    @greeter.on_cast("Note", ["string"])
    def note(text: str) -> None:
        on_message(f"greeter got Note({text!r})")
        notes.append(text)

    @greeter.on_call("Greet", ["string", "u32"], reply="string")
    def greet(name: str, times: int) -> str:
        if not name:
            on_message(f"greeter got Greet({name!r}, {times}); raising ValueError (no name)")
            raise ValueError("Greet needs a name")
        answer = ", ".join([f"hello {name}"] * times)
        on_message(f"greeter got Greet({name!r}, {times}); replying {answer!r}")
        return answer

    @greeter.on_call("Sum", ["list<i64>"], reply="i64")
    def sum_(numbers: list[int]) -> int:
        on_message(f"greeter got Sum({numbers}); replying {sum(numbers)}")
        return sum(numbers)

    @greeter.on_call("Lookup", [("table", "map<string,u64>"), ("key", "string")], reply="option<u64>")
    def lookup(table: dict[str, int], key: str) -> int | None:
        on_message(f"greeter got Lookup({table}, {key!r}); replying {table.get(key)}")
        return table.get(key)

    @greeter.on_call("Notes", [], reply="list<string>")
    def notes_() -> list[str]:
        on_message(f"greeter got Notes(); replying {notes}")
        return list(notes)

    return greeter, notes
