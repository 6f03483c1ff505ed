"""Does the replay invent proofs? Replayed proofs checked against the recordings, this code and an earlier one.

For each trace file of the shared data (the 100-theorem Mathlib sample, the
miniF2F-valid search traces), runs ``prove``'s default replay search (the
``replay`` generator with 15 distractors, seed 0, 100 expansions) and checks
every proof found with :func:`leanprogress.search.audit.audit_replayed_proofs`:
proofs with a step that contradicts a recorded ``state_after``, proofs shorter
than every recorded proof of their theorem (tactics counted as LeanDojo lists
them: a tactic counts itself and the tactics listed inside it), proofs that run
a nested tactic on its own, proofs with a step never recorded from its state.
The last column is the plain count (proofs with fewer tactics than LeanDojo
lists for every recorded proof of the theorem), which also counts a correct
one-step replay of ``induction ... with | zero => ... | succ ... => ...``
against its three listed tactics.

``--before REV`` (default: the commit before the replay followed
``state_after``) runs the same search with the code at git revision ``REV``
in a subprocess; its proofs are checked by this checkout's audit. For each
file it also says whether the two versions give the same replay graph
(every state reached from a theorem's start through the generator's
candidates for 5 seeds, the candidates with their log-probabilities, and
what each candidate does): where they do, figures built on the replay of that
file (``bench_search.py``) are unchanged.

    python benchmarks/bench_replay.py [--before 0c388c5]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from _shared import MATHLIB_SAMPLE, MINIF2F_SEARCH_TRACES, json_at_revision, require

BEFORE = "0c388c5"
FILES = {"Mathlib sample": MATHLIB_SAMPLE, "miniF2F search traces": MINIF2F_SEARCH_TRACES}


def replay(path: Path) -> dict:
    """Results of the default replay search over ``path``, and the replay graph (as JSON-able data)."""
    from leanprogress.generators import ReplayGenerator
    from leanprogress.search import BestFirstProver, ReplayEnvironment

    entries = [t for t in json.loads(path.read_text(encoding="utf-8")) if t.get("traced_tactics")]
    env = ReplayEnvironment(entries)
    prover = BestFirstProver(env, ReplayGenerator(env))
    rows = [asdict(prover.prove(name)) for name in dict.fromkeys(t["full_name"] for t in entries)]
    graph = {}
    for seed in range(5):
        gen = ReplayGenerator(env, distractors=15, seed=seed, recorded_draws=3)
        for name in env.names():
            try:
                start, _ = env.start(name)
            except LookupError:
                continue
            todo, seen = [start], {start}
            while todo:
                state = todo.pop()
                out = []
                for tactic, logprob in gen.generate(state, "", 32):
                    r = env.run_tactic((name, state), tactic)
                    out.append([tactic, logprob, r.kind, r.state])
                    if r.kind == "state" and r.state not in seen:
                        seen.add(r.state)
                        todo.append(r.state)
                graph[f"{seed}\x00{name}\x00{state}"] = out
    return {"rows": rows, "graph": graph}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", default=BEFORE, help=f"git revision to compare with (default {BEFORE}); '' for none")
    ap.add_argument("--replay-only", nargs=2, metavar=("TRACES", "OUT"), help=argparse.SUPPRESS)
    opts = ap.parse_args()
    if opts.replay_only:
        Path(opts.replay_only[1]).write_text(json.dumps(replay(Path(opts.replay_only[0]))), encoding="utf-8")
        return
    require(*FILES.values())
    from leanprogress.search.audit import audit_replayed_proofs

    print("| traces | code | proved | contradict a recorded state_after | shorter than every recorded proof "
          "| run a nested tactic alone | step never recorded | any of these | fewer tactics than LeanDojo lists |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    same_graph, notes = {}, []
    for label, path in FILES.items():
        theorems = json.loads(path.read_text(encoding="utf-8"))
        runs = {"this checkout": replay(path)}
        if opts.before:
            old = json_at_revision(opts.before, __file__, ["--replay-only", str(path), "{tmp}/out.json"], "out.json")
            if old is not None:
                runs = {f"before ({opts.before})": old, **runs}
        listed = {}
        for t in theorems:
            n = len(t.get("traced_tactics") or [])
            listed[t["full_name"]] = min(n, listed.get(t["full_name"], n))
        for code, run in runs.items():
            a = audit_replayed_proofs(theorems, run["rows"])
            # The plain count: a replayed tactic counts 1 even when LeanDojo lists tactics nested in it.
            fewer = sum(r["status"] == "proved" and len(r["proof"]) < listed[r["theorem"]] for r in run["rows"])
            print(f"| {label} | {code} | {a.proved}/{len(run['rows'])} | {a.contradicting} | {a.shorter} "
                  f"| {a.nested_alone} | {a.unrecorded} | {a.invented} | {fewer} |")
        if len(runs) == 2:
            old, new = (r["graph"] for r in runs.values())
            differ = sum(old.get(k) != new.get(k) for k in set(old) | set(new))
            same_graph[label] = "identical" if not differ else f"{differ} of {len(set(old) | set(new))} states differ"
        rows = runs["this checkout"]["rows"]
        unreplayable = [r for r in rows if r["status"] == "error"]
        if unreplayable:
            notes.append(f"{label}: {len(unreplayable)} theorem(s) not replayed by this checkout, e.g. "
                         f"{unreplayable[0]['error']}")
    print()
    for label, what in same_graph.items():
        print(f"replay graph of the {label}, before against this checkout: {what}")
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()
