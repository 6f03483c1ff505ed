"""leanprogress.rl: completion cleaning and ProgressReward in this process, on the tiny trained model."""

import math
import pickle
import subprocess
import sys

import pytest

from leanprogress import LeanProgressScorer
from leanprogress.rl import ProgressReward, clean_completion, completion_text, grpo_rows, policy_prompt

GOAL = "x y : ℕ\nh0 : x + 0 ≤ y\n⊢ x * 0 ≤ y"
OTHER = "p q : Prop\nhp : p\nhq : q\n⊢ p ∧ q"


# ---------------------------------------------------------------- cleaning
@pytest.mark.parametrize("completion, tactic", [
    ("simp", "simp"),
    ("  simp  \n", "simp"),
    ("```lean\nby simp\n```\nThis closes the goal because 0 ≤ y.", "simp"),
    ("Here is the next tactic:\n```lean4\nnlinarith [sq_nonneg (a - b)]", "nlinarith [sq_nonneg (a - b)]"),  # cut off
    ("by omega", "omega"),
    ("by_cases h : p", "by_cases h : p"),  # a tactic that starts with "by" keeps it
    ("by\n  omega", "omega"),
    ("simp<|im_end|>\n<|im_start|>user", "simp"),
    ("exact h</s>", "exact h"),
    ("simp -- closes it", "simp"),
    ("have h : 0 < 2 := by\n  norm_num\nlinarith", "have h : 0 < 2 := by\n  norm_num"),
    ("constructor <;> simp", "constructor <;> simp"),
    ("nlinarith [sq_nonneg (a - b),\n  sq_nonneg a]", "nlinarith [sq_nonneg (a - b),\n  sq_nonneg a]"),
    ("simp; ring", "simp"),
    ("· simp\n  ring\n· omega", "· simp\n  ring"),
    ("simp\n\nThis closes the goal.", "simp"),
    ([{"role": "assistant", "content": "```lean\nrfl\n```"}], "rfl"),
    ([{"role": "user", "content": "state"}, {"role": "assistant", "content": "decide"}], "decide"),
])
def test_completions_are_cleaned_to_their_first_tactic(completion, tactic):
    cleaned = clean_completion(completion)
    assert cleaned.ok and cleaned.tactic == tactic and cleaned.status == "ok"


@pytest.mark.parametrize("completion, status", [
    ("", "empty"), ("   \n ", "empty"), ("```lean\n```", "empty"), ("-- nothing", "empty"),
    ("<|im_end|>simp", "empty"), ([], "empty"),
    ("exact (foo", "unparsable"), ("simp [a, b", "unparsable"), ("exact ⟨h, h]", "unparsable"),
    ("sorry", "forbidden"), ("by\n  admit", "forbidden"), ("constructor\n· sorry", "forbidden"), ("stop", "forbidden"),
    ("simp " + "x" * 9000, "too_long"),
])
def test_completions_without_a_tactic_say_why(completion, status):
    cleaned = clean_completion(completion)
    assert cleaned.tactic is None and cleaned.status == status


def test_several_tactics_first_all_or_reject():
    text = "intro n\nsimp [foo]\nring"
    assert clean_completion(text).tactic == "intro n" and clean_completion(text).n_tactics == 3
    assert clean_completion(text, multiple="all").tactic == text
    rejected = clean_completion(text, multiple="reject")
    assert rejected.tactic is None and rejected.status == "multiple" and rejected.n_tactics == 3
    assert clean_completion("simp", multiple="reject").tactic == "simp"  # one tactic is fine
    assert clean_completion("sorry_lemma_name x").tactic == "sorry_lemma_name x"  # whole words only


def test_completion_text_refuses_what_no_framework_sends():
    assert completion_text({"role": "assistant", "content": [{"type": "text", "text": "simp"}]}) == "simp"
    with pytest.raises(TypeError, match="string or a list of chat messages"):
        completion_text(42)
    with pytest.raises(ValueError, match="multiple"):
        clean_completion("simp", multiple="last")


def test_policy_rows_carry_state_and_prefix_once_per_state():
    records = [{"goal": GOAL, "prefix": "", "tactic": "simp", "theorem": "T.a"},
               {"goal": GOAL, "prefix": "", "tactic": "omega", "theorem": "T.a"},
               {"goal": OTHER, "prefix": "intro h", "tactic": "exact h", "theorem": "T.b", "statement": "theorem b"}]
    rows = grpo_rows(records)
    assert [r["state"] for r in rows] == [GOAL, OTHER] and rows[1]["prefix"] == "intro h"
    assert rows[0]["prompt"] == policy_prompt(GOAL, "") and rows[1]["statement"] == "theorem b"
    chat = grpo_rows(records, conversational=True)
    assert chat[0]["prompt"] == [{"role": "user", "content": policy_prompt(GOAL, "")}]


def test_importing_the_rl_package_loads_no_model_library():
    code = ("import sys, leanprogress.rl, leanprogress.rl.trl, leanprogress.rl.verl; "
            "print(sorted(m for m in ('torch', 'transformers', 'trl', 'verl', 'httpx') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# ---------------------------------------------------------------- rewards
@pytest.fixture(scope="module")
def scorer(trained_tiny):
    return LeanProgressScorer(str(trained_tiny[0]), device="cpu", precision="fp32", batch_size=4)


class CountingScorer:
    """A real scorer that records each predict_batch call."""

    def __init__(self, scorer):
        self.scorer, self.calls = scorer, []
        self.settings, self.model_name = scorer.settings, scorer.model_name

    def predict_batch(self, goals, tactics, prefixes=None):
        self.calls.append((list(goals), list(tactics), list(prefixes)))
        return self.scorer.predict_batch(goals, tactics, prefixes)


def test_rewards_are_the_models_steps_in_each_form_scored_in_one_call(scorer):
    counting = CountingScorer(scorer)
    states = [GOAL, GOAL, OTHER, GOAL, OTHER]
    completions = ["simp", "```lean\nomega\n```", "constructor", "sorry", "exact (h"]
    prefixes = ["", "", "intro h", "", ""]
    results = ProgressReward(counting, form="bounded").evaluate(states, completions, prefixes)
    assert len(counting.calls) == 1  # every tactic in one batched call, across states
    goals, tactics, pre = counting.calls[0]
    assert (goals, tactics, pre) == ([GOAL, GOAL, OTHER], ["simp", "omega", "constructor"], ["", "", "intro h"])
    steps = scorer.predict_batch(goals, tactics, pre)
    assert [r.status for r in results] == ["scored", "scored", "scored", "forbidden", "unparsable"]
    assert [r.steps for r in results[:3]] == pytest.approx(steps)
    assert [r.reward for r in results[:3]] == pytest.approx([math.exp(-2 * s / 20) for s in steps])
    assert [r.reward for r in results[3:]] == [0.0, 0.0] and all(r.failed for r in results[3:])

    neg = ProgressReward(scorer, form="neg_steps").score(states, completions, prefixes)
    assert neg[:3] == pytest.approx([-s for s in steps]) and neg[3:] == [-41.0, -41.0]
    custom = ProgressReward(scorer, form="neg_steps", failure_reward=-5, n_max=10)
    assert custom.score([GOAL], ["   "]) == [-5.0] and custom.steps_cap == 20


def test_neg_steps_caps_predictions_so_a_valid_tactic_beats_a_failed_one(scorer):
    class Far:
        settings, model_name = scorer.settings, "far"

        def predict_batch(self, goals, tactics, prefixes=None):
            return [500.0 for _ in tactics]

    reward = ProgressReward(Far(), form="neg_steps", steps_cap=30)
    assert reward.score([GOAL, GOAL], ["simp", ""]) == [-30.0, -31.0]
    assert ProgressReward(Far(), form="bounded").score([GOAL], ["simp"])[0] > 0.0  # never the failure reward


def test_one_state_for_all_completions_and_no_completions(scorer):
    reward = ProgressReward(scorer)
    assert reward.score(GOAL, ["simp", "omega"], "intro x") == pytest.approx(
        ProgressReward(scorer).score([GOAL, GOAL], ["simp", "omega"], ["intro x", "intro x"]))
    assert reward.score([], []) == []
    with pytest.raises(ValueError, match="2 states and 3 prefixes for 3 completions"):
        reward.score([GOAL, GOAL], ["a", "b", "c"], ["", "", ""])
    # no prefix given: none is counted (before: "2 states and 1 prefixes for 1 completions")
    with pytest.raises(ValueError) as err:
        reward.score([GOAL, GOAL], ["simp"])
    assert str(err.value) == "2 states for 1 completion: give one for all, or one per completion"
    with pytest.raises(ValueError) as err:
        scorer.predict_batch([GOAL, GOAL], ["simp"])
    assert str(err.value) == "2 goals for 1 tactic: give one for all, or one per tactic"
    with pytest.raises(ValueError, match="2 states and 3 goal_states for 3 completions"):
        reward.evaluate([GOAL, GOAL], ["a", "b", "c"], goal_states=["initial", None, None])


def test_a_model_folder_loads_in_process_and_pickles_as_its_recipe(trained_tiny, scorer):
    reward = ProgressReward(str(trained_tiny[0]), device="cpu", precision="fp32")
    direct = ProgressReward(scorer).score([GOAL], ["simp"])
    assert reward.score([GOAL], ["simp"]) == pytest.approx(direct)
    copy = pickle.loads(pickle.dumps(reward))
    assert copy.scorer is not reward.scorer and copy.score([GOAL], ["simp"]) == pytest.approx(direct)


def test_close_probability_needs_the_distribution_head(scorer, distribution_model):
    with pytest.raises(ValueError, match="distribution head"):
        ProgressReward(scorer, form="close_probability")
    dist = LeanProgressScorer(str(distribution_model), device="cpu", precision="fp32")
    reward = ProgressReward(dist, form="close_probability")
    results = reward.evaluate([GOAL, GOAL, GOAL], ["simp", "omega", ""])
    assert [r.reward for r in results[:2]] == pytest.approx(dist.close_probability(GOAL, ["simp", "omega"]))
    assert results[2].reward == 0.0 and results[2].status == "empty"


def test_a_state_after_model_needs_lean(trained_tiny, tmp_path):
    import shutil

    from leanprogress.config import ModelSettings

    folder = tmp_path / "after"
    shutil.copytree(trained_tiny[0], folder, ignore=shutil.ignore_patterns("checkpoints"))
    settings = ModelSettings.load(folder)
    settings.goal_from = "state_after"
    settings.save(folder)
    with pytest.raises(ValueError, match="state a tactic produced.*lean="):
        ProgressReward(str(folder), device="cpu")
    assert ProgressReward(str(folder), device="cpu", score_mode="tactic").score_mode == "tactic"


def test_settings_are_checked_when_the_reward_is_built(scorer):
    for kwargs, match in [({"form": "steps"}, "form"), ({"n_max": 0}, "n_max"), ({"multiple": "x"}, "multiple"),
                          ({"failure_reward": float("-inf")}, "finite"), ({"score_mode": "both"}, "score_mode")]:
        with pytest.raises(ValueError, match=match):
            ProgressReward(scorer, **kwargs)
    with pytest.raises(TypeError, match="model folder, a server URL or a scorer"):
        ProgressReward(42)


@pytest.fixture(scope="module")
def distribution_model(tmp_path_factory, trained_tiny):
    from conftest import distribution_copy

    return distribution_copy(trained_tiny[0], tmp_path_factory.mktemp("dist"), max_steps=5, more_steps=8.0)


def test_goal_state_reaches_the_rows_the_prompt_and_the_model(scorer):
    records = [{"goal": GOAL, "prefix": "", "tactic": "simp"},
               {"goal": GOAL, "prefix": "intro x", "tactic": "omega", "goal_state": "initial"}]
    rows = grpo_rows(records)
    assert [r["goal_state"] for r in rows] == ["", "initial"]
    # After tactics, a stand-in initial state is not the current state: the prompt says which it is.
    assert "\nProof state:\n" in rows[0]["prompt"] and "\nInitial proof state:\n" in rows[1]["prompt"]
    seen = []

    class Marks(CountingScorer):
        def predict_batch(self, goals, tactics, prefixes=None, initial_goals=None):
            seen.append(initial_goals)
            return self.scorer.predict_batch(goals, tactics, prefixes, initial_goals)

    ProgressReward(Marks(scorer)).evaluate([GOAL, GOAL], ["simp", "omega"], ["", "intro x"], goal_states=["", "initial"])
    ProgressReward(Marks(scorer)).evaluate([GOAL], ["simp"])
    assert seen == [[False, True], None]  # the mark reaches the model; no marks, no argument


def test_a_distribution_models_reward_is_its_rank_score_so_a_group_does_not_tie(trained_tiny, tmp_path):
    from conftest import distribution_copy
    from leanprogress import LeanProgressScorer, ModelSettings

    folder = distribution_copy(trained_tiny[0], tmp_path / "dist", max_steps=3, more_steps=6.0)
    settings = ModelSettings.load(folder)
    settings.point_estimate = "mode"
    settings.save(folder)
    tactics = ["simp", "omega", "ring", "linarith", "norm_num", "decide", "rfl", "positivity"]
    reward = ProgressReward(str(folder), form="neg_steps", device="cpu", precision="fp32")
    scorer = LeanProgressScorer(str(folder), device="cpu", precision="fp32")
    assert len(set(scorer.predict_batch(GOAL, tactics))) < len(tactics)  # the mode ties the group
    got = reward.score([GOAL] * len(tactics), tactics)
    assert got == pytest.approx([-s for s in scorer.rank_batch(GOAL, tactics)], rel=1e-6)
    assert len(set(got)) == len(tactics)
