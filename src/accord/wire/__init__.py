"""Typed messages between devices and providers (sans-I/O): declarations, codec, signing inputs."""

from accord.wire.codec import b64d, b64e, decode, dumps, encode, json_schema, parse

__all__ = ["b64d", "b64e", "decode", "dumps", "encode", "json_schema", "parse"]
