"""``replay``: for a replayed state, its recorded tactics hidden among tactics of other proofs."""

from __future__ import annotations

import math
import random
from typing import Any


class ReplayGenerator:
    """Proposes, for a replayed state, the tactics recorded from it among tactics of other theorems.

    Log-probabilities are random (seeded per state), so which candidate the
    generator prefers is partly chance, as with a real model. With
    ``recorded_draws = k`` a recorded tactic's probability is the best of
    ``k`` uniform draws and a distractor's is one draw: ``k = 1`` is a
    generator that knows nothing (every order equally likely), larger ``k``
    a generator that usually ranks tactics that work first. Between several
    recorded tactics of one state (proofs of different lengths) it has no
    preference. Only recorded tactics succeed in a
    :class:`~leanprogress.search.ReplayEnvironment`; the recorded tactics
    proposed for a state are those that environment runs from it
    (``env.runnable(state)``).

    Args:
        env: a :class:`~leanprogress.search.ReplayEnvironment` (or anything
            with ``theorems``, ``states(name)`` and ``runnable(state)``),
            which supplies the tactics.
        distractors: tactics of other theorems added per state.
        seed: makes candidate lists and scores repeatable.
        recorded_draws: the generator's signal (see above), >= 1.

    Example:
        >>> from leanprogress.search import ReplayEnvironment
        >>> env = ReplayEnvironment([{"full_name": "t", "traced_tactics": [
        ...     {"tactic": "simp", "state_before": "⊢ True", "state_after": "no goals"}]}])
        >>> [t for t, _ in ReplayGenerator(env, distractors=0).generate("⊢ True")]
        ['simp']
    """

    kind = "replay"

    def __init__(self, env: Any, distractors: int = 15, seed: int = 0, recorded_draws: int = 1):
        if distractors < 0:
            raise ValueError(f"distractors must be >= 0, got {distractors}")
        if recorded_draws < 1:
            raise ValueError(f"recorded_draws must be >= 1, got {recorded_draws}")
        self.distractors = distractors
        self.seed = seed
        self.recorded_draws = recorded_draws
        self._env = env
        pool: list[tuple[str, str]] = []
        for name in env.theorems:
            for state, tactics in env.states(name).items():
                pool += [(name, tactic) for tactic in tactics]
        self._pool = pool

    def generate(self, state: str, prefix: str = "", n: int = 32) -> list[tuple[str, float]]:
        rng = random.Random(f"{self.seed}:{state}")
        recorded = self._env.runnable(state)
        names = {name for name, _ in recorded}
        tactics = list(dict.fromkeys(t for _, t in recorded))
        n_recorded = len(tactics)
        others = [t for name, t in self._pool if name not in names and t not in tactics]
        rng.shuffle(others)
        tactics += list(dict.fromkeys(others))[: self.distractors]
        scores = []
        for i in range(len(tactics)):
            draws = self.recorded_draws if i < n_recorded else 1
            scores.append(math.log(max(rng.random() for _ in range(draws)) + 1e-9))
        ranked = sorted(zip(tactics, scores), key=lambda p: -p[1])
        return [(t, s) for t, s in ranked if t.startswith(prefix)][:n]
