"""``accord web``: the messenger in a browser, served by this device on loopback only.

The app drives ``accord.client`` like every other command; see ``accord.web``
for what guards it (one-time token, session cookie, Host/Origin, CSRF, CSP).
"""

from __future__ import annotations

import asyncio
import ipaddress
import webbrowser
from pathlib import Path

import click

from accord.cli.client_common import err_console, open_device, profile_dir, run
from accord.client.local_server import free_port

LOOPBACK = "127.0.0.1"


def check_bind(host: str, unsafe: bool) -> None:
    """Loopback only, unless the person insists (anyone who can reach the port and
    steal the printed link could then read the profile)."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if loopback:
        return
    if not unsafe:
        raise click.UsageError(f"refusing to serve the app on {host}: it holds your "
                               "decrypted profile; give --unsafe-bind to do it anyway")
    err_console.print(f"[bold red]warning:[/bold red] serving on {host}: anyone who reaches "
                      "this port and gets the link can read and send as you")


async def serve(dev: object, folder: Path, host: str, port: int, browser: bool) -> None:
    import uvicorn

    from accord.web.app import create_app
    from accord.web.live import Live
    from accord.web.security import Session

    session = Session(port, extra_hosts=() if host == LOOPBACK else (f"{host}:{port}",))
    app = create_app(Live(dev), session, folder=folder)  # type: ignore[arg-type]
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                           lifespan="on", access_log=False))
    task = asyncio.create_task(server.serve())
    while not server.started and not task.done():
        await asyncio.sleep(0.05)
    if server.started:
        click.echo(f"Accord web: {session.url()}", nl=True)
        if browser:
            webbrowser.open(session.url())
    await task


@click.command("web")
@click.option("--profile", "profile", type=click.Path(file_okay=False, path_type=Path),
              envvar="ACCORD_PROFILE", default=None,
              help="Profile folder (default ~/.accord/default, or $ACCORD_PROFILE).")
@click.option("--passphrase-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Read the profile passphrase from this file "
              "(else $ACCORD_PASSPHRASE, else a prompt).")
@click.option("--port", default=0, type=click.IntRange(0, 65535),
              help="Port on 127.0.0.1 (default: a free one).")
@click.option("--host", default=LOOPBACK, show_default=True, help="Bind address.")
@click.option("--unsafe-bind", is_flag=True, help="Allow a bind address other than loopback.")
@click.option("--no-browser", is_flag=True, help="Only print the link; open no browser.")
def web(profile: Path | None, passphrase_file: Path | None, port: int, host: str,
        unsafe_bind: bool, no_browser: bool) -> None:
    """Serve the Accord app for this profile on 127.0.0.1 and open it in the browser.

    With no profile in the folder yet, the app's first page creates one (passphrase,
    account, provider) or restores one from a backup; a profile without an account
    is registered from that page."""
    check_bind(host, unsafe_bind)
    folder = profile_dir(profile)
    if not (folder.is_dir() and any(folder.iterdir())):
        run(serve(None, folder, host, port or free_port(), not no_browser))
        return
    dev = open_device(profile, passphrase_file)
    try:
        run(serve(dev, folder, host, port or free_port(), not no_browser))
    finally:
        dev.close()
