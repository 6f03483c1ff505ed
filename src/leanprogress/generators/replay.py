"""``replay``: for a replayed trace state, its recorded tactic(s) hidden among tactics of other proofs."""

from __future__ import annotations

import math
import random
from typing import Any


class ReplayGenerator:
    """Proposes, for a replayed state, its recorded tactic among tactics of other proofs.

    Log-probabilities are drawn at random (seeded per state), so the recorded
    tactic is the generator's top choice only sometimes, as with a real
    model. Only recorded tactics can succeed in a replay environment.

    Args:
        env: a replay environment (anything with ``theorems``: name -> LeanDojo
            theorem dict with ``traced_tactics``), which supplies the tactics.
        distractors: other-proof tactics per state.
        seed: makes candidate lists and scores repeatable.
    """

    kind = "replay"

    def __init__(self, env: Any, distractors: int = 15, seed: int = 0):
        self.distractors = distractors
        self.seed = seed
        self._recorded: dict[str, list[tuple[str, str]]] = {}
        pool = []
        for name, thm in env.theorems.items():
            for step in thm["traced_tactics"]:
                self._recorded.setdefault(step["state_before"], []).append((name, step["tactic"]))
                pool.append((name, step["tactic"]))
        self._pool = pool

    def generate(self, state: str, prefix: str = "", n: int = 32) -> list[tuple[str, float]]:
        rng = random.Random(f"{self.seed}:{state}")
        recorded = self._recorded.get(state, [])
        names = {name for name, _ in recorded}
        tactics = list(dict.fromkeys(t for _, t in recorded))
        others = [t for name, t in self._pool if name not in names and t not in tactics]
        rng.shuffle(others)
        tactics += list(dict.fromkeys(others))[: self.distractors]
        scores = [math.log(rng.random() + 1e-9) for _ in tactics]
        ranked = sorted(zip(tactics, scores), key=lambda p: -p[1])
        return [(t, s) for t, s in ranked if t.startswith(prefix)][:n]
