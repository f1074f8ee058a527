"""HTTP routes of issue 11: reports (T13), backups (T17), export and deletion (T18).

Declared with the same :class:`~accord.server.routes.Spec` as the core API
(authentication, limits, JSON errors, route-template logging); the peer
routes (forwarded reports, account deletions) use the federation's signed
peer endpoint. A suspended account is refused on every authenticated route
(:func:`accord.server.reports.gate_account`, called by the core router).
"""

from __future__ import annotations

from starlette.routing import Route

from accord.federation import report_relay
from accord.server import account_data, admin_api, reports
from accord.server.routes import GROUP_ID, Call, Param, Spec, endpoint, group_id_of
from accord.wire import privacy as w

TOKEN = Param("token", "path", {"type": "string", "pattern": "^[A-Za-z0-9_-]{43}$"},
              "base64url of the 32-byte fetch token")


async def _report(c: Call) -> w.ReportResult:
    return await reports.report(c.provider, c.me, c.body, c.now)


SPECS: tuple[Spec, ...] = (
    Spec("POST", "/v1/reports", "Report a message: reveal its content, the hub's frank and time",
         _report, auth=True, request=w.ReportRequest, response=w.ReportResult),
    Spec("POST", "/v1/requests/{group_id}/report",
         "Report a message request unread: its sender and time, as the provider recorded them",
         lambda c: reports.report_request(c.provider, c.me, group_id_of(c), c.now),
         auth=True, response=w.ReportResult, params=(GROUP_ID,)),
    Spec("GET", "/v1/account/export", "Everything the provider holds about the caller's account",
         lambda c: account_data.export(c.provider, c.me, c.now),
         auth=True, response=w.AccountExport),
    Spec("POST", "/v1/account/delete", "Erase the caller's account (signed by one of its devices)",
         lambda c: account_data.delete(c.provider, c.me, c.body, c.now),
         auth=True, request=w.DeleteAccountRequest, response=w.DeleteAccountResult),
    Spec("PUT", "/v1/account/backup", "Store the account's encrypted backup (replaces it)",
         lambda c: account_data.put_backup(c.provider, c.me, c.body, c.now),
         auth=True, request=w.Backup, status=204),
    Spec("GET", "/v1/account/backup", "Fetch the account's encrypted backup",
         lambda c: account_data.get_backup(c.provider, c.me), auth=True, response=w.Backup),
    Spec("GET", "/v1/backups/{token}", "Fetch a backup by the capability its recovery key derives",
         lambda c: account_data.fetch_backup(c.provider, c.request.path_params["token"]),
         response=w.Backup, params=(TOKEN,)),
    *admin_api.SPECS,
)


def privacy_routes() -> list[Route]:
    return [Route(s.path, endpoint(s), methods=[s.method]) for s in SPECS]


def peer_specs() -> list[tuple[str, type, object, int]]:
    """``(path, request type, handler, status)`` for the federation's peer routes."""
    return [(report_relay.FED_REPORTS, w.FedReport, reports.accept_forwarded, 200),
            (report_relay.FED_SENDER_REPORTS, w.FedSenderReport, reports.accept_sender_report, 200),
            (account_data.FED_DELETED, w.FedAccountDeleted, account_data.accept_deleted, 200)]
