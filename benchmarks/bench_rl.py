"""RL reward throughput: rewards per second for 1 and 64 completions per call, in process and through the server.

The completions are the recorded tactics of the miniF2F-valid search traces (real states, the style a step-level
policy sees), each call a GRPO-like batch: with 64 completions, 8 states with 8 completions each (recorded tactics
and tactics of other states, some wrapped as a policy emits them: code fences, a leading `by`). The model is the
default encoder, all-MiniLM-L6-v2, with a LeanProgress head (untrained: the speed of a forward pass does not
depend on the weights) unless --model names a trained folder.

- in process: ProgressReward on a model folder (one padded pass per call);
- server: `leanprogress serve`'s app on loopback (uvicorn in a thread), ProgressReward on its URL (one /score
  request per distinct state, up to 4 at a time).

    python benchmarks/bench_rl.py [--model DIR] [--seconds 10] [--rounds 3] [--precision auto] [--kind cross|group]
    python benchmarks/bench_rl.py --kinds          # encoder kinds x precisions at 8, 32, 64, 256 completions per state

``--kind group`` runs the table above with the group encoder kind (``leanprogress.batch_layout``: a state's
completions read against one copy of it). ``--kinds`` prints, in process, rewards per second for the
original (one fp32 cross-encoder pass per completion, as the published LeanProgress reward was computed), the
cross-encoder and the group kind in fp32 and bf16, for calls of 8 states x 8 completions, 2 x 32, 1 x 64 and
1 x 256, in alternating rounds. Both kinds are the same weights (the default encoder with a fresh head) read in
the two layouts: a forward pass costs the same whatever the weights.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _shared import SEARCH_TRACES, machine, require

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def default_model(folder: Path, kind: str = "cross") -> Path:
    """The bundled all-MiniLM-L6-v2 with a fresh one-number head and LeanProgress settings of encoder ``kind``."""
    from leanprogress.config import ModelSettings
    from leanprogress.encoder import default_encoder_path, load_regression_model, load_tokenizer

    encoder = default_encoder_path()
    load_regression_model(str(encoder), role="encoder", num_labels=1).save_pretrained(folder)
    load_tokenizer(str(encoder)).save_pretrained(folder)
    ModelSettings(max_length=256, base_model="all-MiniLM-L6-v2", canonicalize_goals=True,
                  goal_from="state_before", encoder_kind=kind).save(folder)
    return folder


def kind_copy(model: str, folder: Path, kind: str) -> str:
    """A copy of a model folder whose settings say encoder ``kind`` (the same weights read in the other layout)."""
    import shutil

    from leanprogress.config import ModelSettings

    shutil.copytree(model, folder, ignore=shutil.ignore_patterns("checkpoints"))
    settings = ModelSettings.load(folder)
    settings.encoder_kind = kind
    ModelSettings(**{**settings.__dict__, "format_version": 1}).save(folder)
    return str(folder)


class OneByOne:
    """The original scoring: one forward pass per completion (a scorer whose predict_batch calls predict)."""

    def __init__(self, scorer):
        self.scorer, self.settings, self.model_name = scorer, scorer.settings, scorer.model_name

    def predict_batch(self, goals, tactics, prefixes=None):
        return [self.scorer.predict(g, t, p) for g, t, p in zip(goals, tactics, prefixes)]


def batches(n_calls: int, per_call: int, steps: list[dict], seed: int = 0,
            per_state: int = 8) -> list[tuple[list, list, list]]:
    """``n_calls`` calls of ``per_call`` completions: groups of up to ``per_state`` completions on one state."""
    rng = random.Random(seed)
    tactics = [s["tactic"] for s in steps]
    wraps = ["{}", "```lean\n{}\n```", "by {}", "{}\n\nThis should close the goal."]
    out = []
    for _ in range(n_calls):
        states, completions, prefixes = [], [], []
        while len(completions) < per_call:
            step = rng.choice(steps)
            for _ in range(min(per_state, per_call - len(completions))):
                tactic = step["tactic"] if rng.random() < 0.3 else rng.choice(tactics)
                states.append(step["state_before"])
                prefixes.append(step["prefix"])
                completions.append(rng.choice(wraps).format(tactic))
        out.append((states, completions, prefixes))
    return out


def measure(reward, calls, seconds: float, at_least: int = 3) -> tuple[float, int]:
    """Rewards per second over back-to-back calls for about ``seconds`` (at least ``at_least`` calls)."""
    n = done = 0
    t0 = time.perf_counter()
    while n < at_least or time.perf_counter() - t0 < seconds:
        states, completions, prefixes = calls[n % len(calls)]
        reward.score(states, completions, prefixes)
        done += len(completions)
        n += 1
    return done / (time.perf_counter() - t0), n


def kinds_table(args, steps: list[dict], model: str, tmp: Path) -> list[dict]:
    """Rewards/s in process per encoder kind and precision at several completions per state (see --kinds)."""
    from leanprogress import LeanProgressScorer
    from leanprogress.rl import ProgressReward

    sizes = [int(x) for x in args.sizes.split(",")]
    cross = kind_copy(model, tmp / "cross", "cross")
    group = kind_copy(model, tmp / "group", "group")
    scorers = {(kind, precision): LeanProgressScorer(folder, device="cpu", precision=precision)
               for kind, folder in (("cross", cross), ("group", group)) for precision in ("fp32", "bf16")}
    rewards = {"original: cross fp32, one pass per completion": ProgressReward(OneByOne(scorers["cross", "fp32"]))}
    rewards.update({f"{kind} {precision}": ProgressReward(s) for (kind, precision), s in scorers.items()})
    calls = {n: batches(2, max(64, n), steps, seed=n, per_state=n) for n in sizes}
    for reward in rewards.values():  # oneDNN builds kernels per input shape: see every shape first
        for n in sizes:
            for call in calls[n]:
                reward.score(*call)
    rates: dict = {(name, n): [] for name in rewards for n in sizes}
    for k in range(args.rounds):
        for name, reward in (rewards.items() if k % 2 == 0 else list(rewards.items())[::-1]):
            for n in sizes:
                original = name.startswith("original")
                rate, _ = measure(reward, calls[n], args.seconds, at_least=1 if original else 3)
                rates[name, n].append(rate)
        print(f"  round {k + 1} of {args.rounds} done", flush=True)
    print()
    print(f"| rewards/s, in process (median of {args.rounds} rounds; x: against cross bf16) | "
          + " | ".join(f"{max(64, n) // n} x {n} per call" for n in sizes) + " |")
    print("| --- |" + " --- |" * len(sizes))
    rows = []
    for name in rewards:
        cells = []
        for n in sizes:
            rate, base = statistics.median(rates[name, n]), statistics.median(rates["cross bf16", n])
            rows.append({"row": name, "completions_per_state": n, "rewards_per_s": rate, "rounds": rates[name, n]})
            cells.append(f"{rate:.1f} ({rate / base:.2f}x)")
        print(f"| {name} | " + " | ".join(cells) + " |")
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=None, help="a trained model folder (default: all-MiniLM-L6-v2, fresh head)")
    p.add_argument("--seconds", type=float, default=10.0, help="time per measurement")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds per row")
    p.add_argument("--precision", default="auto")
    p.add_argument("--json", default=None, help="also write the figures here")
    p.add_argument("--kind", choices=["cross", "group"], default="cross",
                   help="encoder kind of the default model (default cross)")
    p.add_argument("--kinds", action="store_true", help="compare encoder kinds and precisions at --sizes completions "
                   "per state, in process, beside the original (one pass per completion)")
    p.add_argument("--sizes", default="8,32,64,256", help="with --kinds: completions per state (default 8,32,64,256)")
    args = p.parse_args()
    require(SEARCH_TRACES)

    from leanprogress import LeanProgressScorer
    from leanprogress.rl import ProgressReward
    from leanprogress.serve import ServerConfig, create_app
    from serve_util import RunningServer

    theorems = json.loads(SEARCH_TRACES.read_text(encoding="utf-8"))
    steps = []
    for t in theorems:
        done = []
        for s in t["traced_tactics"]:
            steps.append({"state_before": s["state_before"], "tactic": s["tactic"], "prefix": "\n".join(done)})
            done.append(s["tactic"])
    tmp = tempfile.TemporaryDirectory()
    model = args.model or str(default_model(Path(tmp.name) / "model", args.kind))
    if args.kinds:
        print(f"machine: {machine()}")
        from leanprogress.config import ModelSettings

        print(f"model: {args.model or 'all-MiniLM-L6-v2 (fresh head)'}, length {ModelSettings.load(model).max_length}, "
              f"{len(steps)} recorded steps of {len(theorems)} search traces; {args.seconds:g} s per measurement",
              flush=True)
        rows = kinds_table(args, steps, model, Path(tmp.name))
        if args.json:
            Path(args.json).write_text(json.dumps({"machine": machine(), "kinds": rows}, indent=1), encoding="utf-8")
        return 0
    scorer = LeanProgressScorer(model, device="cpu", precision=args.precision)
    print(f"machine: {machine()}")
    print(f"model: {args.model or 'all-MiniLM-L6-v2 (fresh head)'}, {scorer.settings.encoder_kind} kind, "
          f"precision {scorer.precision}, "
          f"{len(steps)} recorded steps of {len(theorems)} search traces; {args.seconds:g} s per measurement")
    rows = []
    with RunningServer(create_app(ServerConfig(), scorer=scorer, generators={})) as server:
        rewards = {"in process": ProgressReward(scorer), "server": ProgressReward(server.url)}
        for per_call in (1, 64):
            calls = batches(40 if per_call == 1 else 8, per_call, steps)
            for reward in rewards.values():  # oneDNN builds kernels per input shape: see every shape first
                for call in calls * 2:
                    reward.score(*call)
            # Rounds alternate between the two, so that both see the shared machine in the same states.
            rates: dict[str, list[float]] = {w: [] for w in rewards}
            for k in range(args.rounds):
                for where, reward in rewards.items():
                    rate, n = measure(reward, calls, args.seconds)
                    rates[where].append(rate)
                    print(f"  round {k + 1}: {where:10s} {per_call:3d} per call: {rate:8.1f} rewards/s ({n} calls)",
                          flush=True)
            for where, values in rates.items():
                rows.append({"where": where, "completions_per_call": per_call, "rewards_per_s": statistics.median(values),
                             "rounds": values})
    print()
    print(f"| completions per call | in process, rewards/s | through the server, rewards/s |  (median of {args.rounds} rounds)")
    print("| --- | --- | --- |")
    for per_call in (1, 64):
        got = {r["where"]: r for r in rows if r["completions_per_call"] == per_call}
        cell = lambda r: f"{r['rewards_per_s']:.1f} ({', '.join(f'{v:.1f}' for v in r['rounds'])})"
        print(f"| {per_call} | {cell(got['in process'])} | {cell(got['server'])} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine(), "rows": rows}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
