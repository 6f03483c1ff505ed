"""TRL: GRPOTrainer runs a few steps on the CPU with a tiny causal LM built here, rewarded by LeanProgress, and the
reward reaches the trainer's logged metrics; plain-text and conversational prompts."""

import math

import pytest

from leanprogress import LeanProgressScorer
from leanprogress.rl import ProgressReward, grpo_rows
from leanprogress.rl.trl import TRLReward
from rl_util import build_policy, fixture_records

trl = pytest.importorskip("trl")  # in the `test` extra

@pytest.fixture(scope="module")
def policy(tmp_path_factory):
    return build_policy(tmp_path_factory.mktemp("policy"))


class Spy:
    """Wraps the TRL reward, keeping what each call returned."""

    def __init__(self, inner):
        self.inner, self.returned, self.kwargs, self.completions = inner, [], [], []
        self.__name__ = inner.__name__

    def __call__(self, prompts, completions, **kwargs):
        out = self.inner(prompts, completions, **kwargs)
        self.returned.append(out)
        self.kwargs.append(kwargs)
        self.completions.append(completions)
        return out


def run_grpo(policy, reward_func, rows, out, steps=3):
    from datasets import Dataset

    args = trl.GRPOConfig(output_dir=str(out), per_device_train_batch_size=4, num_generations=4,
                          max_completion_length=8, max_steps=steps, logging_steps=1, report_to="none",
                          save_strategy="no", learning_rate=1e-3, beta=0.0, use_cpu=True, bf16=False,
                          dataloader_num_workers=0, seed=0)
    trainer = trl.GRPOTrainer(model=str(policy), reward_funcs=[reward_func], args=args,
                              train_dataset=Dataset.from_list(rows))
    trainer.train()
    return trainer


@pytest.mark.parametrize("conversational", [False, True], ids=["plain", "conversational"])
def test_grpo_trains_on_the_leanprogress_reward(policy, trained_tiny, tmp_path, conversational):
    scorer = LeanProgressScorer(str(trained_tiny[0]), device="cpu", precision="fp32")
    spy = Spy(TRLReward(scorer, form="bounded"))
    rows = grpo_rows(fixture_records(), conversational=conversational)
    trainer = run_grpo(policy, spy, rows, tmp_path)
    logged = [h["rewards/leanprogress/mean"] for h in trainer.state.log_history if "rewards/leanprogress/mean" in h]
    assert len(spy.returned) == 3 and len(logged) == 3  # one generation per step, one log line per step
    # What the reward returned is what the trainer logged, step by step.
    assert logged == pytest.approx([sum(r) / len(r) for r in spy.returned], abs=1e-6)
    failed = [h["leanprogress/failed"] for h in trainer.state.log_history if "leanprogress/failed" in h]
    assert len(failed) == 3 and all(0.0 <= f <= 1.0 for f in failed)
    # The columns reached the reward: each completion was scored on its own row's state.
    kwargs = spy.kwargs[0]
    assert set(kwargs["state"]) <= {r["state"] for r in rows} and len(kwargs["state"]) == 4
    assert "trainer_state" in kwargs and "completion_ids" in kwargs
    first = spy.completions[0][0]
    assert isinstance(first, list) and first[0]["role"] == "assistant" if conversational else isinstance(first, str)
    for values in spy.returned:
        assert len(values) == 4 and all(0.0 <= v <= 1.0 for v in values)


def test_trl_reward_scores_both_completion_formats_alike(trained_tiny):
    scorer = LeanProgressScorer(str(trained_tiny[0]), device="cpu", precision="fp32")
    reward = TRLReward(scorer, form="neg_steps")
    state = fixture_records()[0]["goal"]
    plain = reward(["p", "p", "p"], ["simp", "```lean\nomega\n```", ""], state=[state] * 3, prefix=["", "", ""])
    chat = reward([[{"role": "user", "content": "p"}]] * 3,
                  [[{"role": "assistant", "content": c}] for c in ("simp", "```lean\nomega\n```", "")],
                  goal=[state] * 3)  # the record field name works as the state column too; no prefix column
    want = ProgressReward(scorer, form="neg_steps").score([state] * 3, ["simp", "omega", ""])
    assert plain == pytest.approx(want) and chat == pytest.approx(want) and want[2] == -41.0
    assert all(math.isfinite(v) for v in want)
    with pytest.raises(KeyError, match="no state column.*'theorem'"):
        reward(["p"], ["simp"], theorem=["T"])


def test_the_example_refuses_a_policy_it_cannot_load_in_one_line_without_the_hub(tmp_path):
    import subprocess
    import sys
    import time

    from rl_util import EXAMPLES

    t0 = time.monotonic()
    run = subprocess.run([sys.executable, str(EXAMPLES / "trl_grpo.py"), "--reward-model", "runs/model", "--dataset",
                          "data.jsonl", "--policy", "Qwen/not-downloaded", "--output-dir", str(tmp_path / "out")],
                         capture_output=True, text=True, timeout=120, env={**__import__("os").environ,
                                                                           "HF_HUB_OFFLINE": "0"})
    assert run.returncode == 2 and run.stdout == ""
    assert len(run.stderr.strip().splitlines()) == 1 and "examples/tiny_policy.py" in run.stderr
    assert time.monotonic() - t0 < 60  # no hub retries (27 s of them before, and a 67-line traceback)


def test_the_trl_example_refuses_an_output_folder_that_holds_its_policy(tmp_path, capsys, trained_tiny):
    import runpy
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "examples" / "trl_grpo.py"
    policy = build_policy(tmp_path / "runs" / "policy")
    weights = {p: p.read_bytes() for p in Path(policy).iterdir() if p.is_file()}
    data = tmp_path / "d.jsonl"
    data.write_text('{"goal": "⊢ p", "prefix": "", "tactic": "simp", "steps_remaining": 0, "theorem": "t"}\n')
    main = runpy.run_path(str(script))["main"]
    assert main(["--reward-model", str(trained_tiny[0]), "--dataset", str(data), "--policy", str(policy),
                 "--output-dir", str(tmp_path / "runs")]) == 2
    assert f"--output-dir {tmp_path / 'runs'} holds the input --policy {policy}" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in Path(policy).iterdir() if p.is_file()} == weights
