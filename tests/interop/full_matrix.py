"""`make test-full`: the whole interop matrix for one pairing of servers.

Every script of every config x every assignment of the two servers to its actors x
every suite both servers support x both handshake modes; deep_random (2**841
assignments) runs a seeded sample of DEEP_SAMPLE on suite 1. Suites are spread over
independent pairs of server processes (ACCORD_INTEROP_SHARDS, default the CPU
count), each running JOBS runs at once. Each suite's detailed matrix is written as
soon as it is done ($INTEROP_MATRIX_DIR, default build/interop:
NAME-suite-N.md), and at the end the grid, script x suite -> passed/runs
(NAME-grid.md), which docs/INTEROP.md reproduces. ACCORD_INTEROP_SUITES (comma
separated) restricts the run to some suites, e.g. to finish a matrix in parts.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

from accord.interop.client import connect
from accord.interop.divergence import RunResult
from accord.interop.report import grid_table, matrix_grid, matrix_markdown
from tests.interop.test_tsmls_self import CONFIGS, SEED, all_scripts, run_matrix
from tests.interop.tsmls_peer import Peer

JOBS = 2
DEEP_SAMPLE = 4
SUITE = 1


def matrix_dir() -> Path:
    folder = Path(os.environ.get("INTEROP_MATRIX_DIR", Path(__file__).resolve().parents[2] / "build" / "interop"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def shared_suites(pair: list[Peer]) -> tuple[list[int], list[SimpleNamespace]]:
    """The suites both servers support, and (label, name) of each for the matrices."""
    clients = [connect(f"c{i}", p.address) for i, p in enumerate(pair)]
    try:
        names = [SimpleNamespace(label=c.label, name=c.name) for c in clients]
        return sorted(frozenset.intersection(*(c.suites for c in clients))), names
    finally:
        for c in clients:
            c.close()


def _wanted_suites(shared: list[int]) -> list[int]:
    asked = os.environ.get("ACCORD_INTEROP_SUITES", "")
    if not asked:
        return shared
    wanted = [int(x) for x in asked.split(",") if x.strip()]
    missing = set(wanted) - set(shared)
    assert not missing, f"ACCORD_INTEROP_SUITES names suites the servers do not share: {sorted(missing)}"
    return wanted


def full_matrix(start_pair: Callable[[], list[Peer]], name: str) -> list[RunResult]:
    """Run the whole matrix; every started server is stopped before returning."""
    shards = max(1, int(os.environ.get("ACCORD_INTEROP_SHARDS", os.cpu_count() or 1)))
    folder = matrix_dir()
    labels = [label for label in all_scripts() if not label.startswith("deep_random.json:")]
    pairs: list[list[Peer]] = []
    try:
        pairs.append(start_pair())
        shared, names = shared_suites(pairs[0])
        suites = _wanted_suites(shared)
        for _ in range(1, min(shards, len(suites))):
            pairs.append(start_pair())
        todo: queue.SimpleQueue[int] = queue.SimpleQueue()
        for s in suites:
            todo.put(s)
        results: list[RunResult] = []
        errors: list[BaseException] = []
        lock = threading.Lock()
        stop = threading.Event()  # set when the run is interrupted: no half-done suite is written

        def worker(pair: list[Peer]) -> None:
            try:
                while not stop.is_set():
                    try:
                        suite = todo.get_nowait()
                    except queue.Empty:
                        return
                    start = time.monotonic()
                    got, _ = run_matrix(pair, CONFIGS, suites=[suite], handshake="both", scripts=labels,
                                        max_assignments=4096, jobs=JOBS)
                    if suite == SUITE:
                        deep, _ = run_matrix(pair, CONFIGS, suites=[SUITE], handshake="both",
                                             scripts=["deep_random.json:random"], sample=DEEP_SAMPLE, seed=SEED)
                        got += deep
                    with lock:
                        if stop.is_set():
                            return
                        text = matrix_markdown(got, names)  # type: ignore[arg-type]
                        (folder / f"{name}-suite-{suite}.md").write_text(text)
                        results.extend(got)
                        print(f"{name}: suite {suite}: {sum(r.passed for r in got)}/{len(got)} passed "
                              f"in {time.monotonic() - start:.0f}s", flush=True)
            except BaseException as exc:  # reported by the caller
                stop.set()
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(p,), daemon=True) for p in pairs]
        for t in threads:
            t.start()
        try:
            for t in threads:
                t.join()
        except BaseException:
            with lock:
                stop.set()
            raise
        if errors:
            raise errors[0]
        if not os.environ.get("ACCORD_INTEROP_SUITES"):
            (folder / f"{name}-grid.md").write_text(matrix_grid(results))
        else:
            tag = os.environ["ACCORD_INTEROP_SUITES"].replace(",", "_")
            (folder / f"{name}-grid-{tag}.md").write_text(matrix_grid(results))
        return results
    finally:
        for pair in pairs:
            for p in pair:
                p.stop()


def grid_from_suite_files(name: str, folder: Path | None = None) -> str:
    """The grid rebuilt from the per-suite matrices already written (a matrix run
    in parts, or one stopped before its end): script x suite -> passed/runs."""
    folder = folder or matrix_dir()
    cells: dict[tuple[str, int], tuple[int, int]] = {}
    for path in sorted(folder.glob(f"{name}-suite-*.md")):
        for line in path.read_text().splitlines():
            parts = [p.strip() for p in line.strip("|").split("|")]
            if len(parts) != 5 or "/" not in parts[3] or not parts[1].isdigit():
                continue
            ok, runs = (int(x) for x in parts[3].split("/"))
            key = (parts[0], int(parts[1]))
            done, total = cells.get(key, (0, 0))
            cells[key] = (done + ok, total + runs)
    return grid_table(cells)


if __name__ == "__main__":  # python -m tests.interop.full_matrix PAIRING
    import sys

    print(grid_from_suite_files(sys.argv[1]), end="")
