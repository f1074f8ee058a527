"""Which client plays which actor.

The upstream runner runs a script once for every assignment of the given clients to
its actors (``clients ** actors`` runs). ``assignments`` gives that full matrix, or a
fixed, seeded sample of it that always contains, for each client, a run where that
client creates the group.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass

Assignment = tuple[int, ...]  # client index per actor, in Script.actors() order


@dataclass(frozen=True, slots=True)
class Plan:
    assignments: tuple[Assignment, ...]
    total: int  # size of the full matrix
    note: str = ""  # why fewer than `total` runs are made, if they are

    @property
    def complete(self) -> bool:
        return len(self.assignments) == self.total


def full_matrix(n_actors: int, n_clients: int) -> list[Assignment]:
    return list(itertools.product(range(n_clients), repeat=n_actors))


def sample(
    actors: Sequence[str],
    creators: Sequence[str],
    n_clients: int,
    k: int,
    seed: int,
    key: str,
) -> list[Assignment]:
    """Up to ``max(k, n_clients)`` distinct assignments, the same for the same inputs.

    The first ``n_clients`` put every group creator on client 0, 1, ... in turn, with
    the other actors drawn at random; the rest are drawn at random. ``key`` (the
    script's label) gives every script its own stream, independent of run order.
    """
    rng = random.Random(f"{seed}:{key}")
    total = n_clients ** len(actors)
    want = min(max(k, n_clients), total)
    creator_slots = [i for i, a in enumerate(actors) if a in set(creators)]
    chosen: dict[Assignment, None] = {}
    others = [i for i in range(len(actors)) if i not in creator_slots]
    for client in range(n_clients):
        combo = [rng.randrange(n_clients) for _ in actors]
        for slot in creator_slots:
            combo[slot] = client
        # A creator run is about interop: if the draw put everyone on the creator's
        # client, move one other actor to another client.
        if n_clients > 1 and others and all(combo[i] == client for i in others):
            combo[rng.choice(others)] = rng.choice([c for c in range(n_clients) if c != client])
        chosen.setdefault(tuple(combo), None)
    # Bounded: each draw is a fresh uniform assignment; stop after a fixed budget
    # even if duplicates keep coming (only possible when `want` is near `total`).
    for _ in range(64 * want + 64):
        if len(chosen) >= want:
            break
        chosen.setdefault(tuple(rng.randrange(n_clients) for _ in actors), None)
    if len(chosen) < want:
        for fill in itertools.product(range(n_clients), repeat=len(actors)):
            if len(chosen) >= want:
                break
            chosen.setdefault(fill, None)
    return list(chosen)


def plan(
    actors: Sequence[str],
    creators: Sequence[str],
    n_clients: int,
    *,
    sample_k: int | None,
    seed: int,
    key: str,
    max_assignments: int,
) -> Plan:
    """The assignments to run for one script: the full matrix, or a seeded sample.

    Without ``sample_k`` the full matrix is run, unless it has more than
    ``max_assignments`` runs (deep_random has dozens of actors: 2**actors runs never
    end); then a seeded sample of ``max_assignments`` is run and the plan says so.
    """
    total = n_clients ** len(actors)
    size = f"{n_clients}**{len(actors)}" if total > 10**6 else str(total)
    if sample_k is not None:
        runs = sample(actors, creators, n_clients, sample_k, seed, key)
        note = "" if len(runs) == total else f"seeded sample of {len(runs)} of {size} assignments (--sample {sample_k} --seed {seed})"
        return Plan(tuple(runs), total, note)
    if total <= max_assignments:
        return Plan(tuple(full_matrix(len(actors), n_clients)), total)
    runs = sample(actors, creators, n_clients, max_assignments, seed, key)
    note = (
        f"full matrix has {size} assignments, more than "
        f"--max-assignments {max_assignments}: ran a seeded sample of {len(runs)} (--seed {seed})"
    )
    return Plan(tuple(runs), total, note)
