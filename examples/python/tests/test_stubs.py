"""The stubs helper regenerates what is missing or stale, and nothing else."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from ractor_grpc_py import stubs


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The helper pointed at a copy of the proto and an empty output dir."""
    root = tmp_path / "proto"
    (root / "ractor_grpc" / "v1").mkdir(parents=True)
    shutil.copy(stubs.PROTO, root / "ractor_grpc" / "v1" / "cluster.proto")
    monkeypatch.setattr(stubs, "PROTO_ROOT", root)
    monkeypatch.setattr(stubs, "PROTO", root / "ractor_grpc" / "v1" / "cluster.proto")
    monkeypatch.setattr(stubs, "GENERATED", tmp_path / "out" / "_generated")
    return tmp_path


def test_missing_or_stale_stubs_are_regenerated(scratch: Path) -> None:
    assert not stubs._up_to_date()  # missing
    stubs.generate()
    assert stubs._up_to_date()
    made = stubs.GENERATED / "ractor_grpc" / "v1" / "cluster_pb2.py"
    assert "DO NOT EDIT" in made.read_text()

    # Stubs older than the proto (it was edited after them): stale.
    earlier = stubs.PROTO.stat().st_mtime - 10
    os.utime(made, (earlier, earlier))
    assert not stubs._up_to_date()
    stubs.generate()
    assert stubs._up_to_date()

    # Other proto text, however old: stale too.
    with stubs.PROTO.open("a", encoding="utf-8") as proto:
        proto.write("\n// a comment\n")
    os.utime(stubs.PROTO, (earlier, earlier))
    assert not stubs._up_to_date()
    stubs.generate()
    assert stubs._up_to_date()


def test_the_real_stubs_are_current_and_ignored_by_git() -> None:
    assert stubs._up_to_date()
    ignore = (Path(stubs.__file__).parents[1] / ".gitignore").read_text()
    assert "ractor_grpc_py/_generated/" in ignore.splitlines()
