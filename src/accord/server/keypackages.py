"""The KeyPackage directory: upload per device, claim one per device of a user, count.

Uploads are checked (``mls_check``) and stored with their KeyPackageRef; a claim hands each one out at most once
(the store deletes what it returns in the same transaction). When a device
has none left its last-resort KeyPackage is returned instead (RFC 9420 16.8).

Cipher suites (T10): a KeyPackage is for one suite (RFC 9420 10). An upload
is one suite's batch (the suite read from the KeyPackages themselves); count
and claim name the suite (``cipher_suite``, default 0x0001), and a claim
returns a KeyPackage only for the devices that offer that suite, so the
claimer sees which devices cannot join a group of that suite.
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
    checked = [mls_check.check_key_package(kp, by, now) for kp in req.key_packages]
    if req.last_resort is not None:
        checked.append(mls_check.check_key_package(req.last_resort, by, now))
    suites = {suite for _, suite in checked}
    if len(suites) != 1:
        raise ValidationError("an upload is the KeyPackages of one cipher suite", "RFC 9420 10")
    suite = suites.pop()
    count, _ = await p.store.count_key_packages(by.device_id, suite)
    if count + len(req.key_packages) > MAX_STORED_PER_DEVICE:
        raise ValidationError(f"at most {MAX_STORED_PER_DEVICE} KeyPackages per device and suite")
    refs = [ref for ref, _ in checked[:len(req.key_packages)]]
    count = await p.store.add_key_packages(by.device_id, req.key_packages, req.last_resort, refs,
                                           suite)
    _, has_last_resort = await p.store.count_key_packages(by.device_id, suite)
    return m.KeyPackageCount(count=count, last_resort=has_last_resort)


async def count(p: Provider, by: DeviceRecord, cipher_suite: int = 1) -> m.KeyPackageCount:
    n, has_last_resort = await p.store.count_key_packages(by.device_id, cipher_suite)
    return m.KeyPackageCount(count=n, last_resort=has_last_resort)


async def claim(
    p: Provider, account: str, by: DeviceRecord | None = None, now: int = 0,
    cipher_suite: int = 1,
) -> m.ClaimResponse:
    if account.rsplit("@", 1)[-1] != p.config.domain:
        if p.federation is not None and by is not None:
            return await p.federation.claim(  # type: ignore[no-any-return]
                account, by, now, cipher_suite)
        raise ValidationError(f"this provider serves @{p.config.domain} accounts only")
    claimed = await p.store.claim_key_packages(account, cipher_suite)
    return m.ClaimResponse(
        account=account,
        key_packages=[m.ClaimedKeyPackage(c.device_id, c.data, c.last_resort) for c in claimed],
    )
