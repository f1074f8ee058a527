"""``make fuzz-report``: how much of each target's modules its corpus reaches.

For every target, in a fresh process (so imports count too), coverage.py
measures the lines of the target's modules that replaying its corpus and
seeds executes. The table, with the seconds each target has been fuzzed in
total (tests/fuzz/hours.json), replaces the part of docs/SECURITY-TESTING.md
between its two markers.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
DOC = ROOT / "docs" / "SECURITY-TESTING.md"
BEGIN, END = "<!-- fuzz-table:begin -->", "<!-- fuzz-table:end -->"


def measure(name: str) -> dict[str, object]:
    import coverage
    cov = coverage.Coverage(data_file=None, branch=False)
    cov.start()
    from tests.fuzz import targets
    target = targets.TARGETS[name]
    inputs = [p.read_bytes() for p in sorted((HERE / "corpus" / name).glob("*"))]
    inputs += list(target.seeds())
    for data in inputs:
        target.run(data)
    cov.stop()
    targets.close()
    rows = []
    for module in target.modules:
        mod = importlib.import_module(module)
        files = [mod.__file__] if not hasattr(mod, "__path__") else [
            str(p) for p in Path(mod.__path__[0]).glob("*.py")]
        statements = missing = 0
        for path in files:
            _, st, _, miss, _ = cov.analysis2(path)
            statements += len(st)
            missing += len(miss)
        rows.append((module, statements - missing, statements))
    return {"inputs": len(inputs), "modules": rows}


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        print(json.dumps(measure(sys.argv[2])))
        return
    from tests.fuzz.targets import TARGETS
    hours = json.loads((HERE / "hours.json").read_text()) if (HERE / "hours.json").exists() else {}
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]))
    lines = [BEGIN, "", "| target | corpus + seeds | module | lines covered | fuzzed in total |",
             "| --- | ---: | --- | ---: | ---: |"]
    for name in sorted(TARGETS):
        out = subprocess.run([sys.executable, "-m", "tests.fuzz.report", "--one", name], cwd=ROOT,
                             env=env, capture_output=True, text=True, check=True).stdout
        result = json.loads(out.strip().splitlines()[-1])
        for i, (module, covered, total) in enumerate(result["modules"]):
            pct = f"{covered}/{total} ({100 * covered / max(total, 1):.0f}%)"
            first = (f"`{name}`", str(result["inputs"]),
                     f"{hours.get(name, 0) / 3600:.2f} h") if i == 0 else ("", "", "")
            lines.append(f"| {first[0]} | {first[1]} | `{module}` | {pct} | {first[2]} |")
        print(name, "measured")
    lines += ["", END]
    text = DOC.read_text()
    head, rest = text.split(BEGIN, 1)
    DOC.write_text(head + "\n".join(lines) + rest.split(END, 1)[1])


if __name__ == "__main__":
    main()
