"""Every route of the local app is behind the guard (issue 20): enumerated from the
app itself, so a route added later is covered without editing this test.

No browser here: the app runs in-process over ASGI with a real (unregistered)
profile, and no refusal ever reaches a view.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.routing import Mount, Route

from accord.client.device import Device
from accord.web.app import create_app
from accord.web.live import Live
from accord.web.security import COOKIE, CSP, Session
from tests.e2e.helpers import CHEAP, PASS

PORT = 8123
ORIGIN = f"http://127.0.0.1:{PORT}"
PARAM = re.compile(r"\{(\w+)(:\w+)?\}")


def _routes(guard: Any) -> list[tuple[str, str]]:
    """(method, path with its parameters filled in) of every route of the app."""
    out = []
    for route in guard.app.router.routes:
        if isinstance(route, Mount):
            continue  # /static: the app's own code, public by design (checked below)
        assert isinstance(route, Route)
        path = PARAM.sub(lambda m: "1" if m.group(2) == ":int" else "x", route.path)
        out += [(method, path) for method in sorted(route.methods or ()) if method != "HEAD"]
    return out


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Session]]:
    folder: Path = tmp_path_factory.mktemp("routes") / "p"
    dev = Device.init(folder, PASS, kdf=CHEAP)
    session = Session(PORT)
    try:
        yield create_app(Live(dev), session, start_pump=False), session
    finally:
        dev.close()


def _call(guard: Any, method: str, path: str, headers: dict[str, str]) -> httpx.Response:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=guard),
                                     base_url=ORIGIN) as http:
            return await http.request(method, path, headers=headers, json={})
    return asyncio.run(go())


def test_every_route_refuses_without_cookie_host_origin_or_csrf(app: Any) -> None:
    guard, session = app
    routes = _routes(guard)
    posts = [(m, p) for m, p in routes if m == "POST"]
    assert len(routes) >= 30 and len(posts) >= 18, routes  # the enumeration found them
    good = {"cookie": f"{COOKIE}={session.cookie}", "origin": ORIGIN,
            "x-csrf-token": session.csrf}
    for method, path in routes:
        def status(method: str = method, path: str = path,
                   **change: str | None) -> tuple[int, str]:
            headers = {k: v for k, v in {**good, **change}.items() if v is not None}
            r = _call(guard, method, path, headers)
            assert r.headers["content-security-policy"] == CSP, (method, path)
            return r.status_code, r.json().get("code")

        if path != "/":
            assert status(cookie=None) == (401, "no_session"), (method, path)
            assert status(cookie=f"{COOKIE}=guess") == (401, "no_session"), (method, path)
        assert status(host="evil.example") == (421, "bad_host"), (method, path)
        assert status(host=f"attacker.test:{PORT}") == (421, "bad_host"), (method, path)
        assert status(origin="http://evil.example") == (403, "bad_origin"), (method, path)
        if method == "POST":
            assert status(origin=None) == (403, "bad_origin"), (method, path)
            assert status(**{"x-csrf-token": None}) == (403, "bad_csrf"), (method, path)
            assert status(**{"x-csrf-token": "guess"}) == (403, "bad_csrf"), (method, path)


def test_page_without_cookie_is_refused_and_static_holds_no_data(app: Any) -> None:
    guard, _session = app
    r = _call(guard, "GET", "/", {})
    assert (r.status_code, r.json()["code"]) == (401, "no_session")
    r = _call(guard, "GET", "/static/app.js", {})
    assert r.status_code == 200 and "CSRF" in r.text  # code only: the token is in the page
    assert _call(guard, "GET", "/static/app.js", {"host": "evil.example"}).status_code == 421


def test_a_body_that_is_not_a_json_object_is_a_422_on_every_post_route(app: Any) -> None:
    """Bad input gets a typed 4xx, never a 500 (the settings, backup restore and account
    deletion views read ``request.json()`` unguarded before bodies.json_object)."""
    guard, session = app
    good = {"cookie": f"{COOKIE}={session.cookie}", "origin": ORIGIN,
            "x-csrf-token": session.csrf, "content-type": "application/json"}

    async def post(path: str, body: bytes) -> httpx.Response:
        transport = httpx.ASGITransport(app=guard, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as http:
            return await http.post(path, headers=good, content=body)

    for method, path in _routes(guard):
        if method != "POST":
            continue
        for body in (b"{not json", b"\xff\xfe", b"[1, 2]"):
            r = asyncio.run(post(path, body))
            assert r.status_code < 500, (path, body, r.status_code)
