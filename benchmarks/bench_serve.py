"""Requests per second and p50/p99 latency of /generate (use_reward, 32 candidates) and /score.

Starts the real server on a free loopback port with the offline retrieval
generator over the Mathlib sample and a scorer trained briefly here (or
--model DIR), then sends N requests, C at a time, from this process.

    python benchmarks/bench_serve.py [--model DIR] [--requests 200] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from _shared import MATHLIB_SAMPLE, machine, require

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def run(url, path, bodies, concurrency):
    lat = []

    def one(body):
        t0 = time.perf_counter()
        r = httpx.post(url + path, json=body, timeout=120)
        r.raise_for_status()
        lat.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, bodies))
    wall = time.perf_counter() - t0
    lat.sort()
    return len(bodies) / wall, statistics.median(lat) * 1000, lat[int(0.99 * (len(lat) - 1))] * 1000


def time_retrieval(path):
    from leanprogress.data.dataset import ProgressDataset
    from leanprogress.generators import RetrievalGenerator

    records = ProgressDataset(path, skip_invalid=True).records
    t0 = time.perf_counter()
    gen = RetrievalGenerator(records)
    build = time.perf_counter() - t0
    queries = [r["goal"] for r in records[:: max(1, len(records) // 200)]][:200]
    t0 = time.perf_counter()
    for q in queries:
        gen.generate(q, n=32)
    per = (time.perf_counter() - t0) / len(queries) * 1000
    print(f"retrieval over {len(records)} records: index built in {build:.1f}s, {per:.1f} ms per query (32 candidates)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--retrieval-corpus", default=None, metavar="JSONL",
                    help="only time the retrieval index (build and query) over this records file")
    opts = ap.parse_args()
    if opts.retrieval_corpus:
        time_retrieval(opts.retrieval_corpus)
        return
    require(MATHLIB_SAMPLE)
    from serve_util import RunningServer

    from leanprogress import LeanProgressScorer, ProgressTrainer, ProgressTrainingArguments
    from leanprogress.data.leandojo import iter_leandojo_records
    from leanprogress.generators import RetrievalGenerator
    from leanprogress.serve import ServerConfig, create_app

    print(f"machine: {machine()}")
    records = list(iter_leandojo_records([MATHLIB_SAMPLE], source="mathlib4"))
    with tempfile.TemporaryDirectory() as tmp:
        model = opts.model
        if model is None:
            model = tmp
            ProgressTrainer(ProgressTrainingArguments(output_dir=tmp, epochs=1, max_length=256), records).train()
        scorer = LeanProgressScorer(model)
        print(f"scorer: {model} on {scorer.device}, precision {scorer.precision}")
        gen = RetrievalGenerator(records)
        app = create_app(ServerConfig(model=model, generators={"retrieval": {}}), scorer=scorer,
                         generators={"retrieval": gen})
        states = [r["goal"] for r in records]
        tactics = sorted({r["tactic"] for r in records})
        with RunningServer(app) as server:
            n = opts.requests
            gen_bodies = [{"name": "retrieval", "input": states[i % len(states)], "use_reward": True,
                           "num_candidates": 32} for i in range(n)]
            score_bodies = [{"goal": states[i % len(states)], "tactics": tactics[i % 50: i % 50 + 32]} for i in range(n)]
            run(server.url, "/score", score_bodies[:5], 1)  # warm-up
            for path, bodies in (("/generate", gen_bodies), ("/score", score_bodies)):
                rps, p50, p99 = run(server.url, path, bodies, opts.concurrency)
                print(f"{path:10} 32 candidates, {n} requests, {opts.concurrency} concurrent: "
                      f"{rps:.2f} req/s ({rps * 32:.0f} candidates/s), p50 {p50:.0f} ms, p99 {p99:.0f} ms")
        t0 = time.perf_counter()
        for s in states[:200]:
            gen.generate(s, n=32)
        print(f"retrieval query alone: {(time.perf_counter() - t0) / 200 * 1000:.2f} ms over {len(records)} records")


if __name__ == "__main__":
    main()
