"""MIMI identifier URIs (draft-ietf-mimi-protocol-06 section 3, its table of
identifiers): ``mimi://DOMAIN`` names a provider, ``mimi://DOMAIN/u/USER`` a user,
``mimi://DOMAIN/d/CLIENT`` a client, ``mimi://HUB/r/ROOM`` a room and
``mimi://HUB/g/GROUP`` its MLS group. Sans-I/O; one parser for every kind.

Accord decides (the draft shows names, such as ``clubhouse``): a user is Accord's
account ``USER@DOMAIN``; a client is a device id; a room and its MLS group are
named by Accord's group id (random octets, so nothing of a room's name is in
either) in unpadded base64url, the room under ``r`` and the group under ``g``.
The MLS group id itself stays those octets: it is no URI, since a provider would
otherwise read a room's name and hub out of every message's header.
"""

from __future__ import annotations

from accord.errors import DecodeError
from accord.wire.codec import b64d, b64e

__all__ = ["account_of_user_uri", "client_of_uri", "group_of_uri", "mimi_client_uri",
           "mimi_group_uri", "mimi_provider_uri", "mimi_room_uri", "mimi_user_uri",
           "room_of_uri"]

SCHEME = "mimi://"
KINDS = {"u": "user", "d": "client", "r": "room", "g": "group"}


def _parse(uri: str, kind: str) -> tuple[str, str]:
    """``(domain, local part)`` of ``mimi://domain/KIND/local``; ``DecodeError`` otherwise."""
    parts = uri[len(SCHEME):].split("/") if uri.startswith(SCHEME) else []
    if len(parts) != 3 or parts[1] != kind or not parts[0] or not parts[2]:
        raise DecodeError(f"not a MIMI {KINDS[kind]} URI (mimi://domain/{kind}/..., section 3)")
    return parts[0], parts[2]


def _group_id(text: str) -> bytes:
    group_id = b64d(text)
    if not group_id:
        raise DecodeError("an empty room or group id")
    return group_id


def mimi_provider_uri(domain: str) -> str:
    """The provider URI of ``domain`` (section 3): ``mimi://domain``."""
    return SCHEME + domain


def mimi_user_uri(account: str) -> str:
    """``user@domain`` as the draft's user URI (section 3): ``mimi://domain/u/user``."""
    user, domain = account.rsplit("@", 1)
    return f"{SCHEME}{domain}/u/{user}"


def account_of_user_uri(uri: str) -> str:
    """The ``user@domain`` a ``mimi://domain/u/user`` names; ``DecodeError`` otherwise."""
    domain, user = _parse(uri, "u")
    return f"{user}@{domain}"


def mimi_client_uri(domain: str, device_id: str) -> str:
    return f"{SCHEME}{domain}/d/{device_id}"


def client_of_uri(uri: str, domain: str) -> str:
    """The device id a client URI of ``domain`` names; ``DecodeError`` for another
    provider's client or anything else."""
    where, device_id = _parse(uri, "d")
    if where != domain:
        raise DecodeError(f"a client of {where!r}, not of {domain!r}")
    return device_id


def mimi_room_uri(hub: str, group_id: bytes) -> str:
    """Accord's room URI (section 3's form): ``mimi://HUB/r/`` and the group id in
    unpadded base64url (Accord's group ids are random octets, not names)."""
    return f"{SCHEME}{hub}/r/{b64e(group_id)}"


def room_of_uri(uri: str) -> tuple[str, bytes]:
    """The hub domain and group id a ``mimi://HUB/r/GROUP`` names; ``DecodeError`` otherwise."""
    hub, local = _parse(uri, "r")
    return hub, _group_id(local)


def mimi_group_uri(hub: str, group_id: bytes) -> str:
    """The URI of a room's MLS group (section 3): ``mimi://HUB/g/`` and its group id."""
    return f"{SCHEME}{hub}/g/{b64e(group_id)}"


def group_of_uri(uri: str) -> tuple[str, bytes]:
    """The hub domain and group id a ``mimi://HUB/g/GROUP`` names; ``DecodeError`` otherwise."""
    hub, local = _parse(uri, "g")
    return hub, _group_id(local)
