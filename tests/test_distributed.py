import asyncio
import json
import os
import sys

import pytest

from conftest import make_theorem
from leanprogress.cli import main
from leanprogress.generators import ReplayGenerator
from leanprogress.search import ReplayEnvironment, SearchConfig
from leanprogress.search.distributed import BatchingScorer

TIMING = ("time_s", "env_time_s", "generator_time_s", "scorer_time_s", "verify_time_s")


@pytest.fixture(scope="module")
def local_ray():
    """One small local Ray for the module (starting one costs seconds): no dashboard, 3 CPUs."""
    ray = pytest.importorskip("ray")  # in the `test` extra
    ray.init(num_cpus=3, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    # Classes defined here travel to the workers by value (they cannot import this test module).
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield ray
    ray.shutdown()


def _bench(tmp_path):
    theorems = [make_theorem(f"P.t{i}", 1 + i % 4) for i in range(9)]
    # Theorem P.t3 recorded a second time, shorter: the replay has a choice there.
    theorems.append({**make_theorem("P.t3", 1), "traced_tactics": [
        {**make_theorem("P.t3", 4)["traced_tactics"][0], "tactic": "shortcut", "state_after": "no goals"}]})
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps(theorems, ensure_ascii=False))
    return bench


def _rows(path):
    rows = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        rows[row["theorem"]] = {k: v for k, v in row.items() if k not in TIMING}
    return rows


def test_two_ray_workers_give_the_same_results_as_one_process(local_ray, tmp_path, capsys):
    bench = _bench(tmp_path)
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    assert main(["prove", "--theorems", str(bench), "--output", str(one), "--max-env-calls", "20"]) == 0
    # Resume on Ray: the first two lines are already there.
    two.write_text("".join(one.read_text().splitlines(keepends=True)[:2]))
    assert main(["prove", "--theorems", str(bench), "--output", str(two), "--max-env-calls", "20",
                 "--workers", "2"]) == 0
    out = capsys.readouterr()
    assert "2 theorem(s) already in" in out.out and "proving: 9/9 theorems" in out.err and "\r" not in out.err
    assert _rows(one) == _rows(two) and len(_rows(two)) == 9 and len(two.read_text().splitlines()) == 9
    assert any(r["status"] != "proved" for r in _rows(one).values())  # the budget bites somewhere


class DyingEnvironment(ReplayEnvironment):
    """Takes its worker process down when it starts P.t4 (as a Lean process eating the node's memory would)."""

    def start(self, theorem, timeout=None):
        if theorem == "P.t4":
            os._exit(1)
        return super().start(theorem, timeout)


class DyingFactory:
    def __init__(self, theorems):
        self.theorems = theorems

    def __call__(self):
        env = DyingEnvironment(self.theorems)
        return env, ReplayGenerator(env), None, SearchConfig()


def test_a_worker_that_dies_loses_only_its_theorem(local_ray):
    from leanprogress.search.distributed import prove_on_ray

    theorems = [make_theorem(f"P.t{i}", 2) for i in range(6)]
    rows = {r["theorem"]: r for r in prove_on_ray([(t["full_name"], t["full_name"]) for t in theorems],
                                                  DyingFactory(theorems), workers=2, retries=1)}
    assert sorted(rows) == [f"P.t{i}" for i in range(6)]
    assert rows["P.t4"]["status"] == "error" and "died 2 time(s)" in rows["P.t4"]["error"]
    assert all(rows[f"P.t{i}"]["status"] == "proved" for i in (0, 1, 2, 3, 5))


def test_shared_scorer_actor_scores_for_every_worker(local_ray, tmp_path, trained_tiny):
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps([make_theorem(f"P.t{i}", 2) for i in range(3)]))
    out = tmp_path / "r.jsonl"
    assert main(["prove", "--theorems", str(bench), "--output", str(out), "--model", str(trained_tiny[0]),
                 "--device", "cpu", "--workers", "2", "--shared-scorer"]) == 0
    rows = _rows(out)
    assert len(rows) == 3 and all(r["status"] == "proved" and r["scorer"] == str(trained_tiny[0])
                                  and r["score_mode"] == "tactic" for r in rows.values())


def test_batching_scorer_merges_concurrent_requests():
    class Length:
        def __init__(self):
            self.calls = []

        def predict_batch(self, goals, tactics, prefixes=None):
            self.calls.append((list(goals), list(tactics), list(prefixes)))
            if "boom" in tactics:
                raise RuntimeError("model output is NaN")
            return [float(len(t)) for t in tactics]

    inner = Length()
    batcher = BatchingScorer(inner, wait_s=0.01)

    async def run():
        return await asyncio.gather(batcher.predict_batch("⊢ p", ["a", "bb"], "intro h"),
                                    batcher.predict_batch(["⊢ q"], ["ccc"]), batcher.predict_batch("⊢ r", []))

    assert asyncio.run(run()) == [[1.0, 2.0], [3.0], []]
    assert inner.calls == [(["⊢ p", "⊢ p", "⊢ q"], ["a", "bb", "ccc"], ["intro h", "intro h", ""])]

    async def failing():
        return await asyncio.gather(batcher.predict_batch("⊢ p", ["boom"]), return_exceptions=True)

    assert "NaN" in str(asyncio.run(failing())[0])


def test_workers_without_ray_is_a_one_line_message(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)
    assert main(["prove", "--theorems", str(_bench(tmp_path)), "--output", str(tmp_path / "r.jsonl"),
                 "--workers", "2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'leanprogress[ray]'" in err
    assert not (tmp_path / "r.jsonl").exists()


class SlowLength:
    """Scores are tactic lengths; each call takes ``delay`` seconds (in the worker thread)."""

    def __init__(self, delay=0.05, fail_on=None):
        self.delay, self.fail_on, self.calls = delay, fail_on, []

    def predict_batch(self, goals, tactics, prefixes=None):
        import time

        self.calls.append(list(tactics))
        time.sleep(self.delay)
        if self.fail_on in tactics:
            raise RuntimeError(f"model output is NaN for {self.fail_on}")
        return [float(len(t)) for t in tactics]


def test_batching_scorer_answers_the_others_after_a_caller_is_cancelled():
    async def run(cancel_while):
        batcher = BatchingScorer(SlowLength(delay=0.1), wait_s=0.02)
        doomed = asyncio.ensure_future(batcher.predict_batch("⊢ p", ["aaaa"]))
        others = [asyncio.ensure_future(batcher.predict_batch("⊢ q", ["b" * k])) for k in (1, 2)]
        # Cancel the first caller while its batch waits to be formed, or during the forward pass.
        await asyncio.sleep(0.005 if cancel_while == "waiting" else 0.06)
        doomed.cancel()
        answers = await asyncio.wait_for(asyncio.gather(*others), timeout=5)
        later = await asyncio.wait_for(batcher.predict_batch("⊢ r", ["ccc"]), timeout=5)
        return answers, later, doomed.cancelled()

    for moment in ("waiting", "scoring"):
        answers, later, cancelled = asyncio.run(run(moment))
        assert answers == [[1.0], [2.0]] and later == [3.0] and cancelled, moment


def test_batching_scorer_hands_an_error_to_every_caller_of_the_batch_and_keeps_serving():
    async def run():
        batcher = BatchingScorer(SlowLength(delay=0.1, fail_on="boom"), wait_s=0.02)
        calls = [asyncio.ensure_future(batcher.predict_batch("⊢ p", ["boom"])),
                 asyncio.ensure_future(batcher.predict_batch("⊢ q", ["a", "bb"])),
                 asyncio.ensure_future(batcher.predict_batch("⊢ r", ["ccc"]))]
        await asyncio.sleep(0.06)  # the batch is being scored
        calls[0].cancel()  # a caller of the failing batch gives up
        failed = await asyncio.wait_for(asyncio.gather(*calls[1:], return_exceptions=True), timeout=5)
        after = await asyncio.wait_for(batcher.predict_batch("⊢ s", ["dddd"]), timeout=5)
        return batcher, failed, after

    batcher, failed, after = asyncio.run(run())
    assert batcher.scorer.calls[0] == ["boom", "a", "bb", "ccc"]  # one batch
    assert len(failed) == 2 and all(isinstance(f, RuntimeError) and "NaN for boom" in str(f) for f in failed)
    assert after == [4.0]


def test_batching_scorer_refuses_a_result_of_the_wrong_length():
    class Short:
        def predict_batch(self, goals, tactics, prefixes=None):
            return [0.0] * (len(tactics) - 1)

    async def run():
        b = BatchingScorer(Short(), wait_s=0.01)
        return await asyncio.wait_for(asyncio.gather(b.predict_batch("⊢ p", ["a", "b"]), b.predict_batch("⊢ q", ["c"]),
                                                     return_exceptions=True), timeout=5)

    assert all("returned 2 score(s) for 3 candidate(s)" in str(e) for e in asyncio.run(run()))
