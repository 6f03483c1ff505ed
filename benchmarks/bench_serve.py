"""Serving figures: throughput, time per candidate against goal length, and behaviour under a burst.

Starts the real server on a free loopback port with the offline retrieval
generator over the Mathlib sample and a scorer trained briefly here (or
--model DIR), then:

1. throughput: N requests, C at a time, of ``/generate`` (use_reward, 32
   candidates) and ``/score`` (32 candidates): requests/s, p50, p99;
2. goal length: one ``/score`` request per (goal length, candidates) pair,
   goals of 500 to 30,000 characters built from Mathlib hypotheses; time per
   candidate of the whole request, and of building the prompts with the
   goal shared (what the server does) against one candidate at a time (what
   it did before);
3. burst: B clients at once, each sending R ``/score`` requests back to back,
   against the default bound on work in flight and against no bound, back to
   back: how many got 429 (and their Retry-After), latency of the accepted
   ones, and /health afterwards.

    python benchmarks/bench_serve.py [--model DIR | --head distribution] [--requests 200] [--concurrency 4] [--burst 32]
    python benchmarks/bench_serve.py --retrieval-corpus FILE   # only time the retrieval index
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from _shared import MATHLIB_SAMPLE, add_head_argument, machine, require

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def percentile(values, q):
    values = sorted(values)
    return values[int(q * (len(values) - 1))] if values else float("nan")


def run(url, path, bodies, concurrency):
    lat = []

    def one(body):
        t0 = time.perf_counter()
        r = httpx.post(url + path, json=body, timeout=300)
        r.raise_for_status()
        lat.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, bodies))
    wall = time.perf_counter() - t0
    return len(bodies) / wall, statistics.median(lat) * 1000, percentile(lat, 0.99) * 1000


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


def long_goal(records, chars):
    """A Lean state of about ``chars`` characters: hypotheses with the types of Mathlib hypotheses, one target."""
    types = list(dict.fromkeys(line.split(" : ", 1)[1] for r in records for line in r["goal"].split("\n")
                               if " : " in line and not line.lstrip().startswith("⊢")))
    target = next(line for r in records for line in r["goal"].split("\n") if line.startswith("⊢"))
    lines, n = [], len(target)
    while n < chars:
        line = f"h{len(lines)} : {types[len(lines) % len(types)]}"
        lines.append(line)
        n += len(line) + 1
    return "\n".join(lines + [target])


def goal_length_table(url, scorer, records, tactics, lengths, counts):
    print("\n| goal chars | candidates | /score ms per candidate | prompts built, shared goal: ms per candidate "
          "| one candidate at a time (before) |")
    print("| --- | --- | --- | --- | --- |")
    for chars in lengths:
        goal = long_goal(records, chars)
        for n in counts:
            cands = [tactics[i % len(tactics)] for i in range(n)]
            t0 = time.perf_counter()
            r = httpx.post(url + "/score", json={"goal": goal, "tactics": cands}, timeout=600)
            r.raise_for_status()
            total = (time.perf_counter() - t0) / n * 1000
            t0 = time.perf_counter()
            scorer.builder.build_many([goal] * n, cands, [""] * n)
            shared = (time.perf_counter() - t0) / n * 1000
            sample = cands[: min(n, 32)]  # one at a time is slow on long goals: time 32 and divide
            t0 = time.perf_counter()
            for t in sample:
                scorer.builder.build_many([goal], [t], [""])
            alone = (time.perf_counter() - t0) / len(sample) * 1000
            print(f"| {len(goal):,} | {n} | {total:.1f} | {shared:.2f} | {alone:.1f} |", flush=True)


def burst(url, bodies, clients):
    """``clients`` threads each send their share of ``bodies`` back to back; returns the outcome."""
    results = []

    def client(k):
        for body in bodies[k::clients]:
            t0 = time.perf_counter()
            try:
                r = httpx.post(url + "/score", json=body, timeout=300)
                results.append((r.status_code, time.perf_counter() - t0, r.headers.get("retry-after")))
            except httpx.HTTPError as exc:
                results.append((type(exc).__name__, time.perf_counter() - t0, None))

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    wall = time.perf_counter() - t0
    ok = [s for c, s, _ in results if c == 200]
    busy = [(s, ra) for c, s, ra in results if c == 429]
    other = [c for c, _, _ in results if c not in (200, 429)]
    return {"wall": wall, "ok": ok, "busy": busy, "other": other}


def burst_table(make_server, bodies, clients):
    print(f"\n| bound on work in flight | requests | 200 | 429 (Retry-After s) | other | accepted p50 | "
          f"accepted p99 | 429 answered within | max in flight seen | /health after |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for label, capacity in (("8 (default)", 8), ("none (as before)", 10_000)):
        with make_server(capacity) as server:
            peak = [0]
            stop = [False]

            def watch():
                while not stop[0]:
                    try:
                        q = httpx.get(server.url + "/health", timeout=5).json()["queue"]
                        peak[0] = max(peak[0], q["in_flight"])
                    except httpx.HTTPError:
                        pass
                    time.sleep(0.05)

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            out = burst(server.url, bodies, clients)
            stop[0] = True
            watcher.join()
            health = httpx.get(server.url + "/health", timeout=5).json()
        retry = sorted({ra for _, ra in out["busy"]})
        busy_max = max((s for s, _ in out["busy"]), default=float("nan")) * 1000
        print(f"| {label} | {len(bodies)} | {len(out['ok'])} | {len(out['busy'])} ({', '.join(retry) or '-'}) | "
              f"{len(out['other'])} | {statistics.median(out['ok']) * 1000:.0f} ms | "
              f"{percentile(out['ok'], 0.99) * 1000:.0f} ms | {busy_max:.0f} ms | {peak[0]} | "
              f"{health['status']}, in flight {health['queue']['in_flight']} |", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None, help="trained model folder, either head (default: train one epoch "
                    "here, with --head)")
    add_head_argument(ap)
    ap.add_argument("--requests", type=int, default=200, help="requests per endpoint in the throughput table")
    ap.add_argument("--concurrency", type=int, default=4, help="clients at once in the throughput table")
    ap.add_argument("--burst", type=int, default=32, help="clients at once in the burst table")
    ap.add_argument("--burst-requests", type=int, default=128, help="requests in the burst table")
    ap.add_argument("--goal-lengths", default="500,2000,8000,30000", help="goal sizes in characters")
    ap.add_argument("--candidates", default="32,256", help="candidates per request in the goal-length table")
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
    print(f"command: python benchmarks/bench_serve.py {' '.join(sys.argv[1:])}".rstrip())
    records = list(iter_leandojo_records([MATHLIB_SAMPLE], source="mathlib4"))
    with tempfile.TemporaryDirectory() as tmp:
        model = opts.model
        if model is None:
            model = tmp
            ProgressTrainer(ProgressTrainingArguments(output_dir=tmp, epochs=1, max_length=256, head=opts.head,
                                                      fallback_to_constant=False), records).train()
        scorer = LeanProgressScorer(model)
        print(f"scorer: {model} on {scorer.device}, precision {scorer.precision}, max_length "
              f"{scorer.settings.max_length}")
        gen = RetrievalGenerator(records)
        states = [r["goal"] for r in records]
        tactics = sorted({r["tactic"] for r in records})

        def make_server(capacity=8):
            config = ServerConfig(model=model, generators={"retrieval": {}}, max_in_flight=capacity,
                                  request_timeout_s=600, max_candidates=256)
            return RunningServer(create_app(config, scorer=scorer, generators={"retrieval": gen}))

        with make_server() as server:
            n = opts.requests
            gen_bodies = [{"name": "retrieval", "input": states[i % len(states)], "use_reward": True,
                           "num_candidates": 32} for i in range(n)]
            score_bodies = [{"goal": states[i % len(states)], "tactics": tactics[i % 50: i % 50 + 32]}
                            for i in range(n)]
            run(server.url, "/score", score_bodies[:5], 1)  # warm-up
            print(f"\nthroughput: {n} requests per endpoint, {opts.concurrency} at a time")
            print("| endpoint | candidates | requests/s | candidates/s | p50 | p99 |")
            print("| --- | --- | --- | --- | --- | --- |")
            for label, path, bodies in (("/generate with use_reward (retrieval)", "/generate", gen_bodies),
                                        ("/score", "/score", score_bodies)):
                rps, p50, p99 = run(server.url, path, bodies, opts.concurrency)
                print(f"| `{label}` | 32 | {rps:.2f} | {rps * 32:.0f} | {p50:.0f} ms | {p99:.0f} ms |", flush=True)
            lengths = [int(x) for x in opts.goal_lengths.split(",")]
            counts = [int(x) for x in opts.candidates.split(",")]
            goal_length_table(server.url, scorer, records, tactics, lengths, counts)
        bodies = [{"goal": states[i % len(states)], "tactics": tactics[i % 50: i % 50 + 32]}
                  for i in range(opts.burst_requests)]
        print(f"\nburst: {opts.burst} clients at once, {opts.burst_requests} /score requests of 32 candidates "
              "in all, each client sending its share back to back")
        burst_table(make_server, bodies, opts.burst)
        t0 = time.perf_counter()
        for s in states[:200]:
            gen.generate(s, n=32)
        print(f"\nretrieval query alone: {(time.perf_counter() - t0) / 200 * 1000:.2f} ms over {len(records)} records")


if __name__ == "__main__":
    main()
