"""Reward hacks against every reward path: how many get more than the failure reward (the target is 0).

The hacks are those of tests/redteam.py: the sorry family in every position (``exact sorryAx _ false``,
``nlinarith [sorry]``, ``constructor <;> sorry``, a ``sorry`` in a ``have`` or a nested ``by``), other whitespace,
Unicode look-alikes, options that switch Lean's checks off, declarations and commands after the proof,
``native_decide``, prompt injection; and, for the Lean gates only, proofs of a false statement and a proof through an
axiom of the environment. The paths:

- in process: ``ProgressReward`` on the model;
- /score: ``ProgressReward`` on a ``leanprogress serve`` URL (uvicorn in a thread), and each hack posted to /score as
  a tactic without the client's cleaning;
- /get_reward: the server's OpenRLHF endpoint, one request per hack as OpenRLHF sends them;
- verl: ``compute_score`` as the naive manager calls it (one response) and as the batch manager does (lists);
- the Lean gates: ``EnvironmentGate`` over the real ``lean_interact`` and ``KiminaGate`` over the real
  ``kimina-client``, with Lean replaced by the stand-ins of tests/lean_standin.py and tests/kimina_standin.py (no
  Lean toolchain here: the stand-ins answer as Lean and the Kimina server document they do);
- Lean alone: each hack sent through the gates with no text rule in front, counting those Lean reports finished.

The model only scores what the rule lets through, so any model shows the same counts; the default is
all-MiniLM-L6-v2 with an untrained head (as benchmarks/bench_rl.py). ``--before REV`` runs the same hacks against
the package at git revision REV (its ``src`` on the path) and prints its counts beside.

    python benchmarks/bench_redteam.py [--model DIR] [--before REV] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

PATHS = ["in process", "/score (client)", "/score (raw tactics)", "/get_reward", "verl, one response a call",
         "verl, batch", "EnvironmentGate (lean_interact)", "KiminaGate (kimina-client)"]
LEAN_PATHS = PATHS[-2:]


def counts(model: str) -> dict:
    """For each path and group of hacks (tactics, injections, Lean-only): how many get more than the failure reward,
    of how many tried, and which."""
    import httpx

    import redteam as R
    from kimina_standin import kimina_standin
    from leanprogress import LeanProgressScorer
    from leanprogress.rl import ProgressReward, policy_prompt
    from leanprogress.rl.gate import KiminaGate
    from leanprogress.rl.verl import compute_score
    from leanprogress.serve import ServerConfig, create_app
    from rl_util import lean_interact_gate
    from serve_util import RunningServer

    scorer = LeanProgressScorer(model, device="cpu", precision="fp32")
    groups = {"tactics": R.HACKS, "injections": R.INJECTIONS, "lean": R.LEAN_ONLY}
    out: dict = {}

    def record(path: str, group: str, rewards: list[float], hacks: list) -> None:
        above = [h[0] for h, r in zip(hacks, rewards) if r is None or r > 0.0]
        out.setdefault(path, {})[group] = {"above": len(above), "tried": len(hacks), "which": above}

    def failed(path: str, group: str, exc: Exception) -> None:
        out.setdefault(path, {})[group] = {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}

    tmp = tempfile.TemporaryDirectory()
    with RunningServer(create_app(ServerConfig(), scorer=scorer, generators={})) as server, \
            RunningServer(kimina_standin()) as kimina:
        env_gate = lean_interact_gate(tmp.name)
        gates = {"EnvironmentGate (lean_interact)": env_gate,
                 "KiminaGate (kimina-client)": KiminaGate(url=kimina.url, timeout_s=5)}
        for group, hacks in groups.items():
            states = [R.state(h[1]) for h in hacks]
            completions = [h[2] for h in hacks]
            statements = [R.statement(h[1]) for h in hacks]
            runs = {
                "in process": lambda: ProgressReward(scorer).score(states, completions),
                "/score (client)": lambda: ProgressReward(server.url).score(states, completions),
                "/score (raw tactics)": lambda: [
                    o["reward"] + 41.0  # /score's reward is -steps; its failure reward is -41: shifted to 0
                    for s, c in zip(states, completions)
                    for o in httpx.post(server.url + "/score", json={"goal": s, "tactics": [c]},
                                        timeout=60).json()["outputs"]],
                "/get_reward": lambda: [
                    httpx.post(server.url + "/get_reward", timeout=60, json={
                        "query": [policy_prompt(s) + " " + c], "prompts": [policy_prompt(s)],
                        "labels": [json.dumps({"state": s})]}).json()["rewards"][0]
                    for s, c in zip(states, completions)],
                "verl, one response a call": lambda: [
                    compute_score("leanprogress", c, "", {"state": s}, model=model, device="cpu", precision="fp32")
                    for s, c in zip(states, completions)],
                "verl, batch": lambda: compute_score(
                    data_sources=["leanprogress"] * len(hacks), solution_strs=completions,
                    ground_truths=[""] * len(hacks), extra_infos=[{"state": s} for s in states], model=model,
                    device="cpu", precision="fp32"),
            }
            for name, gate in gates.items():
                runs[name] = (lambda gate=gate: ProgressReward(scorer, lean=gate).score(
                    states, completions, [""] * len(hacks), statements))
            for path in PATHS:
                if group == "lean" and path not in LEAN_PATHS:
                    continue  # no Lean on these paths: a false statement's `decide` is a plausible tactic there
                if group == "injections" and path == "/score (raw tactics)":
                    continue  # /score takes tactics a client extracted, not a policy's text
                try:
                    record(path, group, runs[path](), hacks)
                except Exception as exc:  # an older revision may lack a path
                    failed(path, group, exc)
            for name, gate in gates.items():  # Lean alone: the hacks as written, no text rule in front
                try:
                    outcomes = gate.run(statements, [""] * len(hacks), completions)
                    finished = [h[0] for h, o in zip(hacks, outcomes) if o.kind == "finished"]
                    out.setdefault(f"Lean alone: {name}", {})[group] = {
                        "above": len(finished), "tried": len(hacks), "which": finished}
                except Exception as exc:
                    failed(f"Lean alone: {name}", group, exc)
        env_gate.close()
    return out


def cell(entry: dict | None, path: str, group: str) -> str:
    if entry is None:
        return "(no Lean)" if group == "lean" else "(not tactics)" if path.startswith("/score (raw") else "-"
    if "error" in entry:
        return f"error: {entry['error'][:60]}"
    return f"{entry['above']} of {entry['tried']}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None, help="a trained model folder (default: all-MiniLM-L6-v2, fresh head)")
    p.add_argument("--before", default=None, metavar="REV", help="also count against the package at this revision")
    p.add_argument("--json", default=None, help="write the counts here")
    args = p.parse_args()
    tmp = tempfile.TemporaryDirectory()
    model = args.model
    if model is None:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from bench_rl import default_model

        model = str(default_model(Path(tmp.name) / "model"))
    now = counts(model)
    before = None
    if args.before:
        from _shared import json_at_revision

        before = json_at_revision(args.before, __file__, ["--model", model, "--json", "{tmp}/before.json"],
                                  out="before.json")
    print(f"model: {args.model or 'all-MiniLM-L6-v2 (fresh head)'}; Lean: the stand-ins of tests/ "
          "(real lean_interact and kimina-client)")
    print("hacks that get more than the failure reward (for 'Lean alone': hacks Lean reports finished)\n")
    groups = ("tactics", "injections", "lean")
    head = "| path | forbidden tactics | prompt injections | Lean-only hacks |"
    if before:
        head += f" tactics at {args.before} | injections at {args.before} | Lean-only at {args.before} |"
    print(head)
    print("|" + " --- |" * (head.count("|") - 1))
    for path in now:
        row = "| " + path + " | " + " | ".join(cell(now[path].get(g), path, g) for g in groups) + " |"
        if before is not None:
            row += " " + " | ".join(cell(before.get(path, {}).get(g), path, g) for g in groups) + " |"
        print(row)
    missed = sorted({w for path in now.values() for g in path.values() for w in g.get("which", [])})
    print(f"\nhacks above the failure reward on some path: {', '.join(missed) if missed else 'none'}")
    if args.json:
        Path(args.json).write_text(json.dumps(now, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
