"""A user's devices before a claim (T06): its device list, or the claim's answer.

Before claiming key material for a user, the client reads the user's device list
and holds each claimed KeyPackage to the key listed for its client. A provider
that gets MIMI from ours and lists no ``accord-deviceList`` in its MIMI directory
offers none (the draft has no such endpoint): our provider answers
``NoDeviceList`` without asking it, and the claim's answer, which lists every
client of the user (draft-ietf-mimi-protocol-06 5.2), stands in for the list
(docs/PROTOCOL.md, "accord-deviceList", says what is lost).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from accord.errors import NoDeviceList
from accord.wire import messages as m

if TYPE_CHECKING:
    from accord.client.device_core import DeviceCore


async def listed_keys(dev: DeviceCore, account: str) -> dict[str, bytes] | None:
    """``account``'s device ids and signature keys by its device list; None when its
    provider offers none (``NoDeviceList``)."""
    try:
        return {d.device_id: d.signature_key
                for d in (await dev.api.list_devices(account)).devices}
    except NoDeviceList:
        return None


def claimed_keys(dev: DeviceCore, claim: m.ClaimResponse, now: int, suite: int
                 ) -> dict[str, bytes]:
    """The claim's clients and the signature keys of their KeyPackages (each validated
    for ``suite``), for a user with no device list."""
    return {c.device_id: dev.engine.key_package_identity(c.key_package, now, suite)[1]
            for c in claim.key_packages}
