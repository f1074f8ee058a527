"""Fuzz one target with atheris: ``python -m tests.fuzz.one TARGET [libFuzzer flags] [CORPUS...]``.

Run by ``tests.fuzz.run`` (``make fuzz``), which chooses the flags. The
project's modules are instrumented for coverage; the target is then fed
until libFuzzer's ``-max_total_time`` or a crash.
"""

from __future__ import annotations

import sys

import atheris


def main() -> None:
    name = sys.argv[1]
    with atheris.instrument_imports(include=["accord"]):
        from tests.fuzz.targets import TARGETS

        import accord.client  # noqa: F401  (instrument the client-side decoders too)
        import accord.content  # noqa: F401
        import accord.mls  # noqa: F401
        import accord.privacy  # noqa: F401
        import accord.server  # noqa: F401
        import accord.transparency  # noqa: F401
        import accord.wire  # noqa: F401
    run = TARGETS[name].run
    # libFuzzer's -merge re-runs argv[0] through the shell: make that this same command.
    again = f"{sys.executable} -m tests.fuzz.one {name}"
    atheris.Setup([again, *sys.argv[2:]], run)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
