"""``accord bench NAME [--json] [ARGS...]``: run one benchmark from ``bench/``.

A benchmark is a script ``bench/<name>.py`` (dashes in NAME become
underscores; ``bench/<name>_bench.py`` is also found) that defines::

    def cli_main(args: list[str]) -> dict[str, object]

It parses its own ARGS, runs (bounded in count and time), and returns one
JSON-able object whose keys carry their units (``verify_ms``,
``msgs_per_s``, ``p99_ms``). ``--json`` prints that object alone on one line;
without it the result is shown as a readable table. Benchmarks are never
timed assertions in tests; figures go to docs/PERFORMANCE.md.

Benchmarks run from a checkout: the checkout's root is put on ``sys.path`` so
that they can use the tests' provider harness (``tests/harness.py``), which is
not part of the installed package.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import click

BENCH_DIR = Path(__file__).resolve().parents[3] / "bench"


def available() -> list[str]:
    if not BENCH_DIR.is_dir():
        return []
    names = []
    for p in sorted(BENCH_DIR.glob("*.py")):
        if p.name.startswith("_"):
            continue
        names.append(p.stem.removesuffix("_bench").replace("_", "-"))
    return names


def load(name: str) -> ModuleType:
    stem = name.replace("-", "_")
    for candidate in (BENCH_DIR / f"{stem}.py", BENCH_DIR / f"{stem}_bench.py"):
        if candidate.is_file():
            root = str(BENCH_DIR.parent)
            if root not in sys.path:
                sys.path.append(root)
            spec = importlib.util.spec_from_file_location(f"accord_bench_{stem}", candidate)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
            return module
    known = ", ".join(available()) or "none"
    raise click.UsageError(f"no benchmark named {name!r}; known: {known}")


def _render(result: Any, indent: int = 0) -> None:
    pad = "  " * indent
    if isinstance(result, dict):
        for key, value in result.items():
            if isinstance(value, (dict, list)):
                click.echo(f"{pad}{key}:")
                _render(value, indent + 1)
            else:
                click.echo(f"{pad}{key}: {value}")
    elif isinstance(result, list):
        for item in result:
            _render(item, indent)
            click.echo(f"{pad}--")
    else:
        click.echo(f"{pad}{result}")


@click.command("bench", context_settings={"ignore_unknown_options": True})
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def bench(name: str | None, as_json: bool, args: tuple[str, ...]) -> None:
    """Run benchmark NAME (see bench/); without NAME, list them."""
    if not name:
        for n in available():
            click.echo(n)
        return
    module = load(name)
    result = module.cli_main(list(args))
    if as_json:
        click.echo(json.dumps(result, sort_keys=False))
    else:
        _render(result)
