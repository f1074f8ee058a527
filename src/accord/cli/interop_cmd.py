"""``accord interop``: the MLS working group's interop harness.

``run`` drives MLSClient servers through the scenario files; ``serve`` is Accord's own
MLSClient server on accord.mls (src/accord/interop/server.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from accord.interop.config import default_config_dir
from accord.interop.quirks import PEER_QUIRKS
from accord.interop.runner import HANDSHAKES, Options, run


@click.group("interop")
def interop() -> None:
    """MLS interop: run the working group's scenarios against MLSClient servers."""


@interop.command("run")
@click.option("--client", "clients", multiple=True, required=True, metavar="HOST:PORT",
              help="An MLSClient gRPC server; give it once per client (usually two or more).")
@click.option("--config", "configs", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A scenario file; repeatable. Default: every file in tests/interop/configs.")
@click.option("--suite", "suites", multiple=True, type=int,
              help="Only this cipher suite (repeatable). Default: every suite all clients support.")
@click.option("--sample", type=click.IntRange(min=1), default=None,
              help="Run K role assignments per script (seeded; each client creates the group at least once) instead of all.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for --sample.")
@click.option("--script", "scripts", multiple=True, help="Only this script (NAME or FILE:NAME); repeatable.")
@click.option("--handshake", type=click.Choice(sorted(HANDSHAKES)), default="both", show_default=True,
              help="Handshake messages as PublicMessage, PrivateMessage, or both (as upstream).")
@click.option("--max-assignments", type=click.IntRange(min=1), default=4096, show_default=True,
              help="Without --sample, scripts with a bigger full matrix run a seeded sample of this size (and say so).")
@click.option("--rpc-timeout", type=float, default=60.0, show_default=True, help="Seconds per RPC.")
@click.option("--run-timeout", type=float, default=900.0, show_default=True, help="Seconds per script run.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line; the last line stays 'N passed, M failed'.")
@click.option("--matrix", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the result matrix (script x suite x handshake) as Markdown to this file.")
@click.option("--grid", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the compact matrix (script x suite -> passed/runs) as Markdown to this file.")
@click.option("--jobs", type=click.IntRange(min=1, max=64), default=1, show_default=True,
              help="Runs in flight at once (each on its own groups); the report keeps the serial order.")
def run_cmd(clients: tuple[str, ...], configs: tuple[Path, ...], suites: tuple[int, ...], sample: int | None,
            seed: int, scripts: tuple[str, ...], handshake: str, max_assignments: int, rpc_timeout: float,
            run_timeout: float, as_json: bool, matrix: Path | None, grid: Path | None, jobs: int) -> None:
    """Run scenario files against the given MLSClient servers; exit 1 on any failure."""
    files = list(configs) or sorted(default_config_dir().glob("*.json"))
    if not files:
        raise click.UsageError("no scenario files: pass --config FILE")
    options = Options(
        configs=files, suites=suites, sample=sample, seed=seed, handshake=handshake,
        max_assignments=max_assignments, scripts=scripts, rpc_timeout=rpc_timeout,
        run_timeout=run_timeout, as_json=as_json, matrix=matrix, grid=grid, jobs=jobs,
    )
    outcome = run(clients, options, sys.stdout)
    raise SystemExit(0 if outcome.ok else 1)


@interop.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (keep it on loopback).")
@click.option("--port", type=click.IntRange(0, 65535), required=True, help="Port; 0 picks a free one.")
@click.option("--peer-quirk", "quirks", multiple=True, type=click.Choice(sorted(PEER_QUIRKS)),
              help="Deviate from RFC 9420 for one known peer bug; repeatable. tsmls-external-pub: "
                   "write GroupInfo's external_pub as the bare HPKE key, which is NOT RFC 9420 "
                   "behaviour and exists only to let ts-mls 1.6.4 join Accord groups externally.")
def serve_cmd(host: str, port: int, quirks: tuple[str, ...]) -> None:
    """Serve Accord's MLSClient (all 34 RPCs on accord.mls); prints 'listening on HOST:PORT'."""
    from accord.interop.server import serve

    serve(host, port, quirks=frozenset(quirks))
