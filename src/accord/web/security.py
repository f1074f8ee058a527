"""The local web app's guard: one place decides whether a request may reach a view.

The app holds a decrypted profile, so every request is treated as hostile until
it proves it comes from the person's own browser tab (issue 20):

* Host must name this app on loopback (a DNS-rebinding page has a foreign Host);
* a foreign Origin is refused on every request, and a state-changing request
  must carry our Origin (cross-site forms and fetches);
* the session cookie (HttpOnly, SameSite=Strict) comes from a one-time token that
  was printed on the terminal, exchanged once on first load;
* every state-changing request carries the CSRF token of the session in a header.

Every response gets a strict Content-Security-Policy: scripts, styles and images
only from the app itself, nothing from any other origin, no inline script.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "accord_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD"})
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]
# Refusals: each check has its own status and code, so tests can tell them apart.
BAD_HOST = (421, "bad_host")
BAD_ORIGIN = (403, "bad_origin")
NO_SESSION = (401, "no_session")
BAD_CSRF = (403, "bad_csrf")


@dataclass
class Session:
    """The one-time token printed on the terminal and the session it becomes."""

    port: int
    extra_hosts: tuple[str, ...] = ()  # ``--unsafe-bind``: the address served on
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    cookie: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    token_used: bool = False

    @property
    def hosts(self) -> frozenset[str]:
        return frozenset({f"127.0.0.1:{self.port}", f"localhost:{self.port}",
                          *self.extra_hosts})

    @property
    def origins(self) -> frozenset[str]:
        return frozenset("http://" + h for h in self.hosts)

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/?token={self.token}"

    def exchange(self, token: str) -> bool:
        """True once, for the printed token; never again (a leaked URL is worthless)."""
        if self.token_used or not hmac.compare_digest(token.encode(), self.token.encode()):
            return False
        self.token_used = True
        return True


def refusal(request: Request, session: Session) -> tuple[int, str] | None:
    """Why ``request`` may not go on, or None. The one decision every route passes."""
    if request.headers.get("host", "") not in session.hosts:
        return BAD_HOST
    origin = request.headers.get("origin")
    if origin is not None and origin not in session.origins:
        return BAD_ORIGIN
    state_changing = request.method not in SAFE_METHODS
    if state_changing and origin is None:
        return BAD_ORIGIN
    if request.url.path == "/" and "token" in request.query_params:
        return None  # the exchange itself (checked by ``exchange``)
    if request.url.path.startswith("/static/"):
        return None  # the app's own code and styles; no data
    cookie = request.cookies.get(COOKIE, "")
    if not hmac.compare_digest(cookie.encode(), session.cookie.encode()):
        return NO_SESSION
    if state_changing and not hmac.compare_digest(
            request.headers.get(CSRF_HEADER, "").encode(), session.csrf.encode()):
        return BAD_CSRF
    return None


def token_exchange(request: Request, session: Session) -> Response:
    """``GET /?token=``: set the session cookie once and drop the token from the URL."""
    if not session.exchange(request.query_params.get("token", "")):
        return JSONResponse({"code": NO_SESSION[1], "message": "this link was already used; "
                             "restart `accord web` for a new one"}, NO_SESSION[0])
    resp = RedirectResponse("/", 303)
    resp.set_cookie(COOKIE, session.cookie, httponly=True, samesite="strict", path="/")
    return resp


class Guard:
    """ASGI middleware: the refusal check before every route, headers on every response."""

    def __init__(self, app: ASGIApp, session: Session) -> None:
        self.app = app
        self.session = session

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS]
            await send(message)

        request = Request(scope)
        why = refusal(request, self.session)
        if why is not None:
            status, code = why
            await JSONResponse({"code": code}, status)(scope, receive, with_headers)
            return
        await self.app(scope, receive, with_headers)
