"""How results are printed: one line per run, then exactly ``N passed, M failed``."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import TextIO

from accord.interop.client import Client
from accord.interop.divergence import RunResult


def result_json(r: RunResult) -> dict[str, object]:
    out: dict[str, object] = {
        "result": "pass" if r.passed else "fail",
        "config": r.config,
        "script": r.script,
        "suite": r.suite,
        "handshake": r.handshake,
        "roles": dict(r.roles),
        "seconds": round(r.seconds, 3),
    }
    if r.final_suite is not None and r.final_suite != r.suite:
        out["final_suite"] = r.final_suite
    if not r.passed:
        out.update(failed_step=r.failed_step, action=r.action, step=r.step_json, error=r.error)
        if r.divergence is not None:
            out["divergence"] = r.divergence.as_json()
    return out


def result_line(r: RunResult) -> str:
    head = f"{r.label} suite={r.suite} hs={r.handshake} roles={r.roles_text()}"
    if r.passed:
        return f"PASS {head} ({r.seconds:.2f}s)"
    where = f"step {r.failed_step} {r.action}" if r.failed_step is not None else "before the first step"
    why = r.divergence.summary() if r.divergence is not None else (r.error or "failed")
    return f"FAIL {head}: {where}: {why}"


class Reporter:
    def __init__(self, out: TextIO, as_json: bool) -> None:
        self.out = out
        self.as_json = as_json
        self.passed = 0
        self.failed = 0

    def _emit(self, text: str, obj: dict[str, object]) -> None:
        self.out.write((json.dumps(obj, sort_keys=True) if self.as_json else text) + "\n")
        self.out.flush()

    def client(self, c: Client) -> None:
        suites = sorted(c.suites)
        self._emit(f"# {c.label} = {c.address}: {c.name} suites={suites}", {"client": c.label, "address": c.address, "name": c.name, "suites": suites})

    def note(self, text: str) -> None:
        self._emit(f"# {text}", {"note": text})

    def result(self, r: RunResult) -> None:
        if r.passed:
            self.passed += 1
        else:
            self.failed += 1
        self._emit(result_line(r), result_json(r))

    def failure(self, text: str) -> None:
        """A failure that is not one run (a suite nobody shares, an unreadable file)."""
        self.failed += 1
        self._emit(f"FAIL {text}", {"result": "fail", "error": text})

    def summary(self) -> str:
        line = f"{self.passed} passed, {self.failed} failed"
        self.out.write(line + "\n")
        self.out.flush()
        return line


def short_roles(r: RunResult, limit: int = 120) -> str:
    """The role assignment, or for scripts with many actors a count per client."""
    text = r.roles_text()
    if len(text) <= limit:
        return text
    counts: dict[str, int] = defaultdict(int)
    for _, client in r.roles:
        counts[client] += 1
    first_actor, first_client = r.roles[0]
    per_client = ",".join(f"{c}x{n}" for c, n in sorted(counts.items()))
    return f"{first_actor}={first_client},... ({len(r.roles)} actors: {per_client})"


def matrix_markdown(results: list[RunResult], clients: list[Client]) -> str:
    """The matrix for docs/INTEROP.md: script x suite x handshake -> runs passed.

    A row lists every role assignment run; failing ones are named with the step
    and the first line of the reason, passing ones are only counted.
    """
    rows: dict[tuple[str, int, str], list[RunResult]] = defaultdict(list)
    for r in results:
        rows[(r.label, r.suite, r.handshake)].append(r)
    lines = ["| clients |", "| --- |"]
    lines += [f"| {c.label} = {c.name} |" for c in clients]
    lines += ["", "| script | suite | handshake | passed | failing role assignments |", "| --- | --- | --- | --- | --- |"]
    for (label, suite, hs), runs in sorted(rows.items()):
        ok = sum(r.passed for r in runs)
        bad = [r for r in runs if not r.passed]
        detail = "; ".join(
            f"{short_roles(r)}: step {r.failed_step} {r.action}: "
            + (r.divergence.summary() if r.divergence else (r.error or "")).splitlines()[0][:160].replace("|", "/")
            for r in bad[:3]
        )
        if len(bad) > 3:
            detail += f"; and {len(bad) - 3} more"
        lines.append(f"| {label} | {suite} | {hs} | {ok}/{len(runs)} | {detail} |")
    return "\n".join(lines) + "\n"


def matrix_grid(results: list[RunResult]) -> str:
    """The compact matrix: one row per script, one column per suite, each cell
    ``passed/runs`` over every role assignment and handshake mode run."""
    cells: dict[tuple[str, int], tuple[int, int]] = {}
    for r in results:
        ok, runs = cells.get((r.label, r.suite), (0, 0))
        cells[(r.label, r.suite)] = (ok + r.passed, runs + 1)
    return grid_table(cells)


def grid_table(cells: dict[tuple[str, int], tuple[int, int]]) -> str:
    """Render ``(script, suite) -> (passed, runs)`` as the script x suite grid."""
    suites = sorted({s for _, s in cells})
    scripts = sorted({label for label, _ in cells})
    lines = ["| script | " + " | ".join(str(s) for s in suites) + " |",
             "| --- |" + " --- |" * len(suites)]
    for label in scripts:
        row = [f"{cells[(label, s)][0]}/{cells[(label, s)][1]}" if (label, s) in cells else "" for s in suites]
        lines.append(f"| {label} | " + " | ".join(row) + " |")
    ok = sum(c[0] for c in cells.values())
    total = sum(c[1] for c in cells.values())
    lines += ["", f"{ok} passed, {total - ok} failed of {total} runs"]
    return "\n".join(lines) + "\n"
