"""What the provider holds about this account: export it, or delete it all (T18).

Shared by ``accord account export|delete`` and the web app's settings.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from accord.wire import privacy as w

if TYPE_CHECKING:
    from accord.client.device_core import DeviceCore


async def export(dev: DeviceCore) -> Any:
    """Everything the provider holds about this account, as JSON data."""
    resp = await dev.api._send("GET", "/v1/account/export", auth=True)
    return json.loads(resp.content)


async def delete(dev: DeviceCore) -> w.DeleteAccountResult:
    """Erase this account at its provider (all devices, keys, queues, backups). The
    history stays readable here, offline; the device knows it is gone (issue 19)."""
    ident = dev.identity
    sig = dev.sign(w.delete_input(ident.domain, ident.account))
    result = await dev.api._json(w.DeleteAccountResult, "POST", "/v1/account/delete",
                                 body=w.DeleteAccountRequest(account=ident.account,
                                                             signature=sig), auth=True)
    dev.store.put_json("device_removed", True)
    return result
