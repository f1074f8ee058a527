"""Typed messages between devices and providers (sans-I/O): declarations, codec, signing inputs."""

from accord.wire.codec import (
    MAX_JSON_DEPTH,
    b64d,
    b64e,
    decode,
    dumps,
    encode,
    json_schema,
    loads,
    parse,
)

__all__ = ["MAX_JSON_DEPTH", "b64d", "b64e", "decode", "dumps", "encode", "json_schema", "loads",
           "parse"]
