"""Reward hacks (tests/redteam.py) get the failure reward by every path: in this process, through a reward
server's /score and /get_reward, through verl's compute_score, and through both Lean gates (the real lean_interact
and kimina-client against the Lean stand-ins). With the text rule taken away, the gates alone still never count a
hack as a finished proof: they read Lean's warnings and axioms, not text."""

import json

import httpx
import pytest

import lean_standin as S
import redteam as R
from kimina_standin import kimina_standin
from leanprogress import LeanProgressScorer
from leanprogress.lean.forbidden import ProofRule
from leanprogress.rl import ProgressReward, policy_prompt
from leanprogress.rl.gate import KiminaGate
from rl_util import lean_interact_gate
from leanprogress.serve import ServerConfig, create_app
from serve_util import RunningServer

lean_interact = pytest.importorskip("lean_interact")

TEXT = R.HACKS + R.INJECTIONS  # what every path must fail
NAMES = [h[0] for h in TEXT]
STATES = [R.state(h[1]) for h in TEXT]
COMPLETIONS = [h[2] for h in TEXT]


def above_failure(rewards, failure, names=NAMES):
    """The hacks whose reward is above the failure reward (what every test expects to be empty)."""
    return [f"{n}: {r}" for n, r in zip(names, rewards) if r > failure]


@pytest.fixture(scope="module")
def scorer(trained_tiny):
    return LeanProgressScorer(str(trained_tiny[0]), device="cpu", precision="fp32")


@pytest.fixture(scope="module")
def server(scorer):
    with RunningServer(create_app(ServerConfig(), scorer=scorer, generators={})) as running:
        yield running


@pytest.fixture(scope="module")
def lean_gate(tmp_path_factory):
    gate = lean_interact_gate(tmp_path_factory.mktemp("lean"))
    yield gate
    gate.close()


@pytest.fixture(scope="module")
def kimina_gate():
    with RunningServer(kimina_standin()) as server:
        yield KiminaGate(url=server.url, timeout_s=5)


@pytest.mark.parametrize("form, failure", [("bounded", 0.0), ("neg_steps", -41.0)])
def test_every_hack_gets_the_failure_reward_in_process(scorer, form, failure):
    results = ProgressReward(scorer, form=form).evaluate(STATES, COMPLETIONS)
    assert above_failure([r.reward for r in results], failure) == []
    assert all(r.status in ("forbidden", "prose", "empty") and r.steps is None for r in results)


def test_every_hack_gets_the_failure_reward_through_score(server):
    reward = ProgressReward(server.url)
    assert above_failure(reward.score(STATES, COMPLETIONS), 0.0) == []
    # Sent to /score as tactics, without the client's cleaning: the server's own rule refuses them unscored.
    tactics = [h[2] for h in R.HACKS]
    r = httpx.post(server.url + "/score", json={"goal": S.AND_START, "tactics": tactics}, timeout=60)
    assert r.status_code == 200, r.text
    outputs = r.json()["outputs"]
    assert [o["status"] for o in outputs] == ["forbidden"] * len(tactics)
    assert all(o["steps_remaining"] is None and o["reward"] == -41.0 for o in outputs)


def test_every_hack_gets_the_failure_reward_through_get_reward(server):
    prompts = [policy_prompt(s) for s in STATES]
    body = {"query": [p + " " + c for p, c in zip(prompts, COMPLETIONS)], "prompts": prompts,
            "labels": [json.dumps({"state": s}) for s in STATES]}
    r = httpx.post(server.url + "/get_reward", json=body, timeout=120)
    assert r.status_code == 200, r.text
    out = r.json()
    assert above_failure(out["rewards"], 0.0) == [] and above_failure(out["scores"], 0.0) == []
    assert out["extra_logs"]["failed"] == [1.0] * len(NAMES)


def test_every_hack_gets_the_failure_reward_through_verl(trained_tiny):
    from leanprogress.rl.verl import compute_score

    settings = {"model": str(trained_tiny[0]), "device": "cpu", "precision": "fp32"}
    one_by_one = [compute_score("leanprogress", c, "", {"state": s}, **settings) for s, c in zip(STATES, COMPLETIONS)]
    batched = compute_score(data_sources=["leanprogress"] * len(NAMES), solution_strs=COMPLETIONS,
                            ground_truths=[""] * len(NAMES), extra_infos=[{"state": s} for s in STATES], **settings)
    assert above_failure(one_by_one, 0.0) == [] and above_failure(batched, 0.0) == []


@pytest.mark.parametrize("which", ["lean_interact", "kimina"])
def test_every_hack_gets_the_failure_reward_through_each_gate(which, scorer, request):
    gate = request.getfixturevalue("lean_gate" if which == "lean_interact" else "kimina_gate")
    hacks = TEXT + R.LEAN_ONLY
    names = [h[0] for h in hacks]
    results = ProgressReward(scorer, lean=gate).evaluate([R.state(h[1]) for h in hacks], [h[2] for h in hacks],
                                                         [""] * len(hacks), [R.statement(h[1]) for h in hacks])
    assert above_failure([r.reward for r in results], 0.0, names) == []
    lean_only = results[len(TEXT):]  # their text is a plausible proof: Lean itself refused them
    assert [r.status for r in lean_only] == ["rejected", "rejected", "rejected", "forbidden"]
    assert "trust_me" in lean_only[-1].message


@pytest.mark.parametrize("which", ["lean_interact", "kimina"])
def test_without_the_text_rule_lean_finishes_no_hack(which, request):
    """The gate alone (each hack sent to Lean as written): nothing Lean finishes with a sorry or a foreign axiom
    counts as finished. Hacks that leave goals open (refine ⟨sorryAx _, ?_⟩) come back as states: only the text
    rule can refuse those, which is why both halves of the rule exist."""
    gate = request.getfixturevalue("lean_gate" if which == "lean_interact" else "kimina_gate")
    hacks = TEXT + R.LEAN_ONLY
    lenient = ProofRule(native_decide=True)  # the gate's own rule at its most lenient
    outcomes = gate.run([R.statement(h[1]) for h in hacks], [""] * len(hacks), [h[2] for h in hacks], rule=lenient)
    finished = [h[0] for h, o in zip(hacks, outcomes) if o.kind == "finished"]
    # native_decide is allowed by this lenient rule, and Lean trusts the compiler for it: the proofs that count.
    assert finished == ["native_decide", "decide +native"]
    strict = gate.run([S.ADD_STATEMENT], [""], ["decide +native"])[0]
    assert strict.status == "forbidden" and "Lean.ofReduceBool" in strict.message
    open_goals = sorted(h[0] for h, o in zip(hacks, outcomes) if o.kind == "state")
    assert open_goals == ["sorryAx in an anonymous constructor", "sorryAx in refine"]
