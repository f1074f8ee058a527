"""A malicious peer provider for the adversarial tests (issue 17).

One of the three live providers (gamma.test) turns adversary: the harness
signs any federation request with gamma's own provider key (the real one it
keeps in its data folder and publishes in ``/.well-known/accord``), exactly
as a running provider does (RFC 9421, ``accord.federation.http_signatures``),
so every request passes authentication and reaches the handler. What the
handler then lets it do is what these tests are about.
"""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from accord.wire import dumps
from accord.wire import federation as fw
from tests.federation.providers import Provider, signed_post

DELIVER = "/federation/v1/deliver"


class MaliciousProvider:
    """``gamma.test`` speaking for whatever it likes, signed with its real key."""

    def __init__(self, me: Provider, http: httpx.AsyncClient) -> None:
        self.me = me
        self.domain = me.domain
        self.http = http

    async def send(self, target: Provider, path: str, body: Any) -> httpx.Response:
        raw = body if isinstance(body, bytes) else dumps(body)
        return await self.http.send(signed_post(target.url, path, raw, self.domain,
                                                self.me.key().sign))

    async def deliver(self, target: Provider, *items: fw.FedItem) -> httpx.Response:
        """Items as a hub fans them out to a follower."""
        return await self.send(target, DELIVER, fw.FedDeliver(items=list(items)))


def item(kind: str, group_id: bytes, recipients: list[str], *, epoch: int = 0,
         sender: str | None = None, sender_account: str | None = None,
         roster: list[tuple[str, str]] | None = None, msg_id: str | None = None,
         body: bytes = b"evil") -> fw.FedItem:
    """A hub's item with whatever the adversary chooses to name."""
    return fw.FedItem(
        msg_id=msg_id or secrets.token_urlsafe(16), kind=kind, group_id=group_id,
        epoch=epoch, body=body, created_at=1, recipients=recipients, sender=sender,
        sender_account=sender_account,
        roster=None if roster is None else [fw.FedDevice(d, dom) for d, dom in roster],
        group_epoch=None if roster is None else epoch + 1)
