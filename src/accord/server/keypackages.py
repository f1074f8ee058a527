"""The KeyPackage directory: upload per device, claim one per device of a user, count.

Uploads are checked (``mls_check``) and stored with their KeyPackageRef; a claim hands each one out at most once
(the store deletes what it returns in the same transaction). When a device
has none left its last-resort KeyPackage is returned instead (RFC 9420 16.8).

Cipher suites (T10): a KeyPackage is for one suite (RFC 9420 10). An upload
is one suite's batch (the suite read from the KeyPackages themselves); count
and claim name the suite (``cipher_suite``, default 0x0001), and a claim
returns a KeyPackage only for the devices that offer that suite, so the
claimer sees which devices cannot join a group of that suite.

Claims are limited (issue 17, T14), by one rule for local and federated
claims (:func:`admit_claim`): a claimer over its own limit gets a typed 429
with ``Retry-After``; a claimer over its budget for one target, or a target
over its budget of one-time KeyPackages, gets the last-resort ones instead,
so nobody can drain a user's one-time stock. The owner's devices see that
through the count they poll (:func:`count`): the last-resort KeyPackage was
used (they rotate it) and how many claims were answered with it because of a
limit (they raise an alert).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from accord.errors import DecodeError, NoConsent, NotFound, ValidationError
from accord.federation import follower, mls_check
from accord.ratelimit import RateLimiter
from accord.server.state import Provider
from accord.storage import DeviceRecord
from accord.wire import messages as m
from accord.wire.accounts import domain_of

MAX_STORED_PER_DEVICE = 1000


@dataclass(frozen=True, slots=True)
class Claimer:
    """Who claims, as the limits see it."""

    requester: str  # the claiming account: local and authenticated, or named by a peer
    peer: str | None = None  # the provider that signed a federated claim

    @property
    def origin(self) -> str:
        # What an attacker cannot multiply for free: its own local account, or
        # for a federated claim the signing provider (requester names are free).
        return f"peer:{self.peer}" if self.peer is not None else f"local:{self.requester}"


def admit_claim(limiter: RateLimiter, claimer: Claimer, target: str, now: int) -> bool:
    """The one decision for every claim of ``target``'s KeyPackages, local or federated.

    Raises :class:`~accord.errors.RateLimited` (with the wait) when the claimer,
    or for a federated claim its provider, is over its limit. Otherwise says
    whether one-time KeyPackages may be handed out; False means the
    last-resort ones instead (the pair's or the target's budget is spent).
    """
    if claimer.peer is not None:
        limiter.check("kp_peer", claimer.peer, now)
    limiter.check("kp_claimer", claimer.requester, now)
    if claimer.peer is None and claimer.requester == target:
        return True  # the owner's own devices (a linked device joining): its own stock
    if not limiter.take("kp_pair", f"{claimer.origin}>{target}", now):
        return False
    return limiter.take("kp_target", target, now)


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
    stored, _ = await p.store.count_key_packages(by.device_id, suite)
    if stored + len(req.key_packages) > MAX_STORED_PER_DEVICE:
        raise ValidationError(f"at most {MAX_STORED_PER_DEVICE} KeyPackages per device and suite")
    refs = [ref for ref, _ in checked[:len(req.key_packages)]]
    await p.store.add_key_packages(by.device_id, req.key_packages, req.last_resort, refs, suite)
    return await count(p, by, suite)


async def count(p: Provider, by: DeviceRecord, cipher_suite: int = 1) -> m.KeyPackageCount:
    """The device's status in one suite: also the owner's notice of claim pressure."""
    s = await p.store.key_package_status(by.device_id, cipher_suite)
    return m.KeyPackageCount(count=s.count, last_resort=s.last_resort,
                             last_resort_used=s.last_resort_used, withheld=s.withheld)


async def claim(
    p: Provider, account: str, by: DeviceRecord | None = None, now: int = 0,
    cipher_suite: int = 1, group_id: bytes | None = None,
) -> m.ClaimResponse:
    """A local device's claim: of a local account here, of a remote one through its provider
    (a running provider always federates, ``accord.server.app``). ``group_id``: the
    group the KeyPackages are for (a MIMI claim goes through its hub; else unused)."""
    if by is None:
        raise ValidationError("a claim needs a claimer")
    if domain_of(account) != p.config.domain:
        return await follower.claim(p.federation, account, by, now, cipher_suite, group_id)
    return await claim_local(p, account, Claimer(by.account), now, cipher_suite)


async def claim_local(p: Provider, account: str, claimer: Claimer, now: int,
                      cipher_suite: int = 1) -> m.ClaimResponse:
    """Claim one KeyPackage per device of a local account, under :func:`admit_claim`."""
    if domain_of(account) != p.config.domain:
        raise ValidationError(f"this provider serves @{p.config.domain} accounts only")
    # One rule for every claimer, ours or a peer's (T14, issue 18): an account that
    # blocked the claimer (or its domain) looks like no account at all (no probing).
    # --require-consent: a peer's user gets our user's key material only as a contact
    # (our user accepted a request from it: MIMI 5.7 requestConsent, or a Welcome);
    # a stranger, an unknown account and a block look alike to it (no probing), and
    # its provider may ask for consent (MIMI noConsent, Accord's route no_consent).
    states = await p.store.fed_consent([account], claimer.requester)
    if claimer.peer is not None and p.config.require_consent \
            and states.get(account) != "contact":
        raise NoConsent(f"no account {account}")
    if states.get(account) == "blocked":
        raise NotFound(f"no account {account}")
    one_time = admit_claim(p.limiter, claimer, account, now)
    claimed = await p.store.claim_key_packages(account, cipher_suite, now, one_time)
    handed = []  # a MIMI Welcome names its recipients by these refs (MIMI 5.5)
    for c in claimed:  # each was checked at its upload; one that does not decode is no one's
        with contextlib.suppress(DecodeError, ValidationError):
            handed.append((mls_check.key_package_ref_of(c.data), c.device_id))
    if handed:
        await p.store.kp_handed_out(handed, claimer.requester, now)
    return m.ClaimResponse(
        account=account,
        key_packages=[m.ClaimedKeyPackage(c.device_id, c.data, c.last_resort) for c in claimed],
    )
