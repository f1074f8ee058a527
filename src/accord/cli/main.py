"""The ``accord`` command. Subcommands live in their own modules and only drive libraries."""

from __future__ import annotations

import click

from accord.cli.bench_cmd import bench
from accord.cli.interop_cmd import interop
from accord.cli.server_cmd import server
from accord.cli.vectors_cmd import vectors


@click.group()
@click.version_option(package_name="accord")
def cli() -> None:
    """Accord: an open, interoperable, end-to-end encrypted messenger."""


cli.add_command(vectors)
cli.add_command(interop)
cli.add_command(bench)
cli.add_command(server)


@cli.command()
def demo() -> None:
    """Run the main job on the embedded defaults (for now: the MLS vector check)."""
    from pathlib import Path

    from accord.cli.vectors_cmd import run_file

    folder = Path(__file__).resolve().parents[3] / "tests" / "vectors" / "mls"
    click.echo("Accord demo: the messenger demo arrives with the client; for now this")
    click.echo(f"checks every official MLS test vector in {folder}.")
    total_p = total_f = 0
    for path in sorted(folder.glob("*.json")):
        p, f, msgs = run_file(path, None)
        total_p, total_f = total_p + p, total_f + f
        click.echo(f"{path.name}: {'ok' if not f else 'FAILED'} ({p} passed, {f} failed)")
    click.echo(f"{total_p} passed, {total_f} failed")
    raise SystemExit(1 if total_f else 0)


def main() -> None:
    cli()
