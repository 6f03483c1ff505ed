"""The reward service under OpenRLHF's load: one /get_reward request per sample, OpenRLHF's retry policy.

OpenRLHF (3c3be623, openrlhf/utils/agent.py) posts each sample's reward request as soon as the sample is generated,
retries a failed request 5 times 1 s apart (ignoring Retry-After), and then leaves the reward None: a lost reward.
This sends N requests at once (a rollout's samples arriving together, the worst case) to `leanprogress serve`'s app
on loopback (uvicorn in a thread), each through OpenRLHF's own client code (tests/serve_util.openrlhf_post_async:
aiohttp, the same tries and sleeps), and counts lost rewards, the wall time and each request's latency. The queries
are the recorded tactics of the miniF2F-valid search traces behind the policy prompt, as OpenRLHF decodes them.

The model is all-MiniLM-L6-v2 with an untrained head (as benchmarks/bench_rl.py) unless --model names one.
``--before REV`` runs the same load against the package at git revision REV (its ``src`` on the path).

    python benchmarks/bench_reward_load.py [--samples 64,256,1024] [--model DIR] [--before REV] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _shared import SEARCH_TRACES, machine, require

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def requests_for(n: int) -> list[dict]:
    """``n`` one-sample /get_reward bodies, as OpenRLHF sends them."""
    from leanprogress.rl import policy_prompt

    steps = []
    for t in json.loads(SEARCH_TRACES.read_text(encoding="utf-8")):
        done = []
        for s in t["traced_tactics"]:
            steps.append((s["state_before"], "\n".join(done), s["tactic"]))
            done.append(s["tactic"])
    bodies = []
    for i in range(n):
        state, prefix, tactic = steps[i % len(steps)]
        prompt = policy_prompt(state, prefix)
        bodies.append({"query": [prompt + " " + tactic + "<|im_end|>"], "prompts": [prompt],
                       "labels": [json.dumps({"state": state, "prefix": prefix})]})
    return bodies


async def load(url: str, bodies: list[dict]) -> dict:
    from serve_util import openrlhf_post_async

    async def one(body):
        t0 = time.perf_counter()
        try:
            await openrlhf_post_async(url, body)
            return time.perf_counter() - t0
        except RuntimeError:
            return None

    t0 = time.perf_counter()
    latencies = await asyncio.gather(*[one(b) for b in bodies])
    wall = time.perf_counter() - t0
    got = sorted(x for x in latencies if x is not None)
    return {"samples": len(bodies), "lost": sum(x is None for x in latencies), "wall_s": round(wall, 2),
            "rewards_per_s": round(len(got) / wall, 1),
            "p50_s": round(statistics.median(got), 2) if got else None,
            "max_s": round(got[-1], 2) if got else None}


def run(model: str, sizes: list[int]) -> list[dict]:
    from leanprogress import LeanProgressScorer
    from leanprogress.serve import ServerConfig, create_app
    from serve_util import RunningServer

    scorer = LeanProgressScorer(model, device="cpu")
    rows = []
    with RunningServer(create_app(ServerConfig(), scorer=scorer, generators={})) as server:
        asyncio.run(load(server.url + "/get_reward", requests_for(8)))  # warm up: kernels per shape, the model
        for n in sizes:
            rows.append(asyncio.run(load(server.url + "/get_reward", requests_for(n))))
            print(f"  {n} samples: {rows[-1]}", flush=True)
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--samples", default="64,256,1024", help="requests sent at once, per run")
    p.add_argument("--model", default=None, help="a trained model folder (default: all-MiniLM-L6-v2, fresh head)")
    p.add_argument("--before", default=None, metavar="REV", help="also load the package at this revision")
    p.add_argument("--json", default=None, help="write the figures here")
    args = p.parse_args()
    require(SEARCH_TRACES)
    sizes = [int(x) for x in args.samples.split(",")]
    tmp = tempfile.TemporaryDirectory()
    model = args.model
    if model is None:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from bench_rl import default_model

        model = str(default_model(Path(tmp.name) / "model"))
    print(f"machine: {machine()}")
    now = run(model, sizes)
    before = None
    if args.before:
        from _shared import json_at_revision

        before = json_at_revision(args.before, __file__, ["--samples", args.samples, "--model", model, "--json",
                                                          "{tmp}/before.json"], out="before.json")
    print("\n| samples at once | lost rewards | wall s | rewards/s | median latency s | max latency s |"
          + (f" lost at {args.before} | wall s at {args.before} |" if before else ""))
    print("| --- | --- | --- | --- | --- | --- |" + (" --- | --- |" if before else ""))
    for k, r in enumerate(now):
        line = (f"| {r['samples']} | {r['lost']} | {r['wall_s']} | {r['rewards_per_s']} | {r['p50_s']} | "
                f"{r['max_s']} |")
        if before:
            b = before["rows"][k]
            line += f" {b['lost']} | {b['wall_s']} |"
        print(line)
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine(), "rows": now}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
