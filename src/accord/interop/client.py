"""A connection to one ``MLSClient`` gRPC server, as the runner uses it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import grpc

from accord.errors import AccordError
from accord.interop.proto import mls_client_pb2 as pb
from accord.interop.proto import mls_client_pb2_grpc as pb_grpc


class RpcFailure(AccordError):
    """An RPC answered with an error status (UNIMPLEMENTED included) or timed out."""

    code = "rpc_failure"

    def __init__(self, client: str, method: str, status: str, details: str) -> None:
        super().__init__(f"{client} {method}: {status}: {details}")
        self.client = client
        self.method = method
        self.status = status
        self.details = details


class ConnectError(AccordError):
    code = "connect_error"


@dataclass(slots=True)
class Client:
    """One server. ``label`` (c0, c1, ...) names it in reports; ``name`` is what it says it is."""

    label: str
    address: str
    rpc_timeout: float
    channel: grpc.Channel
    stub: Any
    name: str = ""
    suites: frozenset[int] = field(default_factory=frozenset)

    def call(self, method: str, request: Any) -> Any:
        try:
            return getattr(self.stub, method)(request, timeout=self.rpc_timeout)
        except grpc.RpcError as exc:
            code = exc.code() if hasattr(exc, "code") else None
            status = code.name if code is not None else "UNKNOWN"
            details = exc.details() if hasattr(exc, "details") else str(exc)
            raise RpcFailure(self.describe(), method, status, details or "") from None

    def describe(self) -> str:
        return f"{self.label}({self.name or self.address})"

    def close(self) -> None:
        self.channel.close()


def connect(label: str, address: str, *, rpc_timeout: float = 60.0, connect_timeout: float = 15.0) -> Client:
    """Open a channel, wait (bounded) until it is ready, ask Name and SupportedCiphersuites."""
    # Interop servers are local; never route them through an http_proxy from the environment.
    channel = grpc.insecure_channel(address, options=[("grpc.enable_http_proxy", 0)])
    try:
        grpc.channel_ready_future(channel).result(timeout=connect_timeout)
    except grpc.FutureTimeoutError:
        channel.close()
        raise ConnectError(f"{label}: no MLSClient server answered at {address} within {connect_timeout:g}s") from None
    client = Client(label, address, rpc_timeout, channel, pb_grpc.MLSClientStub(channel))
    try:
        client.name = client.call("Name", pb.NameRequest()).name
        suites = client.call("SupportedCiphersuites", pb.SupportedCiphersuitesRequest()).ciphersuites
    except RpcFailure as exc:
        channel.close()
        raise ConnectError(str(exc)) from None
    client.suites = frozenset(int(s) for s in suites)
    return client
