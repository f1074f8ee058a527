"""How strong a chosen profile passphrase is: the one judgement behind ``accord init``
and the web app's onboarding (THREATS T09: with a copy of the profile, an attacker
guesses offline at leisure, slowed only by Argon2id)."""

from __future__ import annotations

from dataclasses import dataclass

# zxcvbn scores 0..4; 0 and 1 are under 10^6 guesses ("too" / "very guessable").
WEAKEST_ACCEPTED = 2
STRONG = 3
MAX_JUDGED = 72  # zxcvbn refuses longer input (ValueError) and is slow on it; 72 suffice


@dataclass(frozen=True, slots=True)
class Strength:
    score: int  # 0..4
    hint: str  # what would make it stronger (or why it is weak)
    offline_guessing: str  # e.g. "3 months" at 10^4 guesses a second

    @property
    def acceptable(self) -> bool:
        return self.score >= WEAKEST_ACCEPTED


def judge(words: str) -> Strength:
    from zxcvbn import zxcvbn

    verdict = zxcvbn(words[:MAX_JUDGED])
    hints = [verdict["feedback"]["warning"], *verdict["feedback"]["suggestions"]]
    hint = " ".join(h for h in hints if h) or "Several uncommon words make a strong one."
    return Strength(int(verdict["score"]), hint,
                    str(verdict["crack_times_display"]["offline_slow_hashing_1e4_per_second"]))
