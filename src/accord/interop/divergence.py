"""What a failed run reports: the step that failed and, for a disagreement, the values."""

from __future__ import annotations

from dataclasses import dataclass, field

from accord.errors import AccordError


def short_hex(value: bytes, limit: int = 16) -> str:
    h = value.hex()
    return h if len(h) <= 2 * limit else f"{h[: 2 * limit]}..({len(value)} bytes)"


@dataclass(frozen=True, slots=True)
class Divergence:
    """Members that should hold the same value and do not.

    ``what`` names the value (StateAuth, Export, epoch_authenticator, plaintext,
    authenticated_data); ``values`` maps each member (``actor(client)``) to what it
    answered, in the order the members were asked. The first entry is the reference;
    ``first_difference`` is the first member that disagrees with it.
    """

    what: str
    values: tuple[tuple[str, bytes], ...]

    @property
    def first_difference(self) -> tuple[tuple[str, bytes], tuple[str, bytes]]:
        ref = self.values[0]
        for member in self.values[1:]:
            if member[1] != ref[1]:
                return ref, member
        raise ValueError("no member differs")

    def summary(self) -> str:
        (a, va), (b, vb) = self.first_difference
        return f"{self.what} differs: {a}={short_hex(va)} but {b}={short_hex(vb)}"

    def as_json(self) -> dict[str, object]:
        (a, _), (b, _) = self.first_difference
        return {
            "value": self.what,
            "reference": a,
            "first_differing": b,
            "members": {m: v.hex() for m, v in self.values},
        }


def find_divergence(what: str, values: list[tuple[str, bytes]]) -> Divergence | None:
    if len({v for _, v in values}) > 1:
        return Divergence(what, tuple(values))
    return None


class StepFailed(AccordError):
    """A step could not be carried out, or members disagree after it."""

    code = "step_failed"

    def __init__(self, message: str, divergence: Divergence | None = None) -> None:
        super().__init__(message)
        self.divergence = divergence


@dataclass(slots=True)
class RunResult:
    """One script x role assignment x suite (x handshake mode)."""

    config: str
    script: str
    suite: int
    handshake: str
    roles: tuple[tuple[str, str], ...]  # (actor, client label)
    passed: bool
    seconds: float = 0.0
    failed_step: int | None = None
    action: str | None = None
    step_json: str | None = None
    error: str | None = None
    divergence: Divergence | None = None
    final_suite: int | None = None  # differs from `suite` after a reinit that changed it
    notes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.config}:{self.script}"

    def roles_text(self) -> str:
        return ",".join(f"{a}={c}" for a, c in self.roles)
