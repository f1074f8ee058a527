"""The KeyPackage directory: upload per device, claim one per device of a user, count.

Uploads are checked (``mls_check``) and stored with their KeyPackageRef; a claim hands each one out at most once
(the store deletes what it returns in the same transaction). When a device
has none left its last-resort KeyPackage is returned instead (RFC 9420 16.8).
"""

from __future__ import annotations

from accord.errors import ValidationError
from accord.server import mls_check
from accord.server.state import Provider
from accord.storage import DeviceRecord
from accord.wire import messages as m

MAX_STORED_PER_DEVICE = 1000


async def upload(
    p: Provider, by: DeviceRecord, req: m.UploadKeyPackagesRequest, now: int
) -> m.KeyPackageCount:
    if not req.key_packages and req.last_resort is None:
        raise ValidationError("nothing to upload")
    # Each must be a valid KeyPackage of this very device (its credential and key).
    refs = [mls_check.check_key_package(kp, by, now) for kp in req.key_packages]
    if req.last_resort is not None:
        mls_check.check_key_package(req.last_resort, by, now)
    count, _ = await p.store.count_key_packages(by.device_id)
    if count + len(req.key_packages) > MAX_STORED_PER_DEVICE:
        raise ValidationError(f"at most {MAX_STORED_PER_DEVICE} KeyPackages per device")
    count = await p.store.add_key_packages(by.device_id, req.key_packages, req.last_resort, refs)
    _, has_last_resort = await p.store.count_key_packages(by.device_id)
    return m.KeyPackageCount(count=count, last_resort=has_last_resort)


async def count(p: Provider, by: DeviceRecord) -> m.KeyPackageCount:
    n, has_last_resort = await p.store.count_key_packages(by.device_id)
    return m.KeyPackageCount(count=n, last_resort=has_last_resort)


async def claim(
    p: Provider, account: str, by: DeviceRecord | None = None, now: int = 0
) -> m.ClaimResponse:
    if account.rsplit("@", 1)[-1] != p.config.domain:
        if p.federation is not None and by is not None:
            return await p.federation.claim(account, by, now)  # type: ignore[no-any-return]
        raise ValidationError(f"this provider serves @{p.config.domain} accounts only")
    claimed = await p.store.claim_key_packages(account)
    return m.ClaimResponse(
        account=account,
        key_packages=[m.ClaimedKeyPackage(c.device_id, c.data, c.last_resort) for c in claimed],
    )
