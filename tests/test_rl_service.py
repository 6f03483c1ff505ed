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
from serve_util import RunningServer, openrlhf_post

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


def test_remote_scorer_splits_requests_by_bytes_below_the_servers_limit(server):
    # 128 completions of 8,085 characters on one state: about 1.04 MB of JSON in one request, past the server's
    # 1,000,000-byte body limit (HTTP 413 ended the run before); now split by bytes.
    remote = ProgressReward(server.url, api_key="sekrit")
    completions = ["simp only [" + ", ".join(["foo"] * 1600) + "]"] * 128
    assert all(8000 < len(c) < 8192 for c in completions)
    results = remote.evaluate([GOAL] * 128, completions)
    assert [r.status for r in results] == ["scored"] * 128
    assert remote.scorer.requests == 2  # about 1.04 MB: two requests below the limit, not one past it


def test_get_reward_never_scores_the_prompt_as_the_response(server):
    from leanprogress.rl import policy_prompt

    prompt = policy_prompt(GOAL)
    headers = {"X-API-Key": "sekrit"}
    # A tokenizer's decode turned "\n\n" into "\n \n": the query no longer starts with the prompt, and the
    # response is empty. Before, the whole query was scored as the tactic "Complete the Lean 4 proof ...".
    body = {"query": [prompt.replace("\n\n", "\n \n"), "<|begin_of_text|>" + prompt + " simp", "unrelated text"],
            "prompts": [prompt] * 3, "labels": [GOAL] * 3}
    out = httpx.post(server.url + "/get_reward", json=body, headers=headers, timeout=60).json()
    assert out["rewards"][0] == 0.0 and out["extra_logs"]["failed"][0] == 1.0
    assert out["rewards"][1] > 0.0 and out["extra_logs"]["failed"][1] == 0.0  # the begin token is no obstacle
    assert out["rewards"][2] == 0.0 and out["extra_logs"]["prompt_mismatch"] == [0.0, 0.0, 1.0]


def test_get_reward_bounds_every_field(server):
    huge = "x" * 800_000  # within the body limit, past max_input_chars: 413 as /score answers
    for label, field in ((json.dumps({"state": huge}), "labels\\[0\\].state"),
                         (json.dumps({"state": GOAL, "prefix": huge}), "labels\\[0\\].prefix"),
                         (json.dumps({"state": GOAL, "statement": huge}), "labels\\[0\\].statement")):
        body = {"query": ["simp"], "prompts": [""], "labels": [label]}
        r = httpx.post(server.url + "/get_reward", json=body, headers={"X-API-Key": "sekrit"}, timeout=60)
        assert r.status_code == 413 and __import__("re").search(field, r.text), r.text


def test_get_reward_queues_what_one_request_per_sample_brings_and_scores_it_in_batches(scorer):
    # OpenRLHF sends one request per sample; with max_in_flight 2, /score would refuse most of 24 at once (429).
    import concurrent.futures

    app = create_app(ServerConfig(max_in_flight=2), scorer=scorer, generators={})
    with RunningServer(app) as running:
        def one(i):
            body = {"query": [f"simp{' ' * (i % 3)}"], "prompts": [""], "labels": [GOAL]}
            return httpx.post(running.url + "/get_reward", json=body, timeout=120)

        with concurrent.futures.ThreadPoolExecutor(24) as pool:
            answers = list(pool.map(one, range(24)))
        stats = httpx.get(running.url + "/health").json()["reward_queue"]
    assert [a.status_code for a in answers] == [200] * 24
    assert stats["scored"] == 24 and stats["batches"] < 24 and stats["waiting"] == 0


def test_a_full_reward_queue_is_refused_with_retry_after(scorer):
    app = create_app(ServerConfig(reward_queue=1), scorer=scorer, generators={})
    with RunningServer(app) as running:
        body = {"query": ["simp", "ring"], "prompts": ["", ""], "labels": [GOAL, GOAL]}
        r = httpx.post(running.url + "/get_reward", json=body, timeout=60)
    assert r.status_code == 429 and r.headers["retry-after"] == "1" and "the most this server queues" in r.text


def test_openrlhf_sends_the_key_in_the_url_and_gets_its_reward(server):
    from leanprogress.rl import policy_prompt

    prompt = policy_prompt(GOAL)
    data = {"query": [prompt + " simp"], "prompts": [prompt], "labels": [json.dumps({"state": GOAL})]}
    out = openrlhf_post(server.url.replace("http://", "http://lp:sekrit@") + "/get_reward", data)
    assert len(out["rewards"]) == 1 and out["rewards"][0] > 0.0
    with pytest.raises(RuntimeError, match="2 times"):  # a wrong key: 401 on every try
        openrlhf_post(server.url.replace("http://", "http://lp:wrong@") + "/get_reward", data, try_max_times=2)
