"""Browser tests of ``accord web``: two federated providers, ``accord web`` processes
and one Chromium (Debian's package, driven by Playwright), shared per module.

Under CI the browser must be there: a missing Chromium fails the run, it is never a
skip (issue 20); elsewhere the tests skip with the install command.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from accord.client.device import Device
from accord.federation.loopback import Provider
from tests.e2e.helpers import CHEAP, PASS, Clock
from tests.engine import federation

ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "web-screenshots"
URL_LINE = re.compile(r"^Accord web: (http://127\.0\.0\.1:(\d+)/\?token=([\w-]+))$")
START_S = 30.0


def chromium_path() -> str | None:
    return next((p for p in ("/usr/bin/chromium", shutil.which("chromium") or "")
                 if p and os.path.exists(p)), None)


@dataclass
class WebApp:
    """One ``accord web`` process for one profile."""

    proc: subprocess.Popen[str]
    url: str
    port: int
    account: str

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def run_async(coro: Any) -> Any:
    """Run library code from a test: Playwright's sync API owns this thread's loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def make_profile(folder: Path, account: str, server: str) -> None:
    async def go() -> None:
        dev = Device.init(folder, PASS, kdf=CHEAP)
        try:
            await dev.register(account, server, Clock()())
        finally:
            await dev.disconnect()
            dev.close()
    run_async(go())


def start_web(folder: Path, account: str) -> WebApp:
    env = {**os.environ, "ACCORD_PASSPHRASE": PASS, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from accord.cli.main import main; main()", "web",
         "--profile", str(folder), "--no-browser"],
        stdout=subprocess.PIPE, stderr=open(folder.parent / f"web-{folder.name}.log", "w"),  # noqa: SIM115
        text=True, env=env)
    deadline = time.monotonic() + START_S
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        match = URL_LINE.match(line.strip())
        if match:
            return WebApp(proc, match.group(1), int(match.group(2)), account)
    proc.kill()
    raise RuntimeError(f"accord web did not print its link; see {folder.parent}")


@dataclass
class World:
    alpha: Provider
    beta: Provider
    root: Path
    browser: Any
    apps: list[WebApp]
    pages: dict[int, Any] = field(default_factory=dict)

    def web(self, name: str, account: str, server: str) -> WebApp:
        make_profile(self.root / name, account, server)
        return self.start(name, account)

    def start(self, name: str, account: str) -> WebApp:
        app = start_web(self.root / name, account)
        self.apps.append(app)
        return app

    def page(self, app: WebApp, prepare: Callable[[Any], None] | None = None) -> Any:
        """The app's browser context (its own cookies), opened and logged in once: the
        printed link works only once. ``prepare(context)`` runs before the first load
        (permissions, init scripts)."""
        if app.port in self.pages:
            page = self.pages[app.port]
            page.goto(app.origin + "/")
            return page
        ctx = self.browser.new_context(viewport={"width": 1200, "height": 800})
        if prepare is not None:
            prepare(ctx)
        page = ctx.new_page()
        page.goto(app.url)
        page.wait_for_url(app.origin + "/")
        self.pages[app.port] = page
        return page


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from running_world(tmp_path_factory)


def running_world(tmp_path_factory: pytest.TempPathFactory, require_consent: bool = False
                  ) -> Iterator[World]:
    """alpha.test and beta.test (with ``require_consent``: beta runs --require-consent)
    and one Chromium, for a module."""
    exe = chromium_path()
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing; .ci/run installs it (apt-get install chromium)")
        pytest.skip("chromium is not installed: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    root = tmp_path_factory.mktemp("web")
    alpha, beta = federation(root / "providers", ["alpha.test", "beta.test"])
    beta.require_consent = require_consent
    pw = sync_playwright().start()
    world = None
    try:
        alpha.start()
        beta.start()
        browser = pw.chromium.launch(executable_path=exe,
                                     args=["--no-sandbox", "--disable-gpu"])
        world = World(alpha, beta, root, browser, [])
        yield world
    finally:
        if world is not None:
            for app in world.apps:
                app.stop()
            world.browser.close()
        pw.stop()
        for p in (alpha, beta):
            p.stop()


def post(page: Any, path: str, body: Any, *, csrf: bool = True) -> tuple[int, Any]:
    """A POST from the page's own script (same origin, with the session cookie)."""
    token = page.locator('meta[name="csrf-token"]').get_attribute("content") if csrf else None
    return tuple(page.evaluate(
        """async ([path, body, token]) => {
             const headers = {"Content-Type": "application/json"};
             if (token) headers["X-CSRF-Token"] = token;
             const r = await fetch(path, {method: "POST", headers, body: JSON.stringify(body)});
             return [r.status, await r.json()];
           }""", [path, body, token]))


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def peer(world: World, name: str, account: str, server: str) -> Path:
    make_profile(world.root / name, account, server)
    return world.root / name


async def with_device(folder: Path, fn: Any, *, sync: bool = True) -> Any:
    """Open a library device, connect, sync, run ``fn(dev, clock)``, always close."""
    dev = Device.open(folder, PASS)
    clock = Clock()
    try:
        await dev.connect()
        if sync:
            await dev.sync(clock())
        return await fn(dev, clock)
    finally:
        await dev.disconnect()
        dev.close()


def queue_after(folder: Path) -> list[Any]:
    """What the provider holds for this device beyond what it has applied (no sync)."""
    async def go(dev: Device, clock: Clock) -> list[Any]:
        return list((await dev.api.fetch(dev.cursor)).items)
    return run_async(with_device(folder, go, sync=False))


def accept_in_page(page: Any, sender: str, wait_ms: int) -> None:
    """Accept in the app the message request from ``sender`` (T14: a first invitation
    from a stranger, of any provider, waits for this), once the app lists it."""
    from playwright.sync_api import expect

    region = page.get_by_role("region", name="Message requests")
    request = region.get_by_role("listitem").filter(
        has=page.get_by_text(sender, exact=True)).first
    expect(request).to_be_visible(timeout=wait_ms)
    request.get_by_role("button", name="Accept").click()
    expect(request).to_have_count(0, timeout=wait_ms)
