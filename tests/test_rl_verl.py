"""verl: leanprogress.rl.verl.compute_score called exactly as verl's reward managers call it.

verl is not installed here (it is heavy); the calls are reproduced from its source, volcengine/verl at commit
b178a3cd56f58b2d502255daba591e92833930a7: verl/trainer/ppo/reward.py (get_custom_reward_fn: load_extern_object,
then partial(_call_with_kwargs, raw_fn, reward_kwargs)), verl/utils/import_utils.py (load_module: "pkg://" imports
the module by name), verl/workers/reward_manager/naive.py, batch.py, prime.py (with its catches: a failed or timed-out
task scores 0.0), and verl/experimental/reward_loop/reward_manager/limited.py (rate_limited: the same catch).
"""

import importlib
import pickle
from concurrent.futures import ProcessPoolExecutor
from functools import partial

import pytest

from leanprogress import LeanProgressScorer
from leanprogress.rl import ProgressReward, policy_messages
from leanprogress.rl.verl import verl_row

GOAL = "x y : ℕ\nh0 : x + 0 ≤ y\n⊢ x * 0 ≤ y"
OTHER = "p q : Prop\nhp : p\nhq : q\n⊢ p ∧ q"


def load_custom_reward_fn(config):
    """verl/trainer/ppo/reward.py get_custom_reward_fn, with load_extern_object's pkg:// branch."""
    cfg = config.get("custom_reward_function") or {}
    path = cfg.get("path")
    assert path.startswith("pkg://")
    module = importlib.import_module(path[len("pkg://"):].replace("/", "."))
    raw_fn = getattr(module, cfg.get("name"))
    reward_kwargs = dict(cfg.get("reward_kwargs", {}))
    return partial(_call_with_kwargs, raw_fn, reward_kwargs)


def _call_with_kwargs(raw_fn, extra_kwargs, *args, **kwargs):
    """verl/trainer/ppo/reward.py _call_with_kwargs: reward_kwargs win over the call's own."""
    return raw_fn(*args, **{**kwargs, **extra_kwargs})


def rows():
    records = [{"goal": GOAL, "prefix": "", "tactic": "simp"}, {"goal": OTHER, "prefix": "intro h", "tactic": "exact"}]
    return [verl_row(r, policy_messages(r["goal"], r["prefix"]), index=i) for i, r in enumerate(records)]


RESPONSES = ["simp", "```lean\nconstructor\n```<|im_end|>", "sorry", "by omega"]


@pytest.fixture(scope="module")
def config(trained_tiny):
    return {"custom_reward_function": {"path": "pkg://leanprogress.rl.verl", "name": "compute_score",
                                       "reward_kwargs": {"model": str(trained_tiny[0]), "device": "cpu",
                                                         "precision": "fp32", "form": "bounded"}}}


@pytest.fixture(scope="module")
def expected(trained_tiny):
    scorer = LeanProgressScorer(str(trained_tiny[0]), device="cpu", precision="fp32")
    data = rows()
    states = [data[i % 2]["extra_info"]["state"] for i in range(4)]
    prefixes = [data[i % 2]["extra_info"]["prefix"] for i in range(4)]
    return ProgressReward(scorer).score(states, RESPONSES, prefixes)


def test_naive_manager_calls_one_response_at_a_time(config, expected):
    compute_score = load_custom_reward_fn(config)
    data = rows()
    got = []
    for i, response_str in enumerate(RESPONSES):
        item = data[i % 2]
        extra_info = dict(item["extra_info"])  # naive.py adds these two keys before the call
        extra_info["num_turns"] = None
        extra_info["rollout_reward_scores"] = {}
        score = compute_score(data_source=item["data_source"], solution_str=response_str,
                              ground_truth=item["reward_model"]["ground_truth"], extra_info=extra_info)
        assert isinstance(score, float)
        got.append(score)
    # one response per call against one batch of all: the same rewards up to the rounding of batch shapes
    assert got == pytest.approx(expected, abs=1e-5) and got[2] == 0.0  # sorry: the failure reward
    # The reward loop's naive manager passes the reward router's address too when there is one.
    item = data[0]
    assert compute_score(data_source="leanprogress", solution_str="simp", ground_truth="", extra_info=item["extra_info"],
                         reward_router_address="127.0.0.1:1", reward_model_tokenizer=None) == pytest.approx(expected[0],
                                                                                                           abs=1e-5)


def test_batch_manager_calls_once_with_lists(config, expected):
    compute_score = load_custom_reward_fn(config)
    data = [rows()[i % 2] for i in range(4)]
    extras = [dict(d["extra_info"]) for d in data]
    for e in extras:  # batch.py adds rollout_reward_scores
        e["rollout_reward_scores"] = {}
    scores = compute_score(data_sources=[d["data_source"] for d in data], solution_strs=RESPONSES,
                           ground_truths=[d["reward_model"]["ground_truth"] for d in data], extra_infos=extras)
    assert isinstance(scores, list) and scores == pytest.approx(expected)


def _prime_call(evaluation_func, task, completion, reference, task_extra_info):
    # prime.py single_compute_score: loop.run_in_executor(executor, partial(evaluation_func, task, completion,
    # reference, task_extra_info)) on a ProcessPoolExecutor, then float() of the result.
    return float(partial(evaluation_func, task, completion, reference, task_extra_info)())


def prime_verify(evaluation_func, completions, references, tasks, extra_info, num_processes=2):
    """prime.py as written: single_compute_score catches every Exception (and the time-out) and returns None,
    parallel_compute_score_async turns None into 0.0, PrimeRewardManager.verify catches every Exception around the
    whole run and scores the batch 0.0. Only what is not an Exception gets through."""
    import asyncio
    import multiprocessing

    async def single_compute_score(completion, reference, task, task_extra_info, executor, timeout=300.0):
        loop = asyncio.get_running_loop()
        try:
            future = loop.run_in_executor(executor, partial(evaluation_func, task, completion, reference,
                                                            task_extra_info))
            return await asyncio.wait_for(future, timeout=timeout)
        except asyncio.TimeoutError:
            return None
        except Exception:
            return None

    async def parallel():
        with ProcessPoolExecutor(max_workers=num_processes, mp_context=multiprocessing.get_context("fork")) as ex:
            results = await asyncio.gather(*[single_compute_score(c, r, t, e, ex) for c, r, t, e in
                                             zip(completions, references, tasks, extra_info, strict=True)])
        return [0.0 if r is None else float(r) for r in results]

    try:
        return asyncio.run(parallel())
    except asyncio.TimeoutError:
        return [0.0] * len(completions)
    except Exception:
        return [0.0] * len(completions)


def rate_limited_run_single(compute_score, data_source, solution_str, ground_truth, extra_info, timeout=300.0):
    """The reward loop's rate_limited manager, run_single's scoring: compute_score in the loop's thread pool under
    asyncio.wait_for; a time-out or any Exception scores 0.0."""
    import asyncio

    async def run():
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(loop.run_in_executor(None, lambda: compute_score(
                data_source=data_source, solution_str=solution_str, ground_truth=ground_truth,
                extra_info=extra_info)), timeout=timeout)
        except asyncio.TimeoutError:
            return 0.0
        except Exception:
            return 0.0

    return asyncio.run(run())


def test_prime_manager_calls_positionally_in_forked_workers_through_a_server(config, expected, trained_tiny):
    # prime.py runs compute_score in a ProcessPoolExecutor (fork on Linux): each worker calls the reward server.
    import multiprocessing

    from leanprogress.serve import ServerConfig, create_app
    from serve_util import RunningServer

    scorer = LeanProgressScorer(str(trained_tiny[0]), device="cpu", precision="fp32")
    with RunningServer(create_app(ServerConfig(), scorer=scorer, generators={})) as server:
        remote = {"custom_reward_function": dict(config["custom_reward_function"],
                                                 reward_kwargs={"model": server.url, "form": "bounded"})}
        compute_score = load_custom_reward_fn(remote)
        data = rows()
        assert compute_score(data[0]["data_source"], "simp", "", data[0]["extra_info"]) == pytest.approx(expected[0],
                                                                                                         abs=1e-5)
        pickle.dumps(compute_score)  # the process pool pickles the wrapped function
        with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("fork")) as pool:
            futures = [pool.submit(_prime_call, compute_score, data[i % 2]["data_source"], r, "",
                                   data[i % 2]["extra_info"]) for i, r in enumerate(RESPONSES)]
            got = [f.result(timeout=120) for f in futures]
    assert got == pytest.approx(expected, abs=1e-5)


def test_a_model_loaded_before_a_fork_is_refused_in_the_worker_not_deadlocked(config):
    import multiprocessing

    from leanprogress.rl.verl import RewardAborted

    compute_score = load_custom_reward_fn(config)
    data = rows()
    compute_score(data[0]["data_source"], "simp", "", data[0]["extra_info"])  # loaded here, in the parent
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork")) as pool:
        future = pool.submit(_prime_call, compute_score, "leanprogress", "simp", "", data[0]["extra_info"])
        with pytest.raises(RewardAborted, match="forked.*serve the model"):
            future.result(timeout=120)


def test_errors_stop_the_run_under_the_managers_that_catch_every_exception(config, trained_tiny):
    """prime and rate_limited turn every Exception into a 0.0 reward: a missing state, the fork guard or a reward
    server that keeps failing would train the policy on zeros. compute_score raises what they do not catch."""
    from leanprogress.rl.verl import RewardAborted
    from leanprogress.serve import ServerConfig, create_app
    from serve_util import RunningServer

    scorer = LeanProgressScorer(str(trained_tiny[0]), device="cpu", precision="fp32")
    data = rows()
    with RunningServer(create_app(ServerConfig(), scorer=scorer, generators={})) as server:
        # prime's workers are forked: they call a server (a torch model does not survive fork).
        remote = load_custom_reward_fn({"custom_reward_function": dict(
            config["custom_reward_function"], reward_kwargs={"model": server.url})})
        good = prime_verify(remote, ["simp"], [""], [data[0]["data_source"]], [data[0]["extra_info"]])
        assert good[0] > 0.0  # the reproduction scores what it can
        with pytest.raises(RewardAborted, match="no proof state"):
            prime_verify(remote, ["simp", "simp"], ["", ""], ["leanprogress"] * 2,
                         [data[0]["extra_info"], {"index": 3}])
    compute_score = load_custom_reward_fn(config)
    with pytest.raises(RewardAborted, match="no proof state"):
        rate_limited_run_single(compute_score, "leanprogress", "simp", "", {"index": 3})
    dead = {"custom_reward_function": dict(config["custom_reward_function"], reward_kwargs={
        "model": "http://127.0.0.1:9", "retries": 0, "timeout_s": 2})}
    with pytest.raises(RewardAborted, match="RewardServiceError.*ConnectError"):
        rate_limited_run_single(load_custom_reward_fn(dead), "leanprogress", "simp", "", data[0]["extra_info"])
    # A completion's own failure is a reward, not an error: the run goes on.
    assert rate_limited_run_single(compute_score, "leanprogress", "sorry", "", data[0]["extra_info"]) == 0.0


def test_a_missing_model_or_state_is_a_clear_error(config):
    from leanprogress.rl.verl import RewardAborted, compute_score

    with pytest.raises(RewardAborted, match="reward_kwargs.model") as raised:
        compute_score("leanprogress", "simp", "", {"state": GOAL})
    assert isinstance(raised.value.__cause__, ValueError)
    fn = load_custom_reward_fn(config)
    with pytest.raises(RewardAborted, match="no proof state.*'state'.*keys there: \\['index'\\]"):
        fn(data_source="x", solution_str="simp", ground_truth="", extra_info={"index": 0})


def test_verl_rows_keep_state_and_prefix_in_extra_info():
    row = verl_row({"goal": GOAL, "prefix": "intro x", "tactic": "simp", "theorem": "T.a", "statement": "theorem a"},
                   policy_messages(GOAL, "intro x"), index=3)
    assert row["data_source"] == "leanprogress" and row["reward_model"] == {"style": "model", "ground_truth": "simp"}
    assert row["extra_info"] == {"state": GOAL, "prefix": "intro x", "index": 3, "split": "train", "theorem": "T.a",
                                 "statement": "theorem a"}


def test_the_verl_example_refuses_an_output_folder_that_holds_its_dataset(tmp_path, capsys, trained_tiny):
    import runpy
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "examples" / "verl_reward.py"
    data = tmp_path / "data"
    data.mkdir()
    records = data / "train.jsonl"
    records.write_text('{"goal": "⊢ p", "prefix": "", "tactic": "simp", "steps_remaining": 0, "theorem": "t"}\n')
    before = records.read_bytes()
    main = runpy.run_path(str(script))["main"]
    assert main(["--dataset", str(records), "--reward-model", str(trained_tiny[0]), "--output-dir", str(data)]) == 2
    assert f"--output-dir {data} holds the input --dataset {records}" in capsys.readouterr().err
    assert records.read_bytes() == before and sorted(p.name for p in data.iterdir()) == ["train.jsonl"]
