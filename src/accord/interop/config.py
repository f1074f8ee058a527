"""Scenario files of the MLS interop harness: scripts, steps and their actors.

A scenario file is ``{"scripts": {name: [step, ...]}}``; a step is a JSON object with
``action`` and usually ``actor`` (format: tests/interop's test-config.md). Step
parameters are read the way the upstream Go runner's ``encoding/json`` reads them:
key names match case-insensitively (``changeCiphersuite`` is ``changeCipherSuite``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accord.errors import DecodeError


@dataclass(frozen=True, slots=True)
class Step:
    index: int
    action: str
    actor: str
    raw: Mapping[str, Any]

    def get(self, name: str, default: Any = None) -> Any:
        """The parameter ``name``, matching keys case-insensitively like Go's json."""
        if name in self.raw:
            return self.raw[name]
        folded = name.casefold()
        for key, value in self.raw.items():
            if key.casefold() == folded:
                return value
        return default

    def flag(self, *names: str) -> bool:
        """A boolean flag that the scenario files spell more than one way.

        The files use ``externalTree`` in one place and ``external_tree`` in another
        for the same flag; both spellings mean the flag (the upstream runner reads
        only the one its struct tag names and silently ignores the other).
        """
        return any(bool(self.get(n, False)) for n in names)

    def describe(self) -> str:
        return json.dumps(dict(self.raw), sort_keys=True)


@dataclass(frozen=True, slots=True)
class Script:
    config: str
    name: str
    steps: tuple[Step, ...]

    @property
    def label(self) -> str:
        return f"{self.config}:{self.name}"

    def actors(self) -> tuple[str, ...]:
        """Every actor of the script, in order of first appearance.

        Besides each step's ``actor``, the members named by ``createGroup``, the
        ``joiner`` of ``externalJoin`` and ``newMemberAddProposal`` and the
        ``signer`` of ``addExternalSigner`` are actors (as in the upstream runner).
        """
        seen: dict[str, None] = {}
        for step in self.steps:
            if step.actor:
                seen.setdefault(step.actor, None)
            if step.action == "createGroup":
                for m in step.get("members") or []:
                    seen.setdefault(str(m), None)
            elif step.action in ("externalJoin", "newMemberAddProposal"):
                joiner = step.get("joiner")
                if joiner:
                    seen.setdefault(str(joiner), None)
            elif step.action == "addExternalSigner":
                signer = step.get("signer")
                if signer:
                    seen.setdefault(str(signer), None)
        return tuple(seen)

    def creators(self) -> tuple[str, ...]:
        """The actors that create a group (``createGroup``), in order."""
        return tuple(dict.fromkeys(s.actor for s in self.steps if s.action == "createGroup" and s.actor))


@dataclass(frozen=True, slots=True)
class ScenarioFile:
    name: str
    scripts: tuple[Script, ...]

    def __iter__(self) -> Iterator[Script]:
        return iter(self.scripts)


def parse_scenarios(name: str, data: Any) -> ScenarioFile:
    if not isinstance(data, dict) or not isinstance(data.get("scripts"), dict):
        raise DecodeError(f"{name}: expected an object with a 'scripts' object")
    scripts = []
    for script_name, raw_steps in data["scripts"].items():
        if not isinstance(raw_steps, list):
            raise DecodeError(f"{name}:{script_name}: a script is a list of steps")
        steps = []
        for i, raw in enumerate(raw_steps):
            if not isinstance(raw, dict) or not isinstance(raw.get("action"), str):
                raise DecodeError(f"{name}:{script_name}: step {i} has no action")
            actor = raw.get("actor", "")
            if not isinstance(actor, str):
                raise DecodeError(f"{name}:{script_name}: step {i} has a non-string actor")
            steps.append(Step(i, raw["action"], actor, raw))
        scripts.append(Script(name, str(script_name), tuple(steps)))
    return ScenarioFile(name, tuple(scripts))


def load_scenarios(path: Path) -> ScenarioFile:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DecodeError(f"{path}: {exc}") from exc
    return parse_scenarios(path.name, data)


def default_config_dir() -> Path:
    """The scenario files kept in the repository (tests/interop/configs)."""
    return Path(__file__).resolve().parents[3] / "tests" / "interop" / "configs"
