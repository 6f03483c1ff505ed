"""Whole proofs as completions (ProgressReward(task="proof")): verified through each gate (the real lean_interact and
kimina-client against the Lean stand-ins), partial credit from the model up to Lean's first error, strictly between
the failure reward and a verified proof's reward; without a gate, unverified partial credit. In TRL, verl and
/get_reward alike."""

import json

import httpx
import pytest

import lean_standin as S
from kimina_standin import kimina_standin
from leanprogress import LeanProgressScorer
from leanprogress.rl import ProgressReward, policy_prompt
from leanprogress.rl.gate import KiminaGate
from rl_util import lean_interact_gate
from serve_util import RunningServer

lean_interact = pytest.importorskip("lean_interact")

WHOLE = f"```lean4\nimport Mathlib\n\n{S.AND_STATEMENT} := by\n  constructor\n  exact hp\n  exact hq\n```"
PROOFS = [
    WHOLE,                                       # verified
    "constructor\nexact hp\nsimp",               # rejected at tactic 3: partial credit for 2 tactics
    "constructor\nexact hp",                     # every tactic accepted, a goal left: partial credit for 2
    "simp\nexact hp",                            # the first tactic fails: no credit
    "constructor\nexact hp\nexact sorryAx _ false",  # the proof rule: no credit
    "exact trust_me p q hp hq",                  # finished, but through an axiom of the environment: no credit
]
STATUSES = ["verified", "partial", "partial", "rejected", "forbidden", "forbidden"]


@pytest.fixture(scope="module")
def scorer(trained_tiny):
    return LeanProgressScorer(str(trained_tiny[0]), device="cpu", precision="fp32")


@pytest.fixture(scope="module")
def kimina_server():
    with RunningServer(kimina_standin()) as server:
        yield server


@pytest.fixture(scope="module")
def lean_gate(tmp_path_factory):
    gate = lean_interact_gate(tmp_path_factory.mktemp("lean"))
    yield gate
    gate.close()


def expected_partial(reward, scorer, tactic, prefix):
    """What the partial credit must be: the model read as the whole-proof data is (initial state, the tactics before
    as prefix, the initial-goal mark), steps capped, mapped into the band above the failure reward."""
    steps = scorer.predict_batch([S.AND_START], [tactic], [prefix], [bool(prefix)])[0]
    r = reward.reward_of(min(steps, reward.steps_cap))
    return reward.failure_reward + reward.partial_credit * (r - reward.failure_reward)


@pytest.mark.parametrize("which", ["kimina", "lean_interact"])
@pytest.mark.parametrize("form", ["bounded", "neg_steps"])
def test_whole_proofs_are_verified_or_get_partial_credit_below_a_verified_one(which, form, scorer, request):
    gate = (KiminaGate(url=request.getfixturevalue("kimina_server").url, timeout_s=5) if which == "kimina"
            else request.getfixturevalue("lean_gate"))
    reward = ProgressReward(scorer, form=form, task="proof", lean=gate)
    results = reward.evaluate([S.AND_START] * len(PROOFS), PROOFS, None, [S.AND_STATEMENT] * len(PROOFS))
    assert [r.status for r in results] == STATUSES, [r.message for r in results]
    verified, partial1, partial2, *failed = results
    assert verified.reward == reward.best_reward and verified.steps == 0.0
    assert [r.reward for r in failed] == [reward.failure_reward] * 3
    for partial in (partial1, partial2):
        assert partial.reward == pytest.approx(expected_partial(reward, scorer, "exact hp", "constructor"))
        assert reward.failure_reward < partial.reward < verified.reward  # a failed proof never outranks
        assert "2 of" in partial.message
    assert "trust_me" in failed[2].message


def test_partial_credit_in_state_mode_reads_the_state_lean_reached(kimina_server, scorer):
    gate = KiminaGate(url=kimina_server.url, timeout_s=5)
    reward = ProgressReward(scorer, task="proof", lean=gate, score_mode="state")
    result = reward.evaluate([S.AND_START], ["constructor\nexact hp\nsimp"], None, [S.AND_STATEMENT])[0]
    steps = scorer.predict_batch([S.AND_RIGHT], ["exact hp"], ["constructor"])[0]  # the state after the 2 tactics
    assert result.status == "partial" and result.steps == pytest.approx(steps)


def test_without_a_gate_every_proof_is_unverified_partial_credit(scorer):
    reward = ProgressReward(scorer, task="proof")
    results = reward.evaluate([S.AND_START] * 3, [WHOLE, "simp\nexact hp", "constructor\nsorry"], None,
                              [S.AND_STATEMENT] * 3)
    assert [r.status for r in results] == ["unverified", "unverified", "forbidden"]
    assert results[0].reward == pytest.approx(expected_partial(reward, scorer, "exact hq", "constructor\nexact hp"))
    assert all(0.0 < r.reward < 1.0 for r in results[:2]) and results[2].reward == 0.0


def test_proof_settings_are_checked(scorer):
    for kwargs, match in [({"partial_credit": 1.0}, "partial_credit"), ({"partial_credit": 0.0}, "partial_credit"),
                          ({"failure_reward": 0.5}, "below the reward of the most steps"), ({"task": "x"}, "task")]:
        with pytest.raises(ValueError, match=match):
            ProgressReward(scorer, task=kwargs.pop("task", "proof"), **kwargs)
    with pytest.raises(ValueError, match="prefixes must be empty"):
        ProgressReward(scorer, task="proof").evaluate([S.AND_START], ["simp"], ["intro x"])


def test_trl_verl_and_get_reward_score_whole_proofs(kimina_server, scorer, trained_tiny):
    from leanprogress.rl.trl import TRLReward
    from leanprogress.rl.verl import compute_score
    from leanprogress.serve import ServerConfig, create_app

    trl_reward = TRLReward(ProgressReward(scorer, task="proof", lean=KiminaGate(url=kimina_server.url)))
    got = trl_reward(["p"] * 2, [WHOLE, "simp"], state=[S.AND_START] * 2, statement=[S.AND_STATEMENT] * 2)
    assert got == [1.0, 0.0]
    settings = {"model": str(trained_tiny[0]), "device": "cpu", "precision": "fp32", "task": "proof",
                "kimina_url": kimina_server.url}
    extra = {"state": S.AND_START, "statement": S.AND_STATEMENT}
    assert compute_score("leanprogress", WHOLE, "", extra, **settings) == 1.0
    assert 0.0 < compute_score("leanprogress", "constructor\nexact hp", "", extra, **settings) < 1.0
    with RunningServer(create_app(ServerConfig(), scorer=scorer, generators={})) as server:
        prompt = policy_prompt(S.AND_START)
        label = json.dumps({"state": S.AND_START, "statement": S.AND_STATEMENT, "task": "proof"})
        body = {"query": [prompt + WHOLE, prompt + "simp"], "prompts": [prompt] * 2, "labels": [label] * 2}
        out = httpx.post(server.url + "/get_reward", json=body, timeout=60).json()
    assert out["extra_logs"]["unverified"] == [1.0, 1.0] and all(0.0 < s < 1.0 for s in out["scores"])
