"""Key transparency on the device (issue 7): every accepted key is in its owner's log.

:class:`KeyChecker` keeps, in the profile, the provider keys it has pinned
(``kt:key:DOMAIN``) and the last tree head it accepted per provider
(``kt:head:DOMAIN``), and moves a head forward only through a consistency
proof (RFC 9162 2.1.4). On top of that:

- :meth:`KeyChecker.verify_device_key` (T06): the lookup proof of the
  owner's current entry at a verified head, and the key in that entry.
  Called for every KeyPackage claimed to add a member, and for the leaves
  of every Welcome we join and every commit that adds devices.
- :meth:`KeyChecker.monitor_self` (T05): our own account's entry against
  the devices we approved; any other key is an ``unknown_device`` alert,
  unless an approved key signed it as its successor (a restore, issue 19).
- Every lookup keeps the entry's proven successions (``kt:succ:ACCOUNT``,
  ``accord.client.successions``), which ``accord.client.safety`` uses the same way for
  a verified contact.
- :meth:`KeyChecker.gossip` (T06, T07): a provider's head fetched directly
  and the same provider's head as our own provider witnessed and
  countersigned it; two heads that cannot both be true are evidence.

Where heads come from: our provider (``/v1/transparency/...``), which
relays lookups and proofs of other providers unchanged; and, for a domain
in the profile's peer map (``kt:peers``, ``accord verify --peer``), that
provider directly. Every failure is an alert (``accord.client.alerts``) and
a typed error. Time is an argument; the only I/O is :class:`KtHttp`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from accord.client import alerts, successions
from accord.client.api import error_from_response
from accord.errors import CryptoError, NotFound, NoTransparency, ValidationError
from accord.http_client import async_client
from accord.mls.codec import decode as tls_decode
from accord.mls.codec import encode as tls_encode
from accord.transparency import (
    LogEntry,
    LookupProof,
    SignedTreeHead,
    SplitViewEvidence,
    TreeHead,
    decode_cosignature,
    decode_signed_head,
    detect_split_view,
    require_device_key,
    unknown_devices,
    verify_cosignature,
    verify_lookup,
    verify_signed_head,
    vouched,
)
from accord.wire import b64d, b64e, codec
from accord.wire import transparency as wt
from accord.wire.accounts import domain_of
from accord.wire.federation import WellKnown

TIMEOUT_S = 15.0
MAX_ANSWER = 256 * 1024
MONITOR_EVERY_MS = 3_600_000  # self-monitoring period (T05)
MAX_EVIDENCE = 100


class KeyNotInLog(ValidationError):
    """A key offered for an account is not in the account's current log entry (T06)."""


class SplitView(CryptoError):
    """A provider signed two heads that cannot both be true (T06, T07)."""

    def __init__(self, provider: str, evidence: SplitViewEvidence) -> None:
        super().__init__(f"provider {provider} showed conflicting heads ({evidence.kind})")
        self.provider = provider
        self.evidence = evidence


class KtHttp:
    """The device's transparency requests: its own provider, and peers it knows directly."""

    def __init__(self, own_base: str, own_domain: str, peers: Mapping[str, str] | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.own_base = own_base.rstrip("/")
        self.own_domain = own_domain
        self.peers = {d: u.rstrip("/") for d, u in (peers or {}).items()}
        self._http = async_client(timeout=TIMEOUT_S, transport=transport)

    async def close(self) -> None:
        await self._http.aclose()

    def direct_base(self, domain: str) -> str | None:
        return self.own_base if domain == self.own_domain else self.peers.get(domain)

    async def get(self, url: str, cls: type[Any], *, absent: str = "") -> Any:
        """``absent``: a 404 is :class:`NoTransparency` with this message (a document
        the provider does not publish at all)."""
        try:
            r = await self._http.get(url)
        except httpx.HTTPError as exc:
            raise NotFound("a transparency log could not be reached") from exc
        if len(r.content) > MAX_ANSWER:
            raise ValidationError("oversized transparency answer")
        if r.status_code == 404 and absent:
            raise NoTransparency(absent)
        if r.status_code != 200:
            raise error_from_response(r.status_code, r.content)
        return codec.parse(cls, r.content)

    async def well_known(self, domain: str) -> WellKnown | None:
        """``domain``'s Accord document; :class:`NoTransparency` when it publishes none
        (a plain MIMI provider, ``--mimi-plain``: no key to check its heads by)."""
        base = self.direct_base(domain)
        if base is None:
            return None
        doc: WellKnown = await self.get(
            base + "/.well-known/accord", WellKnown,
            absent=f"{domain} publishes no Accord document: no key transparency to check")
        if doc.domain != domain:
            raise ValidationError(f"the discovery document of {domain} names another domain")
        return doc

    async def head(self, domain: str) -> wt.KtHead | None:
        base = self.direct_base(domain)
        return None if base is None else await self.get(base + "/v1/transparency/head", wt.KtHead)

    async def lookup(self, account: str) -> wt.KtLookup:
        domain = domain_of(account)
        base = self.direct_base(domain) or self.own_base  # our provider relays the rest
        answer: wt.KtLookup = await self.get(f"{base}/v1/transparency/lookup/{account}",
                                             wt.KtLookup)
        if answer.account != account:
            raise ValidationError("a lookup answer for another account")
        return answer

    async def consistency(self, domain: str, old: int, new: int) -> tuple[bytes, ...]:
        base = self.direct_base(domain)
        path = (f"{base}/v1/transparency/consistency" if base is not None else
                f"{self.own_base}/v1/transparency/peers/{domain}/consistency")
        answer: wt.KtConsistency = await self.get(f"{path}?old={old}&new={new}",
                                                  wt.KtConsistency)
        return tuple(answer.proof)

    async def witnessed(self, domain: str, min_size: int = 0) -> wt.KtWitnessed:
        answer: wt.KtWitnessed = await self.get(
            f"{self.own_base}/v1/transparency/peers/{domain}/head?min_size={min_size}",
            wt.KtWitnessed)
        if answer.domain != domain or answer.witness != self.own_domain:
            raise ValidationError("a witnessed head of another provider or witness")
        return answer


def _encode_evidence(provider: str, ev: SplitViewEvidence) -> dict[str, Any]:
    return {"provider": provider, "kind": ev.kind, "conclusive": ev.conclusive,
            "first": b64e(tls_encode(SignedTreeHead, ev.first)),
            "second": b64e(tls_encode(SignedTreeHead, ev.second)),
            "proof": [b64e(h) for h in ev.proof]}


def monitor_due(store: alerts.KvStore, now: int, every_ms: int = MONITOR_EVERY_MS) -> bool:
    """Whether self-monitoring (T05) is due: never done, or ``every_ms`` ago (or the clock went back)."""
    last = store.get_json("kt:monitored_at")
    return last is None or not 0 <= now - int(last) < every_ms


def stored_evidence(store: alerts.KvStore) -> list[dict[str, Any]]:
    """Split-view evidence found so far (both signed heads, for a third party to check)."""
    return list(store.get_json("kt:evidence", []))


class KeyChecker:
    def __init__(self, store: alerts.KvStore, http: KtHttp) -> None:
        self.store = store
        self.http = http

    # provider keys and heads --------------------------------------------------------

    async def provider_key(self, domain: str, now: int) -> bytes:
        """The provider's head-signing key: pinned at first sight, a change is an alert."""
        pinned = self.store.get_json("kt:key:" + domain)
        doc = await self.http.well_known(domain)
        if doc is not None:
            seen = doc.signing_key
        elif pinned is not None:
            return b64d(pinned)
        else:
            seen = (await self.http.witnessed(domain)).signing_key
        if pinned is None:
            self.store.put_json("kt:key:" + domain, b64e(seen))
        elif b64d(pinned) != seen:
            alerts.raise_alert(self.store, "provider_key_changed", now, provider=domain)
            raise CryptoError(f"provider {domain} presents another signing key than before")
        return seen

    def last_head(self, domain: str) -> SignedTreeHead | None:
        raw = self.store.get_json("kt:head:" + domain)
        return None if raw is None else decode_signed_head(b64d(raw))

    def _evidence(self, domain: str, ev: SplitViewEvidence, kind: str, now: int) -> SplitView:
        kept = stored_evidence(self.store)[-(MAX_EVIDENCE - 1):]
        self.store.put_json("kt:evidence", [*kept, _encode_evidence(domain, ev)])
        alerts.raise_alert(self.store, kind, now, provider=domain, evidence=ev.kind)
        return SplitView(domain, ev)

    async def accept_head(self, domain: str, head: bytes, now: int,
                          alert_kind: str = "head_inconsistent") -> TreeHead:
        """Verify a signed head and check it against the last one kept; keep the newer."""
        key = await self.provider_key(domain, now)
        sth = decode_signed_head(head)
        verify_signed_head(sth, key, domain)
        old = self.last_head(domain)
        if old is not None and tls_encode(SignedTreeHead, old) != head:
            proof: tuple[bytes, ...] = ()
            if old.head.size != sth.head.size and min(old.head.size, sth.head.size) > 0:
                lo, hi = sorted((old.head.size, sth.head.size))
                proof = await self.http.consistency(domain, lo, hi)
            ev = detect_split_view(key, old, sth, proof)
            if ev is not None:
                raise self._evidence(domain, ev, alert_kind, now)
        if old is None or (sth.head.size, sth.head.timestamp) > (old.head.size,
                                                                 old.head.timestamp):
            self.store.put_json("kt:head:" + domain, b64e(head))
        return sth.head

    # lookups --------------------------------------------------------------------------

    async def current_entry(self, account: str, now: int) -> LogEntry | None:
        """``account``'s current log entry, proven at a head consistent with ours."""
        domain = domain_of(account)
        answer = await self.http.lookup(account)
        head = await self.accept_head(domain, answer.head, now)
        proof: Any = tls_decode(LookupProof, answer.proof)
        try:
            entry = verify_lookup(head, account, proof)
        except (CryptoError, ValidationError):
            alerts.raise_alert(self.store, "key_not_in_log", now, account=account,
                               reason="invalid lookup proof")
            raise
        self.store.put_json("kt:keys:" + account,
                            [] if entry is None else [b64e(k) for k in entry.device_keys])
        successions.keep(self.store, account, entry)
        return entry

    async def verify_device_key(self, account: str, key: bytes, now: int) -> LogEntry:
        """Raise :class:`KeyNotInLog` (and alert) unless ``key`` is a current key of ``account``."""
        entry = await self.current_entry(account, now)
        try:
            require_device_key(entry, key)
        except ValidationError:
            alerts.raise_alert(self.store, "key_not_in_log", now, account=account,
                               key=alerts.fingerprint(key))
            raise KeyNotInLog(f"a key offered for {account} is not in its transparency log",
                              "T06") from None
        assert entry is not None
        return entry

    async def verify_members(self, members: Iterable[tuple[str, bytes]], now: int,
                             limit: int = 1000) -> None:
        """Every ``(account, signature key)`` checked; one lookup per account (bounded)."""
        by_account: dict[str, set[bytes]] = {}
        for account, key in members:
            by_account.setdefault(account, set()).add(key)
        failed: list[KeyNotInLog] = []
        for account in sorted(by_account)[:limit]:
            entry = await self.current_entry(account, now)
            for key in sorted(by_account[account]):
                try:
                    require_device_key(entry, key)
                except ValidationError:
                    alerts.raise_alert(self.store, "key_not_in_log", now, account=account,
                                       key=alerts.fingerprint(key))
                    failed.append(KeyNotInLog(f"a key of {account} is not in its log", "T06"))
        if failed:
            raise failed[0]

    # self-monitoring (T05) --------------------------------------------------------------

    def approve_own_keys(self, keys: Iterable[bytes]) -> None:
        known = set(self.store.get_json("kt:own_keys", []))
        self.store.put_json("kt:own_keys", sorted(known | {b64e(k) for k in keys}))

    def own_keys(self) -> set[bytes]:
        return {b64d(k) for k in self.store.get_json("kt:own_keys", [])}

    def monitor_due(self, now: int, every_ms: int = MONITOR_EVERY_MS) -> bool:
        return monitor_due(self.store, now, every_ms)

    async def monitor_self(self, account: str, my_key: bytes, now: int) -> tuple[bytes, ...]:
        """Our account's devices in the log that we did not approve (each one an alert)."""
        entry = await self.current_entry(account, now)
        # A key an approved key named its successor is approved in its turn (issue 19).
        known, _ = vouched(self.own_keys() | {my_key},
                           successions.successions(self.store, account))
        self.approve_own_keys(known - {my_key})
        if entry is None or my_key not in entry.device_keys:
            alerts.raise_alert(self.store, "key_not_in_log", now, account=account,
                               key=alerts.fingerprint(my_key))
        ghosts = unknown_devices(entry, sorted(known))
        for key in ghosts:
            alerts.raise_alert(self.store, "unknown_device", now, account=account,
                               key=alerts.fingerprint(key))
        self.store.put_json("kt:monitored_at", now)
        return ghosts

    # gossip (T06, T07) ----------------------------------------------------------------

    async def gossip(self, domain: str, now: int) -> SplitViewEvidence | None:
        """Compare ``domain``'s head as seen directly with the one our provider witnessed."""
        held = self.last_head(domain)
        witnessed = await self.http.witnessed(domain, held.head.size if held else 0)
        own_key = await self.provider_key(self.http.own_domain, now)
        w_sth = decode_signed_head(witnessed.head)
        verify_cosignature(own_key, self.http.own_domain, w_sth,
                           decode_cosignature(witnessed.cosignature))
        try:
            await self.accept_head(domain, witnessed.head, now, "split_view")
            direct = await self.http.head(domain)
            if direct is None or domain == self.http.own_domain:
                return None
            await self.accept_head(domain, direct.head, now, "split_view")
            d_sth = decode_signed_head(direct.head)
            proof: tuple[bytes, ...] = ()
            if d_sth.head.size != w_sth.head.size and min(d_sth.head.size, w_sth.head.size):
                lo, hi = sorted((d_sth.head.size, w_sth.head.size))
                proof = await self.http.consistency(domain, lo, hi)
            ev = detect_split_view(await self.provider_key(domain, now), d_sth, w_sth, proof)
            if ev is not None:
                raise self._evidence(domain, ev, "split_view", now)
        except SplitView as exc:
            return exc.evidence
        return None

