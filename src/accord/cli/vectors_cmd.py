"""``accord vectors``: check official MLS test-vector files and MIMI content examples."""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

import click

from accord.content.mimi_vectors import check_example
from accord.errors import AccordError
from accord.mls.vectors import checker, kind_of

MIMI_CONTENT = "mimi-content"


def run_mimi_file(path: Path) -> tuple[int, int, list[str]]:
    """One MIMI content example: ``path`` is the CBOR, the ``.edn`` beside it states its ID."""
    edn = path.with_suffix(".edn")
    if not edn.is_file():
        return 0, 1, [f"no {edn.name} beside it"]
    try:
        mid = check_example(path.read_bytes(), edn.read_text(encoding="utf-8"))
    except AccordError as exc:
        return 0, 1, [f"{type(exc).__name__}: {exc}"]
    return 1, 0, [f"message ID {mid.hex()}"]


def is_mimi(path: Path, kind: str | None) -> bool:
    return kind == MIMI_CONTENT or (kind is None and path.suffix == ".cbor")


def run_file(path: Path, kind: str | None, verbose: bool = False) -> tuple[int, int, list[str]]:
    """Check every entry of one file: (passed, failed, failure messages)."""
    if is_mimi(path, kind):
        return run_mimi_file(path)
    k = kind or kind_of(str(path))
    check = checker(k)
    entries = json.loads(path.read_text())
    if isinstance(entries, dict):
        entries = [entries]
    passed, failed, messages = 0, 0, []
    for i, entry in enumerate(entries):
        try:
            check(entry)
            passed += 1
        except AccordError as exc:
            failed += 1
            suite = entry.get("cipher_suite", "-") if isinstance(entry, dict) else "-"
            messages.append(f"  entry {i} (suite {suite}): {type(exc).__name__}: {exc}")
        except Exception as exc:  # a bug in our code: report it as a failure, keep going
            failed += 1
            messages.append(f"  entry {i}: unexpected {type(exc).__name__}: {exc}")
            if verbose:
                messages.append(traceback.format_exc())
    return passed, failed, messages


@click.command("vectors")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--kind", default=None,
              help=f"Vector kind, when the file name does not tell it; {MIMI_CONTENT} for "
                   "MIMI content examples (FILE.cbor with FILE.edn beside it).")
@click.option("--verbose", "-v", is_flag=True, help="Show tracebacks of unexpected failures.")
@click.option("--max-failures", default=5, show_default=True, help="Failures listed per file.")
def vectors(files: tuple[str, ...], kind: str | None, verbose: bool, max_failures: int) -> None:
    """Check every entry of MLS test-vector FILES, or MIMI content examples
    (--kind mimi-content); the last line is `N passed, M failed`."""
    total_pass = total_fail = 0
    for name in files:
        path = Path(name)
        try:
            passed, failed, messages = run_file(path, kind, verbose)
        except (AccordError, ImportError, ValueError) as exc:
            # A file we cannot read or a kind we cannot check counts as a failure.
            click.echo(f"{path.name}: error: {type(exc).__name__}: {exc}")
            total_fail += 1
            continue
        total_pass += passed
        total_fail += failed
        status = "ok" if failed == 0 else "FAILED"
        if is_mimi(path, kind):  # one example per file: one line saying what was found
            click.echo(f"{path.name}: {status}: {messages[0]}")
            continue
        click.echo(f"{path.name}: {status} ({passed} passed, {failed} failed)")
        for line in messages[:max_failures]:
            click.echo(line)
    click.echo(f"{total_pass} passed, {total_fail} failed")
    sys.exit(1 if total_fail else 0)
