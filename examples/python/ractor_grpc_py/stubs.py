"""The gRPC stubs of ``proto/ractor_grpc/v1/cluster.proto``, generated on demand.

The stubs are never committed and never edited by hand: :func:`load`
runs grpcio-tools' ``protoc`` on the repository's proto into
``examples/python/ractor_grpc_py/_generated/`` (git-ignored) when the
generated files are missing, older than the proto, or were made from other
proto text, then imports them.

``protoc`` writes ``ractor_grpc/v1/cluster_pb2.py`` and a
``cluster_pb2_grpc.py`` that imports it as ``ractor_grpc.v1.cluster_pb2``,
so the output directory goes on ``sys.path``; nothing else of this package
lives under that name.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import shutil
import sys
import tempfile
from pathlib import Path
from types import ModuleType

__all__ = ["GENERATED", "PROTO", "PROTO_ROOT", "generate", "load"]

#: The directory with ``ractor_grpc/v1/cluster.proto`` (the repository's ``proto/``).
PROTO_ROOT = Path(os.environ.get("RACTOR_GRPC_PROTO_ROOT", Path(__file__).resolve().parents[3] / "proto"))
#: The proto file itself.
PROTO = PROTO_ROOT / "ractor_grpc" / "v1" / "cluster.proto"
#: Where the stubs are written (git-ignored).
GENERATED = Path(__file__).resolve().parent / "_generated"

_FILES = ("cluster_pb2.py", "cluster_pb2_grpc.py", "cluster_pb2.pyi")
_STAMP = "proto.sha256"


def _proto_digest() -> str:
    return hashlib.sha256(PROTO.read_bytes()).hexdigest()


def _up_to_date() -> bool:
    """Whether every stub exists, is newer than the proto and was made from
    this very proto text."""
    out = GENERATED / "ractor_grpc" / "v1"
    stamp = GENERATED / _STAMP
    if not stamp.exists() or not all((out / f).exists() for f in _FILES):
        return False
    proto_mtime = PROTO.stat().st_mtime
    if any((out / f).stat().st_mtime < proto_mtime for f in _FILES):
        return False
    return stamp.read_text(encoding="ascii").strip() == _proto_digest()


def generate() -> None:
    """Runs grpcio-tools' protoc on the proto into :data:`GENERATED`.

    It writes into a temporary directory first and moves the result in, so
    a reader never sees half-written stubs.
    """
    from grpc_tools import protoc  # grpcio-tools: only needed to generate

    if not PROTO.exists():
        raise FileNotFoundError(f"the proto is not at {PROTO} (set RACTOR_GRPC_PROTO_ROOT)")
    GENERATED.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=GENERATED.parent, prefix="._generated-") as tmp:
        include = Path(protoc.__file__).resolve().parent / "_proto"  # well-known types
        args = [
            "grpc_tools.protoc",
            f"-I{PROTO_ROOT}",
            f"-I{include}",
            f"--python_out={tmp}",
            f"--pyi_out={tmp}",
            f"--grpc_python_out={tmp}",
            str(PROTO.relative_to(PROTO_ROOT)),
        ]
        if protoc.main(args) != 0:
            raise RuntimeError(f"protoc failed on {PROTO} (see its messages above)")
        (Path(tmp) / _STAMP).write_text(_proto_digest() + "\n", encoding="ascii")
        staged = Path(tmp) / "staged"
        staged.mkdir()
        shutil.move(str(Path(tmp) / "ractor_grpc"), staged / "ractor_grpc")
        shutil.move(str(Path(tmp) / _STAMP), staged / _STAMP)
        old = Path(tmp) / "old"
        try:
            if GENERATED.exists():
                GENERATED.rename(old)  # removed with the temporary directory
            staged.rename(GENERATED)
        except OSError:
            # Another process generated them at the same moment: fine if its
            # stubs are current.
            if not _up_to_date():
                raise


def load() -> tuple[ModuleType, ModuleType]:
    """``(cluster_pb2, cluster_pb2_grpc)``, generated first if needed."""
    if not _up_to_date():
        generate()
    path = str(GENERATED)
    if path not in sys.path:
        sys.path.insert(0, path)
    pb2 = importlib.import_module("ractor_grpc.v1.cluster_pb2")
    pb2_grpc = importlib.import_module("ractor_grpc.v1.cluster_pb2_grpc")
    return pb2, pb2_grpc
