#!/usr/bin/env python3
"""rgcheck: a small grpcurl stand-in for inspecting a ractor_grpc node.

Everything it knows about the node's API comes from gRPC server reflection
(``grpc.reflection.v1.ServerReflection``, falling back to ``v1alpha``): no
generated stubs and no ``.proto`` files for ``ractor_grpc`` are used, so what it
shows is what a grpcurl user would see.

Usage::

    rgcheck.py 127.0.0.1:4000 list
    rgcheck.py 127.0.0.1:4000 describe ractor_grpc.v1.ClusterNode
    rgcheck.py 127.0.0.1:4000 health [SERVICE]
    rgcheck.py --token "$TOKEN" 127.0.0.1:4000 call ractor_grpc.v1.ClusterNode/GetNodeInfo '{}'

A ractor_grpc node answers its unary RPCs only with a bearer token
(``node token --cookie ... --name NODE`` mints one): pass it with ``--token``,
in ``$RACTOR_GRPC_TOKEN``, or as ``-H 'authorization: Bearer ...'``.
Reflection and health need none.

Exit codes: 0 success, 1 an error (printed to stderr), 2 bad usage,
3 ``health`` answered but the service is not SERVING.

The functions ``list_services``, ``describe``, ``describe_method``, ``health``
and ``call_unary`` are importable, so tests reuse exactly what the CLI does.

The reflection protocol's ``v1`` and ``v1alpha`` messages are identical on the
wire (only the package name differs), so the ``v1alpha`` message classes
shipped with grpcio-reflection are used for both, over generic calls.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2

__all__ = [
    "DEFAULT_TIMEOUT",
    "MethodInfo",
    "ReflectionClient",
    "ReflectionError",
    "call_unary",
    "call_unary_message",
    "describe",
    "describe_method",
    "health",
    "list_services",
    "main",
]

#: Seconds allowed for each RPC unless the caller says otherwise.
DEFAULT_TIMEOUT = 10.0

#: The environment variable ``--token`` defaults to.
TOKEN_ENV = "RACTOR_GRPC_TOKEN"

_REFLECTION_METHODS = (
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
)

Metadata = Sequence[tuple[str, str]]

_STATUS_BY_NUMBER = {status.value[0]: status for status in grpc.StatusCode}


class ReflectionError(Exception):
    """Reflection could not answer (unknown symbol, no reflection service, ...)."""

    def __init__(self, message: str, code: grpc.StatusCode | None = None) -> None:
        super().__init__(message)
        #: The gRPC status behind the error, if there was one.
        self.code = code


@dataclass(frozen=True)
class MethodInfo:
    """One RPC method as reflection describes it."""

    service: str
    name: str
    input_type: str  # fully qualified, with a leading dot, like grpcurl shows
    output_type: str
    client_streaming: bool
    server_streaming: bool

    @property
    def full_name(self) -> str:
        return f"{self.service}.{self.name}"

    @property
    def path(self) -> str:
        """The HTTP/2 path of the method, e.g. ``/pkg.Service/Method``."""
        return f"/{self.service}/{self.name}"

    @property
    def is_unary(self) -> bool:
        return not (self.client_streaming or self.server_streaming)

    def signature(self) -> str:
        """The method in grpcurl's ``describe`` notation."""
        cs = "stream " if self.client_streaming else ""
        ss = "stream " if self.server_streaming else ""
        return (
            f"rpc {self.name} ( {cs}{self.input_type} ) "
            f"returns ( {ss}{self.output_type} );"
        )


# --------------------------------------------------------------------------
# Reflection client
# --------------------------------------------------------------------------


class ReflectionClient:
    """Asks a server's reflection service, one request per stream.

    tonic-reflection ends the whole stream with NOT_FOUND for an unknown
    symbol, so every request gets its own short stream: a failed lookup never
    spoils the ones after it.
    """

    def __init__(
        self,
        channel: grpc.Channel,
        timeout: float = DEFAULT_TIMEOUT,
        metadata: Metadata = (),
    ) -> None:
        self._channel = channel
        self._timeout = timeout
        self._metadata = tuple(metadata)
        self._method_index = 0  # into _REFLECTION_METHODS; 1 once v1 is known missing
        self._files: dict[str, descriptor_pb2.FileDescriptorProto] = {}

    @property
    def version(self) -> str:
        """``v1`` or ``v1alpha``: the reflection version in use so far."""
        return "v1" if self._method_index == 0 else "v1alpha"

    def _request(
        self, request: reflection_pb2.ServerReflectionRequest
    ) -> reflection_pb2.ServerReflectionResponse:
        while True:
            response, code, details = self._one_stream(request)
            if code == grpc.StatusCode.UNIMPLEMENTED and self._method_index == 0:
                self._method_index = 1  # no v1 here: fall back to v1alpha
                continue
            if code == grpc.StatusCode.UNIMPLEMENTED:
                raise ReflectionError("server does not support the reflection API", code)
            if code is not None:
                raise ReflectionError(f"{code.name}: {details}", code)
            if response is None:
                raise ReflectionError("reflection stream ended without an answer")
            if response.HasField("error_response"):
                e = response.error_response
                status = _STATUS_BY_NUMBER.get(e.error_code)
                name = status.name if status else f"code {e.error_code}"
                raise ReflectionError(f"{name}: {e.error_message}", status)
            return response

    def _one_stream(
        self, request: reflection_pb2.ServerReflectionRequest
    ) -> tuple[reflection_pb2.ServerReflectionResponse | None, grpc.StatusCode | None, str]:
        """Sends one request on a new stream; returns (response, error code, details).

        Care is taken that the call object ends up in no reference cycle
        (e.g. through an exception's traceback): grpcio cancels a streaming
        call in ``__del__``, and running that from the cyclic garbage
        collector at an arbitrary moment can deadlock the process.
        """
        rpc = self._channel.stream_stream(
            _REFLECTION_METHODS[self._method_index],
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
        )
        call = rpc(iter([request]), timeout=self._timeout, metadata=self._metadata)
        response = None
        code: grpc.StatusCode | None = None
        details = ""
        try:
            response = next(call, None)
        except grpc.RpcError as err:
            code, details = err.code(), err.details() or ""
            err.__traceback__ = None
        call.cancel()
        del call
        return response, code, details

    def list_services(self) -> list[str]:
        """Every service name the server lists, sorted."""
        req = reflection_pb2.ServerReflectionRequest(list_services="")
        resp = self._request(req)
        return sorted(s.name for s in resp.list_services_response.service)

    def _store(self, response: reflection_pb2.ServerReflectionResponse) -> list[str]:
        names = []
        for raw in response.file_descriptor_response.file_descriptor_proto:
            fdp = descriptor_pb2.FileDescriptorProto.FromString(raw)
            self._files.setdefault(fdp.name, fdp)
            names.append(fdp.name)
        if not names:
            raise ReflectionError("reflection answered with no file descriptors")
        return names

    def file_containing_symbol(self, symbol: str) -> str:
        """Fetches the file defining ``symbol``; returns that file's name."""
        symbol = symbol.lstrip(".")
        req = reflection_pb2.ServerReflectionRequest(file_containing_symbol=symbol)
        return self._store(self._request(req))[0]

    def file_by_filename(self, filename: str) -> str:
        if filename not in self._files:
            req = reflection_pb2.ServerReflectionRequest(file_by_filename=filename)
            self._store(self._request(req))
        return filename

    def resolve(self, symbol: str) -> list[descriptor_pb2.FileDescriptorProto]:
        """The file defining ``symbol`` and all files it depends on.

        Dependencies the server did not send are fetched one file per request.
        A method or field name is resolved through its parent if the server
        does not index it. Files come back in dependency order.
        """
        symbol = symbol.lstrip(".")
        try:
            root = self.file_containing_symbol(symbol)
        except ReflectionError as err:
            if err.code != grpc.StatusCode.NOT_FOUND:
                raise
            if "." not in symbol:
                raise ReflectionError(f"symbol not found: {symbol}", err.code) from None
            try:
                root = self.file_containing_symbol(symbol.rsplit(".", 1)[0])
            except ReflectionError as parent_err:
                if parent_err.code != grpc.StatusCode.NOT_FOUND:
                    raise
                raise ReflectionError(f"symbol not found: {symbol}", err.code) from None
        return self._closure(root)

    def _closure(self, root: str) -> list[descriptor_pb2.FileDescriptorProto]:
        ordered: list[descriptor_pb2.FileDescriptorProto] = []
        done: set[str] = set()
        visiting: set[str] = set()

        def visit(name: str) -> None:
            if name in done:
                return
            if name in visiting:
                raise ReflectionError(f"import cycle through {name}")
            visiting.add(name)
            fdp = self._files.get(name)
            if fdp is None:
                fdp = self._fetch_dependency(name)
            for dep in fdp.dependency:
                visit(dep)
            visiting.discard(name)
            done.add(name)
            ordered.append(fdp)

        visit(root)
        return ordered

    def _fetch_dependency(self, name: str) -> descriptor_pb2.FileDescriptorProto:
        try:
            self.file_by_filename(name)
        except ReflectionError as err:
            # Well-known types (google/protobuf/*.proto) ship with protobuf.
            try:
                fd = descriptor_pool.Default().FindFileByName(name)
            except KeyError:
                raise ReflectionError(f"cannot resolve import {name!r}: {err}") from err
            fdp = descriptor_pb2.FileDescriptorProto()
            fd.CopyToProto(fdp)
            self._files[name] = fdp
        return self._files[name]

    def pool_for(self, symbol: str) -> descriptor_pool.DescriptorPool:
        """A fresh descriptor pool holding ``symbol`` and its dependencies."""
        pool = descriptor_pool.DescriptorPool()
        for fdp in self.resolve(symbol):
            pool.AddSerializedFile(fdp.SerializeToString())
        return pool


# --------------------------------------------------------------------------
# Looking things up in descriptor protos
# --------------------------------------------------------------------------


def _walk(
    files: Iterable[descriptor_pb2.FileDescriptorProto],
) -> Iterable[tuple[str, str, Any]]:
    """Yields (kind, full_name, proto) for every named thing in ``files``."""

    def messages(prefix: str, msgs: Iterable[descriptor_pb2.DescriptorProto]):
        for m in msgs:
            full = f"{prefix}{m.name}"
            yield "message", full, m
            for e in m.enum_type:
                yield "enum", f"{full}.{e.name}", e
            yield from messages(f"{full}.", m.nested_type)

    for f in files:
        prefix = f"{f.package}." if f.package else ""
        for s in f.service:
            yield "service", f"{prefix}{s.name}", s
            for m in s.method:
                yield "method", f"{prefix}{s.name}.{m.name}", m
        for e in f.enum_type:
            yield "enum", f"{prefix}{e.name}", e
        yield from messages(prefix, f.message_type)


def _lookup(
    files: Iterable[descriptor_pb2.FileDescriptorProto], symbol: str
) -> tuple[str, Any]:
    symbol = symbol.lstrip(".")
    for kind, full, proto in _walk(files):
        if full == symbol:
            return kind, proto
    raise ReflectionError(f"symbol not found: {symbol}", grpc.StatusCode.NOT_FOUND)


def _method_info(service: str, m: descriptor_pb2.MethodDescriptorProto) -> MethodInfo:
    return MethodInfo(
        service=service,
        name=m.name,
        input_type=m.input_type,
        output_type=m.output_type,
        client_streaming=m.client_streaming,
        server_streaming=m.server_streaming,
    )


_SCALARS = {
    descriptor_pb2.FieldDescriptorProto.TYPE_DOUBLE: "double",
    descriptor_pb2.FieldDescriptorProto.TYPE_FLOAT: "float",
    descriptor_pb2.FieldDescriptorProto.TYPE_INT64: "int64",
    descriptor_pb2.FieldDescriptorProto.TYPE_UINT64: "uint64",
    descriptor_pb2.FieldDescriptorProto.TYPE_INT32: "int32",
    descriptor_pb2.FieldDescriptorProto.TYPE_FIXED64: "fixed64",
    descriptor_pb2.FieldDescriptorProto.TYPE_FIXED32: "fixed32",
    descriptor_pb2.FieldDescriptorProto.TYPE_BOOL: "bool",
    descriptor_pb2.FieldDescriptorProto.TYPE_STRING: "string",
    descriptor_pb2.FieldDescriptorProto.TYPE_BYTES: "bytes",
    descriptor_pb2.FieldDescriptorProto.TYPE_UINT32: "uint32",
    descriptor_pb2.FieldDescriptorProto.TYPE_SFIXED32: "sfixed32",
    descriptor_pb2.FieldDescriptorProto.TYPE_SFIXED64: "sfixed64",
    descriptor_pb2.FieldDescriptorProto.TYPE_SINT32: "sint32",
    descriptor_pb2.FieldDescriptorProto.TYPE_SINT64: "sint64",
}


def _field_type(f: descriptor_pb2.FieldDescriptorProto) -> str:
    return _SCALARS.get(f.type, f.type_name)


def _render_message(m: descriptor_pb2.DescriptorProto, indent: str = "") -> list[str]:
    lines = [f"{indent}message {m.name} {{"]
    inner = indent + "  "
    maps = {n.name: n for n in m.nested_type if n.options.map_entry}

    def field_line(f: descriptor_pb2.FieldDescriptorProto, pad: str) -> str:
        label = ""
        type_name = _field_type(f)
        entry_name = f.type_name.rsplit(".", 1)[-1]
        if f.label == f.LABEL_REPEATED and entry_name in maps and f.type_name:
            k, v = maps[entry_name].field[0], maps[entry_name].field[1]
            type_name = f"map<{_field_type(k)}, {_field_type(v)}>"
        elif f.label == f.LABEL_REPEATED:
            label = "repeated "
        elif f.proto3_optional or f.label == f.LABEL_REQUIRED:
            label = "optional " if f.proto3_optional else "required "
        return f"{pad}{label}{type_name} {f.name} = {f.number};"

    real_oneofs: dict[int, list[descriptor_pb2.FieldDescriptorProto]] = {}
    emitted: set[int] = set()
    for f in m.field:
        if f.HasField("oneof_index") and not f.proto3_optional:
            real_oneofs.setdefault(f.oneof_index, []).append(f)
    for f in m.field:
        if f.HasField("oneof_index") and not f.proto3_optional:
            if f.oneof_index in emitted:
                continue
            emitted.add(f.oneof_index)
            lines.append(f"{inner}oneof {m.oneof_decl[f.oneof_index].name} {{")
            lines += [field_line(of, inner + "  ") for of in real_oneofs[f.oneof_index]]
            lines.append(f"{inner}}}")
        else:
            lines.append(field_line(f, inner))
    for r in m.reserved_range:
        end = r.end - 1  # stored exclusive
        lines.append(f"{inner}reserved {r.start}" + (f" to {end};" if end != r.start else ";"))
    if m.reserved_name:
        lines.append(f"{inner}reserved " + ", ".join(f'"{n}"' for n in m.reserved_name) + ";")
    for n in m.nested_type:
        if not n.options.map_entry:
            lines += _render_message(n, inner)
    for e in m.enum_type:
        lines += _render_enum(e, inner)
    lines.append(f"{indent}}}")
    return lines


def _render_enum(e: descriptor_pb2.EnumDescriptorProto, indent: str = "") -> list[str]:
    lines = [f"{indent}enum {e.name} {{"]
    lines += [f"{indent}  {v.name} = {v.number};" for v in e.value]
    lines.append(f"{indent}}}")
    return lines


# --------------------------------------------------------------------------
# Public, importable operations
# --------------------------------------------------------------------------


def list_services(channel: grpc.Channel, timeout: float = DEFAULT_TIMEOUT) -> list[str]:
    """Service names the server lists through reflection, sorted."""
    return ReflectionClient(channel, timeout).list_services()


def list_methods(
    channel: grpc.Channel, service: str, timeout: float = DEFAULT_TIMEOUT
) -> list[MethodInfo]:
    """Every method of ``service``, in declaration order."""
    service = service.lstrip(".")
    kind, proto = _lookup(ReflectionClient(channel, timeout).resolve(service), service)
    if kind != "service":
        raise ReflectionError(f"{service} is a {kind}, not a service")
    return [_method_info(service, m) for m in proto.method]


def describe_method(
    channel: grpc.Channel, service: str, method: str, timeout: float = DEFAULT_TIMEOUT
) -> MethodInfo:
    """One method of ``service`` (types and whether each side streams)."""
    for info in list_methods(channel, service, timeout):
        if info.name == method:
            return info
    raise ReflectionError(f"service {service} has no method {method}")


def describe(channel: grpc.Channel, symbol: str, timeout: float = DEFAULT_TIMEOUT) -> str:
    """A grpcurl-like description of a service, method, message or enum."""
    symbol = symbol.lstrip(".")
    kind, proto = _lookup(ReflectionClient(channel, timeout).resolve(symbol), symbol)
    if kind == "service":
        body = [f"service {proto.name} {{"]
        body += ["  " + _method_info(symbol, m).signature() for m in proto.method]
        body.append("}")
        article = "a"
    elif kind == "method":
        body = [_method_info(symbol.rsplit(".", 1)[0], proto).signature()]
        article = "a"
    elif kind == "message":
        body = _render_message(proto)
        article = "a"
    else:
        body = _render_enum(proto)
        article = "an"
    return "\n".join([f"{symbol} is {article} {kind}:", *body])


def health(
    channel: grpc.Channel,
    service: str = "",
    timeout: float = DEFAULT_TIMEOUT,
    metadata: Metadata = (),
) -> str:
    """``grpc.health.v1.Health/Check``: the status name, e.g. ``SERVING``."""
    stub = health_pb2_grpc.HealthStub(channel)
    resp = stub.Check(
        health_pb2.HealthCheckRequest(service=service), timeout=timeout, metadata=metadata
    )
    return health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)


def _split_method(full_method: str) -> tuple[str, str]:
    name = full_method.strip().lstrip("/")
    if "/" in name:
        service, method = name.split("/", 1)
    elif "." in name:
        service, method = name.rsplit(".", 1)
    else:
        raise ReflectionError(f"not a full method name: {full_method!r} (want pkg.Service/Method)")
    return service.lstrip("."), method


def call_unary_message(
    channel: grpc.Channel,
    full_method: str,
    request: Mapping[str, Any] | str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    metadata: Metadata = (),
) -> Message:
    """Calls a unary method with types learnt from reflection.

    ``full_method`` is ``pkg.Service/Method`` (or ``pkg.Service.Method``);
    ``request`` is a dict or a JSON string in the proto3 JSON mapping.
    Returns the decoded response message.
    """
    service, method = _split_method(full_method)
    refl = ReflectionClient(channel, timeout, metadata)
    kind, proto = _lookup(refl.resolve(service), service)
    if kind != "service":
        raise ReflectionError(f"{service} is a {kind}, not a service")
    found = [m for m in proto.method if m.name == method]
    if not found:
        raise ReflectionError(f"service {service} has no method {method}")
    info = _method_info(service, found[0])
    if not info.is_unary:
        raise ReflectionError(f"{info.full_name} is a streaming method; only unary calls are supported")

    pool = refl.pool_for(service)
    req_cls = message_factory.GetMessageClass(pool.FindMessageTypeByName(info.input_type.lstrip(".")))
    resp_cls = message_factory.GetMessageClass(pool.FindMessageTypeByName(info.output_type.lstrip(".")))

    req = req_cls()
    if isinstance(request, str):
        json_format.Parse(request or "{}", req, descriptor_pool=pool)
    elif request:
        json_format.ParseDict(dict(request), req, descriptor_pool=pool)

    rpc = channel.unary_unary(
        info.path,
        request_serializer=req_cls.SerializeToString,
        response_deserializer=resp_cls.FromString,
    )
    return rpc(req, timeout=timeout, metadata=metadata)


def call_unary(
    channel: grpc.Channel,
    full_method: str,
    request: Mapping[str, Any] | str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    metadata: Metadata = (),
    emit_defaults: bool = False,
) -> dict[str, Any]:
    """Like :func:`call_unary_message`, returning the response as a JSON dict
    (camelCase field names and enum value names, as grpcurl prints them)."""
    msg = call_unary_message(channel, full_method, request, timeout, metadata)
    return json_format.MessageToDict(msg, always_print_fields_with_no_presence=emit_defaults)


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------


def _parse_header(value: str) -> tuple[str, str]:
    key, sep, val = value.partition(":")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"header must look like 'name: value', got {value!r}")
    return key.strip().lower(), val.strip()


def _build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rgcheck.py",
        description="Inspect a ractor_grpc node (or any gRPC server) through server reflection.",
    )
    p.add_argument("addr", help="host:port of the server (plaintext)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per RPC (default %(default)s)")
    p.add_argument("-H", dest="headers", action="append", type=_parse_header, default=[],
                   metavar="'NAME: VALUE'", help="request metadata; may be repeated")
    p.add_argument("--token", default=os.environ.get(TOKEN_ENV) or None,
                   help=f"bearer token sent as 'authorization: Bearer TOKEN' (default ${TOKEN_ENV})")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list services")
    d = sub.add_parser("describe", help="describe a service, method, message or enum")
    d.add_argument("symbol", nargs="?", help="fully qualified name; all services if omitted")
    h = sub.add_parser("health", help="grpc.health.v1.Health/Check; exit 0 only if SERVING")
    h.add_argument("service", nargs="?", default="", help='service name (default "": the server)')
    c = sub.add_parser("call", help="call a unary method, print the response as JSON")
    c.add_argument("method", help="pkg.Service/Method")
    c.add_argument("data", nargs="?", default="{}", help="request as JSON (default {})")
    c.add_argument("--emit-defaults", action="store_true", help="print fields that have default values")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    meta: Metadata = tuple(args.headers)
    if args.token:
        meta += (("authorization", f"Bearer {args.token}"),)
    try:
        with grpc.insecure_channel(args.addr) as channel:
            if args.command == "list":
                services = ReflectionClient(channel, args.timeout, meta).list_services()
                print("\n".join(services))
            elif args.command == "describe":
                symbols = [args.symbol] if args.symbol else ReflectionClient(
                    channel, args.timeout, meta).list_services()
                print("\n\n".join(describe(channel, s, args.timeout) for s in symbols))
            elif args.command == "health":
                status = health(channel, args.service, args.timeout, meta)
                print(status)
                return 0 if status == "SERVING" else 3
            elif args.command == "call":
                try:
                    json.loads(args.data)
                except json.JSONDecodeError as err:
                    raise ReflectionError(f"request is not valid JSON: {err}") from None
                msg = call_unary_message(channel, args.method, args.data, args.timeout, meta)
                print(json_format.MessageToJson(
                    msg, indent=2, always_print_fields_with_no_presence=args.emit_defaults))
    except grpc.RpcError as err:
        code = err.code() if hasattr(err, "code") else None
        details = err.details() if hasattr(err, "details") else str(err)
        print(f"ERROR:\n  Code: {code.name if code else 'UNKNOWN'}\n  Message: {details}", file=sys.stderr)
        return 1
    except (ReflectionError, json_format.ParseError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
