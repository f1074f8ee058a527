"""``accord web``'s Starlette app: the page, its static code, the JSON API and the
live channel, all behind :class:`accord.web.security.Guard`."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from accord.client.store import KdfParams
from accord.errors import AccordError
from accord.web import security
from accord.web.live import Live
from accord.web.settings_views import SettingsApi
from accord.web.setup_views import SetupApi
from accord.web.views import Api, error_response

HERE = Path(__file__).parent
# Autoescape everywhere: the account name is shown by the template (T16).
TEMPLATES = Environment(loader=FileSystemLoader(HERE / "templates"),
                        autoescape=select_autoescape(default=True, default_for_string=True))


def _locked(live: Live, view: Callable[[Request], Awaitable[Response]]
            ) -> Callable[[Request], Awaitable[Response]]:
    """Run ``view`` holding the device; a typed error becomes its JSON status."""

    async def endpoint(request: Request) -> Response:
        try:
            async with live.turn():
                resp = await view(request)
        except AccordError as exc:
            return error_response(exc)
        if request.method == "POST":
            live.changed()  # other tabs refresh too
        return resp

    return endpoint


def _typed(view: Callable[[Request], Awaitable[Response]]
           ) -> Callable[[Request], Awaitable[Response]]:
    """A view that takes the device itself (onboarding): a typed error becomes its status."""

    async def endpoint(request: Request) -> Response:
        try:
            return await view(request)
        except AccordError as exc:
            return error_response(exc)

    return endpoint


def create_app(live: Live, session: security.Session, *, start_pump: bool = True,
               folder: Path | None = None, kdf: KdfParams | None = None) -> security.Guard:
    """The app for ``live``'s profile; with no profile yet (``live.dev`` None) the page
    is the onboarding one, for a new profile in ``folder``."""
    api = Api(live)
    settings = SettingsApi(live)
    setup = SetupApi(live, folder or live.dev.store.folder, kdf)

    async def page(request: Request) -> Response:
        if "token" in request.query_params:
            return security.token_exchange(request, session)
        if not live.ready:
            return HTMLResponse(TEMPLATES.get_template("setup.html").render(
                csrf=session.csrf, state=setup.state()))
        html = TEMPLATES.get_template("index.html").render(
            me=live.dev.identity.account, csrf=session.csrf)
        return HTMLResponse(html)

    async def events(request: Request) -> Response:
        return StreamingResponse(live.events(), media_type="text/event-stream")

    async def not_found(request: Request, exc: Exception) -> Response:
        return JSONResponse({"code": "not_found"}, 404)

    def get(path: str, view: Callable[[Request], Awaitable[Response]]) -> Route:
        return Route(path, _locked(live, view), methods=["GET"])

    def post(path: str, view: Callable[[Request], Awaitable[Response]]) -> Route:
        return Route(path, _locked(live, view), methods=["POST"])

    routes = [
        Route("/", page, methods=["GET"]),
        Route("/events", events, methods=["GET"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        get("/api/state", api.state),
        get("/api/conv/{conv}", api.conversation),
        get("/api/conv/{conv}/members", api.members),
        get("/api/conv/{conv}/file/{msg}/{index:int}", api.attachment),
        get("/api/safety/{account}", api.safety_number),
        get("/api/search", api.search),
        get("/api/safety/{account}/qr", api.safety_qr),
        post("/api/conv", api.create),
        post("/api/conv/{conv}/send", api.send),
        post("/api/conv/{conv}/react", api.react),
        post("/api/conv/{conv}/delete", api.delete),
        post("/api/conv/{conv}/read", api.read),
        post("/api/conv/{conv}/manage", api.manage),
        post("/api/conv/{conv}/confirm-keys", api.confirm_keys),
        post("/api/conv/{conv}/upload", api.upload),
        post("/api/verify/{account}", api.verify),
        post("/api/alerts/seen", api.alerts_seen),
        get("/api/settings", settings.settings),
        post("/api/settings", settings.save),
        post("/api/devices/{device}/remove", settings.remove_device),
        post("/api/devices/link", settings.link_open),
        get("/api/devices/link", settings.link_state),
        get("/api/devices/link/qr", settings.link_qr),
        post("/api/devices/link/certify", settings.link_certify),
        post("/api/backup", settings.backup_create),
        get("/api/account/export", settings.export),
        post("/api/account/delete", settings.delete_account),
        post("/api/requests/{conv}/accept", api.accept),
        post("/api/requests/{conv}/block", api.block),
        post("/api/requests/{conv}/report", api.report),
        post("/api/consent/cancel", api.cancel_consent),
        post("/api/backup/restore", settings.backup_restore),
        Route("/api/setup", _typed(setup.status), methods=["GET"]),
        Route("/api/setup/strength", _typed(setup.judge), methods=["POST"]),
        Route("/api/setup/create", _typed(setup.create), methods=["POST"]),
        Route("/api/setup/join", _typed(setup.join), methods=["POST"]),
        Route("/api/setup/join/finish", _typed(setup.join_finish), methods=["POST"]),
        Route("/api/setup/restore/plan", _typed(setup.restore_plan), methods=["POST"]),
        Route("/api/setup/restore", _typed(setup.restore), methods=["POST"]),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if start_pump:
            live.start()
        try:
            yield
        finally:
            await live.stop()

    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={404: not_found})
    # Outermost, so that even Starlette's own error pages carry the headers.
    return security.Guard(app, session)
