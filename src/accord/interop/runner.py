"""``accord interop run``: drive MLSClient servers through the harness's scenario files.

Like the upstream test-runner: every script of every given file, for every
assignment of the clients to the script's actors (or a seeded sample), for every
cipher suite all clients support (or the ones asked for), for public and/or
encrypted handshake messages. After every step the members must agree on
StateAuth and an Export (``accord.interop.agreement``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from accord.errors import AccordError
from accord.interop.assignment import plan
from accord.interop.client import Client, connect
from accord.interop.config import ScenarioFile, Script, load_scenarios
from accord.interop.divergence import RunResult
from accord.interop.execute import execute
from accord.interop.report import Reporter, matrix_grid, matrix_markdown

HANDSHAKES = {"public": (False,), "private": (True,), "both": (False, True)}


@dataclass(slots=True)
class Options:
    configs: Sequence[Path]
    suites: Sequence[int] = ()  # empty: every suite all clients support
    sample: int | None = None
    seed: int = 0
    handshake: str = "both"
    max_assignments: int = 4096
    scripts: Sequence[str] = ()  # empty: every script; else "name" or "file:name"
    rpc_timeout: float = 60.0
    connect_timeout: float = 15.0
    run_timeout: float = 900.0
    as_json: bool = False
    matrix: Path | None = None  # write the Markdown matrix here
    grid: Path | None = None  # write the compact script x suite grid here
    jobs: int = 1  # runs in flight at once (each run is independent); output stays in order


@dataclass(slots=True)
class Outcome:
    passed: int
    failed: int
    results: list[RunResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0


def _wanted(options: Options, label: str, name: str) -> bool:
    return not options.scripts or name in options.scripts or label in options.scripts


Planned = tuple[Script, Sequence[int], int, bool]


def _planned(files: Sequence[ScenarioFile], options: Options, suites: Sequence[int], n_clients: int,
             rep: Reporter) -> Iterator[Planned]:
    """Every run in the order the upstream runner takes them: script, suite, mode, assignment."""
    for scenario in files:
        for script in scenario:
            if not _wanted(options, script.label, script.name):
                continue
            p = plan(
                script.actors(), script.creators(), n_clients, sample_k=options.sample,
                seed=options.seed, key=script.label, max_assignments=options.max_assignments,
            )
            if p.note:
                rep.note(f"{script.label}: {p.note}")
            for suite in suites:
                for encrypt in HANDSHAKES[options.handshake]:
                    for assignment in p.assignments:
                        yield script, assignment, suite, encrypt


def _execute_all(planned: Sequence[Planned], clients: Sequence[Client], options: Options) -> Iterator[RunResult]:
    """The runs' results in plan order; with ``jobs`` > 1 that many run at once
    (runs share no handle, and the servers serve requests concurrently)."""
    def one(p: Planned) -> RunResult:
        return execute(p[0], p[1], clients, p[2], p[3], options.run_timeout)

    if options.jobs <= 1:
        yield from map(one, planned)
        return
    with ThreadPoolExecutor(max_workers=options.jobs, thread_name_prefix="interop-run") as pool:
        yield from pool.map(one, planned)


def run_clients(clients: Sequence[Client], options: Options, out: TextIO) -> Outcome:
    """Run against clients already connected (tests pass in-process servers here)."""
    rep = Reporter(out, options.as_json)
    results: list[RunResult] = []
    for c in clients:
        rep.client(c)
    shared = sorted(frozenset.intersection(*(c.suites for c in clients))) if clients else []
    suites = list(options.suites) or shared
    for suite in suites:
        if suite not in shared:
            rep.failure(f"suite={suite}: not supported by every client ({', '.join(f'{c.label}: {sorted(c.suites)}' for c in clients)})")
    suites = [s for s in suites if s in shared]
    if not suites:
        rep.failure("no cipher suite to run: the clients share none of the requested suites")
    files: list[ScenarioFile] = []
    for path in options.configs:
        try:
            files.append(load_scenarios(path))
        except AccordError as exc:
            rep.failure(str(exc))
    planned = list(_planned(files, options, suites, len(clients), rep))
    for result in _execute_all(planned, clients, options):
        results.append(result)
        rep.result(result)
    if options.matrix is not None:
        options.matrix.write_text(matrix_markdown(results, list(clients)))
    if options.grid is not None:
        options.grid.write_text(matrix_grid(results))
    rep.summary()
    return Outcome(rep.passed, rep.failed, results)


def run(addresses: Sequence[str], options: Options, out: TextIO) -> Outcome:
    """Connect to every ``HOST:PORT``, run, close. The last line written is the summary."""
    if options.handshake not in HANDSHAKES:
        raise ValueError(f"handshake must be one of {sorted(HANDSHAKES)}")
    clients: list[Client] = []
    try:
        for i, addr in enumerate(addresses):
            clients.append(connect(f"c{i}", addr, rpc_timeout=options.rpc_timeout, connect_timeout=options.connect_timeout))
    except AccordError as exc:
        for c in clients:
            c.close()
        rep = Reporter(out, options.as_json)
        rep.failure(str(exc))
        rep.summary()
        return Outcome(0, 1)
    try:
        return run_clients(clients, options, out)
    finally:
        for c in clients:
            c.close()
