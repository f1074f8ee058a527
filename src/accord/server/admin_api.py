"""The operator's API for abuse handling (T13): reports, account actions, refused peers.

Authenticated by an operator token, not by a device session: ``accord admin
--data DIR token`` makes one, shows it once and keeps only its SHA-256 in
the store (``provider_secrets``). Without a token made, every admin route
answers 401. The same actions are in ``accord admin`` (which opens the store
directly).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from accord.errors import AuthError, NotFound
from accord.server.routes import Call, Param, Spec, bearer
from accord.storage import Store
from accord.wire import messages as m
from accord.wire import privacy as w

ACCOUNT = Param("account", "path", {"type": "string", "pattern": "^" + m.ACCOUNT_RE + "$"})
DOMAIN = Param("domain", "path", {"type": "string", "pattern": "^[a-z0-9][a-z0-9.-]{0,252}$"})
REPORT = Param("report_id", "path", {"type": "integer", "minimum": 1})


async def new_token(store: Store) -> str:
    """A fresh operator token (replacing any previous one); shown once by the CLI."""
    token = secrets.token_urlsafe(32)
    await store.admin.set_token_hash(hashlib.sha256(token.encode()).digest())
    return token


async def _operator(c: Call) -> Store:
    """The store, for a request that carries the operator token (401 otherwise)."""
    store: Store = c.provider.store
    given = hashlib.sha256(bearer(c.request).encode()).digest()
    filed = await store.admin.token_hash()
    if filed is None or not hmac.compare_digest(filed, given):
        raise AuthError("this endpoint needs the operator token")
    return store


async def _reports(c: Call) -> w.AdminReports:
    store = await _operator(c)
    return w.AdminReports(await store.reports.list(c.request.query_params.get("status")))


async def _close(c: Call) -> None:
    store = await _operator(c)
    raw = str(c.request.path_params["report_id"])
    if not (raw.isascii() and raw.isdigit() and 0 < len(raw) <= 18):
        raise NotFound("no such report")
    await store.reports.close(int(raw), "closed")


async def _account(c: Call) -> None:
    req: w.AccountActionRequest = c.body
    action = None if req.action == "none" else req.action
    store = await _operator(c)
    await store.admin.set_account_action(c.request.path_params["account"], action, req.reason,
                                         c.now)


async def _peer(c: Call) -> None:
    req: w.PeerActionRequest = c.body
    store = await _operator(c)
    await store.admin.set_peer_refused(c.request.path_params["domain"], req.refused,
                                       req.reason, c.now)


STATUS = Param("status", "query", {"type": "string", "pattern": "^(open|forwarded|acknowledged|closed)$"})

SPECS: tuple[Spec, ...] = (
    Spec("GET", "/v1/admin/reports", "Operator: verified abuse reports", _reports,
         response=w.AdminReports, params=(STATUS,)),
    Spec("POST", "/v1/admin/reports/{report_id}/close", "Operator: close a report", _close,
         status=204, params=(REPORT,)),
    Spec("POST", "/v1/admin/accounts/{account}/action",
         "Operator: suspend, limit or lift a local account", _account,
         request=w.AccountActionRequest, status=204, params=(ACCOUNT,)),
    Spec("POST", "/v1/admin/peers/{domain}", "Operator: refuse or accept a peer provider",
         _peer, request=w.PeerActionRequest, status=204, params=(DOMAIN,)),
)
