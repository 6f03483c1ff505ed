"""The reward as a service: ProgressReward against a real server's /score (batching, key, retries), and the
server's OpenRLHF endpoint /get_reward."""

import json
import math

import httpx
import pytest

from leanprogress import LeanProgressScorer
from leanprogress.rl import ProgressReward
from leanprogress.rl.client import RemoteScorer, RewardServiceError
from leanprogress.serve import ServerConfig, create_app
from serve_util import RunningServer

GOAL = "x y : ℕ\nh0 : x + 0 ≤ y\n⊢ x * 0 ≤ y"
OTHER = "p q : Prop\nhp : p\nhq : q\n⊢ p ∧ q"


@pytest.fixture(scope="module")
def scorer(trained_tiny):
    return LeanProgressScorer(str(trained_tiny[0]), device="cpu", precision="fp32")


class Recording:
    """Wraps the real scorer to count forward calls made by the server."""

    def __init__(self, scorer):
        self.scorer, self.calls = scorer, []
        self.settings, self.model_name, self.device, self.precision = scorer.settings, "tiny", "cpu", "fp32"

    def predict_batch(self, goals, tactics, prefixes=None):
        self.calls.append(len(tactics))
        return self.scorer.predict_batch(goals, tactics, prefixes)


@pytest.fixture(scope="module")
def server(scorer):
    recording = Recording(scorer)
    app = create_app(ServerConfig(api_key="sekrit"), scorer=recording, generators={})
    with RunningServer(app) as running:
        running.recording = recording
        yield running


def test_remote_reward_equals_the_in_process_reward(server, scorer):
    states = [GOAL, GOAL, OTHER, GOAL, OTHER, GOAL]
    prefixes = ["", "", "intro h", "", "intro h", "intro x"]
    completions = ["simp", "omega", "constructor", "", "```lean\nexact ⟨hp, hq⟩\n```", "by simp"]
    server.recording.calls.clear()
    remote = ProgressReward(server.url, api_key="sekrit", form="neg_steps")
    got = remote.evaluate(states, completions, prefixes)
    want = ProgressReward(scorer, form="neg_steps").evaluate(states, completions, prefixes)
    assert [r.status for r in got] == [r.status for r in want]
    assert [r.reward for r in got] == pytest.approx([r.reward for r in want], abs=1e-5)
    # One /score request per (state, prefix): 3 groups of valid tactics, the empty completion never sent.
    assert sorted(server.recording.calls) == [1, 2, 2] and remote.scorer.requests == 3


def test_remote_groups_are_split_at_max_batch(server):
    remote = RemoteScorer(server.url, api_key="sekrit", max_batch=2, concurrency=2)
    steps = remote.steps([GOAL] * 5, ["simp", "omega", "rfl", "ring", "decide"], [""] * 5)
    assert len(steps) == 5 and remote.requests == 3 and all(s >= 0 for s in steps)


def test_a_wrong_key_is_one_clear_error_not_retried(server):
    remote = RemoteScorer(server.url, api_key="wrong", sleep=lambda s: pytest.fail("no retry on 401"))
    with pytest.raises(RewardServiceError, match="HTTP 401.*API key"):
        remote.steps([GOAL], ["simp"], [""])
    assert remote.requests == 1


def test_close_probability_is_refused_for_a_server(server):
    with pytest.raises(ValueError, match="distribution head.*in this process"):
        ProgressReward(server.url, api_key="sekrit", form="close_probability")


def scripted(answers):
    """A transport answering /score from a list of (status, headers); 200 answers score every tactic 3."""
    seen = []

    def handler(request):
        body = json.loads(request.content)
        seen.append(request)
        status, headers = answers.pop(0)
        if status == 200:
            return httpx.Response(200, json={"outputs": [{"tactic": t, "steps_remaining": 3.0, "reward": -3.0}
                                                         for t in body["tactics"]]})
        return httpx.Response(status, json={"detail": f"status {status}"}, headers=headers)

    return httpx.MockTransport(handler), seen


def test_429_waits_retry_after_and_504_backs_off():
    transport, seen = scripted([(429, {"Retry-After": "7"}), (504, {}), (504, {}), (429, {}), (200, {})])
    waits = []
    remote = RemoteScorer("http://reward", api_key="k", sleep=waits.append, transport=transport)
    assert remote.steps([GOAL, GOAL], ["simp", "ring"], ["", ""]) == [3.0, 3.0]
    assert waits == [7.0, 2.0, 4.0, 8.0]  # Retry-After honoured; then 2^attempt; a 429 without Retry-After too
    assert len(seen) == 5 and all(r.headers["x-api-key"] == "k" for r in seen)


def test_retries_run_out_with_the_last_answer_named():
    transport, _ = scripted([(503, {})] * 3)
    remote = RemoteScorer("http://reward", retries=2, sleep=lambda s: None, max_wait_s=0.5, transport=transport)
    with pytest.raises(RewardServiceError, match="failed 3 time.*HTTP 503"):
        remote.steps([GOAL], ["simp"], [""])


def test_a_413_for_a_state_is_not_retried():
    transport, seen = scripted([(413, {})])
    remote = RemoteScorer("http://reward", sleep=lambda s: pytest.fail("no retry on 413"), transport=transport)
    with pytest.raises(RewardServiceError, match=f"state of {len(GOAL)} characters with 1 tactic.*HTTP 413"):
        remote.steps([GOAL], ["simp"], [""])


def test_a_server_that_is_down_is_retried_then_reported():
    waits = []
    remote = RemoteScorer("http://127.0.0.1:9", retries=1, sleep=waits.append, timeout_s=2)
    with pytest.raises(RewardServiceError, match="failed 2 time.*ConnectError"):
        remote.steps([GOAL], ["simp"], [""])
    assert waits == [1.0]


def test_remote_scorer_checks_its_settings():
    with pytest.raises(ValueError, match="http"):
        RemoteScorer("localhost:23337")
    with pytest.raises(ValueError, match="retries"):
        RemoteScorer("http://x", retries=-1)


# ---------------------------------------------------------------- OpenRLHF
def test_openrlhf_remote_rm_request_gets_rewards_scores_and_logs(server, scorer):
    prompt = "<|im_start|>user\nNext tactic for the state<|im_end|>\n<|im_start|>assistant\n"
    body = {  # what OpenRLHF's SingleTurnAgentExecutor posts: prompt+response decoded with special tokens
        "query": [prompt + "simp<|im_end|>", prompt + "sorry<|im_end|>", prompt + "omega<|im_end|>"],
        "prompts": [prompt] * 3,
        "labels": [json.dumps({"state": GOAL}), json.dumps({"state": OTHER, "prefix": "intro h", "form": "neg_steps"}),
                   GOAL],
    }
    r = httpx.post(server.url + "/get_reward", json=body, headers={"Authorization": "Bearer sekrit"}, timeout=60)
    assert r.status_code == 200, r.text
    out = r.json()
    steps = scorer.predict_batch([GOAL, GOAL], ["simp", "omega"], ["", ""])
    assert out["scores"] == pytest.approx([math.exp(-s / 10) for s in (steps[0],)] + [0.0] + [math.exp(-steps[1] / 10)],
                                          abs=1e-5)  # the server's batch against this one: rounding apart
    assert out["rewards"] == pytest.approx([out["scores"][0], -41.0, out["scores"][2]])
    assert out["extra_logs"]["failed"] == [0.0, 1.0, 0.0]
    assert out["extra_logs"]["steps_remaining"][1] == -1.0
    assert out["extra_logs"]["steps_remaining"][0] == pytest.approx(steps[0], abs=1e-5)


@pytest.mark.parametrize("body, status, match", [
    ({"query": ["simp"], "prompts": [""], "labels": [{"prefix": "x"}]}, 422, "labels\\[0\\] must be the proof state"),
    ({"query": ["simp"], "prompts": [""]}, 422, "'labels' must have one entry per query"),
    ({"query": ["simp", "ring"], "prompts": [""], "labels": [GOAL, GOAL]}, 422, "'prompts' must have one entry"),
    ({"query": ["simp"], "prompts": [""], "labels": [json.dumps({"state": GOAL, "form": "x"})]}, 422, "form must be"),
    ({"query": ["\ud800"], "prompts": [""], "labels": [GOAL]}, 422, "lone surrogate"),
])
def test_openrlhf_bad_requests_are_named(server, body, status, match):
    import re

    r = httpx.post(server.url + "/get_reward", content=json.dumps(body),  # ASCII JSON: "\ud800" as an escape
                   headers={"X-API-Key": "sekrit", "Content-Type": "application/json"}, timeout=30)
    assert r.status_code == status and re.search(match, r.text), r.text
    assert httpx.get(server.url + "/health").json()["status"] == "ok"
