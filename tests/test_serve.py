import json
import math
import shutil
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from conftest import make_theorem
from leanprogress import LeanProgressScorer
from leanprogress.cli import main
from leanprogress.data.leandojo import records_from_theorem
from leanprogress.data.records import write_records
from leanprogress.generators import GeneratorError, GeneratorTimeout, RetrievalGenerator
from leanprogress.serve import ServerConfig, create_app
from leanprogress.serve.app import ScoringError
from serve_util import RunningServer

GOAL = "x y : ℕ\nh1 : x + 1 ≤ y\n⊢ x * 1 ≤ y ∧ ∀ z : ℕ, z ∣ 2"


class Failing:
    kind = "test"

    def __init__(self, exc):
        self.exc = exc

    def generate(self, state, prefix="", n=32):
        raise self.exc


class Fixed:
    """A generator with fixed candidates and log-probabilities."""

    kind = "fixed"

    def __init__(self, candidates):
        self.candidates = candidates

    def generate(self, state, prefix="", n=32):
        return [(t, s) for t, s in self.candidates if t.startswith(prefix)][:n]


class StubScorer:
    """Steps from a table (or a function), optionally slow or failing, as the server sees a scorer."""

    device, precision, model_name = "cpu", "fp32", "/models/stub-model"

    def __init__(self, steps=None, delay=0.0, fail=None):
        self.steps, self.delay, self.fail = steps or {}, delay, fail
        self.calls = 0

    def predict_batch(self, goals, tactics, prefixes=None):
        self.calls += 1
        time.sleep(self.delay)
        if self.fail is not None:
            raise self.fail
        return [self.steps.get(t, 3.0) for t in tactics]


@pytest.fixture(scope="module")
def corpus():
    return [r for i in range(8) for r in records_from_theorem(make_theorem(f"S{i}", 1 + i % 4))]


@pytest.fixture(scope="module")
def server(trained_tiny, corpus):
    scorer = LeanProgressScorer(str(trained_tiny[0]), device="cpu", precision="fp32")
    gens = {"retrieval": RetrievalGenerator(corpus), "broken": Failing(GeneratorError("backend down")),
            "slow": Failing(GeneratorTimeout("no answer in 1s"))}
    config = ServerConfig(model=str(trained_tiny[0]), generators={k: {} for k in gens}, model_generator=False,
                          reward_by_default=["retrieval"], max_candidates=40, max_input_chars=5000, max_in_flight=32)
    with RunningServer(create_app(config, scorer=scorer, generators=gens)) as s:
        yield s


def generate(server, **body):
    r = httpx.post(server.url + "/generate", json={"name": "retrieval", "input": GOAL, **body}, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()["outputs"]


def test_health_reports_model_and_queue_and_models_tells_roles(server, trained_tiny):
    health = httpx.get(server.url + "/health").json()
    assert health["status"] == "ok"
    assert health["model"] == {"name": trained_tiny[0].name, "device": "cpu", "precision": "fp32"}
    assert health["queue"]["in_flight"] == 0 and health["queue"]["capacity"] == 32
    assert {"waiting_for_model", "rejected", "timed_out", "served", "retry_after_s"} <= set(health["queue"])
    models = httpx.get(server.url + "/models").json()
    retrieval = next(g for g in models["generators"] if g["name"] == "retrieval")
    assert retrieval == {"name": "retrieval", "role": "generator", "kind": "retrieval", "ranked_by_scorer": True,
                         "can_encode": False}
    assert models["scorer"]["role"] == "scorer" and models["scorer"]["ranks_by_default"] == ["retrieval"]
    assert models["scorer"]["model"] == str(trained_tiny[0]) and models["score_format"] == "probability"


def test_default_score_is_a_probability_falling_with_predicted_steps(server):
    outs = generate(server, use_reward=True)
    assert len(outs) > 1
    for o in outs:
        assert 0 < o["score"] <= 1
        assert o["score"] == pytest.approx(math.exp(-2 * o["steps_remaining"] / 20))
        assert o["reward"] == pytest.approx(-o["steps_remaining"]) and o["model_score"] <= 0
    assert [o["score"] for o in outs] == sorted((o["score"] for o in outs), reverse=True)
    assert [o["steps_remaining"] for o in outs] == sorted(o["steps_remaining"] for o in outs)


def test_log_score_format_keeps_the_reward(server):
    outs = generate(server, use_reward=True, score_format="log")
    assert all(o["score"] == pytest.approx(o["reward"]) for o in outs)
    assert [o["score"] for o in outs] == sorted((o["score"] for o in outs), reverse=True)


def test_target_prefix_filters_and_history_reaches_the_scorer(server):
    plain = generate(server, use_reward=True)
    wanted = plain[0]["output"][:5]
    outs = generate(server, prefix=wanted, use_reward=True)
    assert outs and all(o["output"].startswith(wanted) for o in outs)
    with_history = generate(server, use_reward=True, history="intro x\nsimp at h")
    first = {o["output"]: o["steps_remaining"] for o in plain}
    assert any(abs(first[o["output"]] - o["steps_remaining"]) > 1e-6 for o in with_history)


def test_alpha_probability_is_the_exponential_of_the_published_mix(server):
    outs = generate(server, use_reward=True, alpha=0.2)
    for o in outs:
        mix = 0.2 * (-2 * o["steps_remaining"] / 20) + 0.8 * o["model_score"]
        assert o["score"] == pytest.approx(math.exp(mix), rel=1e-6)
    assert [o["score"] for o in outs] == sorted((o["score"] for o in outs), reverse=True)
    logs = generate(server, use_reward=True, alpha=0.2, score_format="log")
    assert [o["output"] for o in logs] == [o["output"] for o in outs]


def test_probability_rises_with_the_generator_probability_and_falls_with_steps():
    gen = Fixed([("a", math.log(0.5)), ("b", math.log(0.1)), ("c", math.log(0.1))])
    scorer = StubScorer({"a": 2.0, "b": 2.0, "c": 0.0})
    config = ServerConfig(generators={"g": {}}, reward_by_default=["g"], alpha=0.5)
    with RunningServer(create_app(config, scorer=scorer, generators={"g": gen})) as s:
        outs = {o["output"]: o["score"] for o in generate(s, name="g")}
    assert outs["a"] > outs["b"]  # same steps, likelier
    assert outs["c"] > outs["b"]  # same likelihood, fewer steps
    assert all(0 < p <= 1 for p in outs.values())


class RankingStub(StubScorer):
    """A distribution-head stand-in: point estimates that tie, rank scores that do not."""

    def score_batch(self, goals, tactics, prefixes=None):
        from leanprogress.scoring import Scores

        rank = self.predict_batch(goals, tactics, prefixes)
        return Scores([0.0] * len(tactics), rank)


def test_candidates_are_ordered_and_rewarded_by_the_rank_score_and_shown_with_the_point_estimate():
    gen = Fixed([("a", math.log(0.4)), ("b", math.log(0.3)), ("c", math.log(0.3))])
    scorer = RankingStub({"a": 0.8, "b": 0.3, "c": 0.55})
    config = ServerConfig(generators={"g": {}}, reward_by_default=["g"])
    with RunningServer(create_app(config, scorer=scorer, generators={"g": gen})) as s:
        outs = generate(s, name="g")
        scored = httpx.post(s.url + "/score", json={"goal": GOAL, "tactics": ["a", "b", "c"]}).json()["outputs"]
    assert [o["output"] for o in outs] == ["b", "c", "a"]
    assert [o["steps_remaining"] for o in outs] == [0.0, 0.0, 0.0]
    assert [o["rank_score"] for o in outs] == [0.3, 0.55, 0.8]
    assert all(o["reward"] == -o["rank_score"] for o in outs)
    assert outs[0]["score"] == pytest.approx(math.exp(-2 * 0.3 / 20))
    assert [(o["tactic"], o["steps_remaining"], o["rank_score"], o["reward"]) for o in scored] == [
        ("a", 0.0, 0.8, -0.8), ("b", 0.0, 0.3, -0.3), ("c", 0.0, 0.55, -0.55)]


def test_without_reward_the_score_is_the_generator_probability(server):
    outs = generate(server, use_reward=False)
    assert all(set(o) == {"output", "score"} and 0 < o["score"] <= 1 for o in outs)
    assert sum(o["score"] for o in outs) == pytest.approx(1.0, abs=0.01)  # retrieval scores are log-shares
    logs = generate(server, use_reward=False, score_format="log")
    assert [math.exp(o["score"]) for o in logs] == pytest.approx([o["score"] for o in outs])


def test_leancopilot_curl_request_gets_aesop_probabilities(server):
    # Exactly what LeanCopilot's ExternalGenerator runs (Models/External.lean): curl with these headers, no others.
    # search_proof hands each score to aesop, whose Percent.ofFloat rejects anything outside [0, 1].
    if shutil.which("curl") is None:
        pytest.skip("curl not installed")
    body = json.dumps({"name": "retrieval", "input": GOAL, "prefix": ""})
    out = subprocess.run(["curl", "-X", "POST", server.url + "/generate", "-H", "accept: application/json",
                          "-H", "Content-Type: application/json", "-d", body],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    outputs = json.loads(out)["outputs"]
    assert outputs and all(isinstance(o["output"], str) and 0 <= o["score"] <= 1 for o in outputs)
    assert "steps_remaining" in outputs[0]  # reward_by_default applies to the Lean client


def test_score_endpoint(server):
    r = httpx.post(server.url + "/score", json={"goal": GOAL, "prefix": "intro x", "tactics": ["simp", "omega"]})
    outs = r.json()["outputs"]
    assert [o["tactic"] for o in outs] == ["simp", "omega"]
    assert all(o["steps_remaining"] >= 0 and o["reward"] == -o["rank_score"] for o in outs)
    assert all(o["rank_score"] == o["steps_remaining"] for o in outs)  # a regression model: one number
    assert httpx.post(server.url + "/score", json={"goal": GOAL, "tactics": []}).json() == {"outputs": []}


@pytest.mark.parametrize(
    "path, body, status, text",
    [
        ("/generate", {"name": "nope", "input": "⊢ p"}, 404, "known generators: ['broken', 'retrieval', 'slow']"),
        ("/generate", {"name": "broken", "input": "⊢ p"}, 502, "backend down"),
        ("/generate", {"name": "slow", "input": "⊢ p"}, 504, "timed out"),
        ("/generate", {"input": "⊢ p"}, 422, "name"),
        ("/generate", {"name": "retrieval", "input": "x" * 6000}, 413, "limit is 5000"),
        ("/generate", {"name": "retrieval", "input": "⊢ p", "num_candidates": 41}, 413, "limit of 40"),
        ("/generate", {"name": "retrieval", "input": "⊢ p", "score_format": "percent"}, 422, "score_format"),
        ("/score", {"goal": "⊢ p", "tactics": ["simp"] * 41}, 413, "exceed the limit"),
        ("/score", {"goal": "⊢ p", "tactics": "simp"}, 422, "tactics"),
        ("/encode", {"name": "retrieval", "input": "⊢ p"}, 400, "cannot encode"),
    ],
)
def test_error_paths_answer_clearly_and_server_survives(server, path, body, status, text):
    r = httpx.post(server.url + path, json=body)
    assert r.status_code == status
    assert text in json.dumps(r.json()["detail"]) and "Traceback" not in r.text
    assert httpx.get(server.url + "/health").status_code == 200


def test_naming_the_scorer_as_a_generator_says_what_it_is(server, trained_tiny):
    r = httpx.post(server.url + "/generate", json={"name": trained_tiny[0].name, "input": "⊢ p"})
    assert r.status_code == 404 and "that is the scorer" in r.json()["detail"]


@pytest.mark.parametrize(
    "path, raw, field",
    [
        ("/generate", '{"name": "retrieval", "input": "⊢ p \\ud800"}', ["body", "input"]),
        ("/generate", '{"name": "retrieval", "input": "⊢ p", "history": "\\udfff x"}', ["body", "history"]),
        ("/score", '{"goal": "⊢ p", "tactics": ["simp", "exact \\ud83d"]}', ["body", "tactics", 1]),
        ("/score", '{"goal": "\\ud800", "tactics": ["simp"]}', ["body", "goal"]),
        ("/encode", '{"name": "retrieval", "input": "\\ud800"}', ["body", "input"]),
    ],
)
def test_lone_surrogates_are_422_naming_the_field(server, path, raw, field):
    r = httpx.post(server.url + path, content=raw.encode(), headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    [error] = r.json()["detail"]
    assert error["loc"] == field and "lone surrogate" in error["msg"]
    assert httpx.get(server.url + "/health").status_code == 200


@pytest.mark.parametrize("alpha", ["NaN", "Infinity", "-Infinity"])
def test_an_alpha_that_is_not_a_number_is_422_saying_so(server, alpha):
    raw = '{"name": "retrieval", "input": "⊢ p", "use_reward": true, "alpha": %s}' % alpha
    r = httpx.post(server.url + "/generate", content=raw.encode(), headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    [error] = r.json()["detail"]
    # before: NaN was "Input should be less than or equal to 1"
    assert error["loc"] == ["body", "alpha"] and error["msg"] == "Input should be a finite number"


def test_malformed_json_is_422(server):
    r = httpx.post(server.url + "/generate", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422


def test_scoring_error_is_an_answer_naming_the_cause_and_the_server_keeps_serving():
    gen = Fixed([("simp", -0.1), ("omega", -0.2)])
    scorer = StubScorer(fail=ScoringError("runs/x: NaN output for 2 of 2 input(s)"))
    config = ServerConfig(generators={"g": {}}, reward_by_default=["g"])
    with RunningServer(create_app(config, scorer=scorer, generators={"g": gen})) as s:
        for path, body in (("/generate", {"name": "g", "input": GOAL}), ("/score", {"goal": GOAL, "tactics": ["a"]})):
            r = httpx.post(s.url + path, json=body)
            assert r.status_code == 500 and "NaN output for 2 of 2" in r.json()["detail"]
        scorer.fail = None
        assert httpx.post(s.url + "/generate", json={"name": "g", "input": GOAL}).status_code == 200
        assert httpx.get(s.url + "/health").json()["queue"]["in_flight"] == 0


def test_a_nan_from_the_scorer_is_never_ranked_first():
    gen = Fixed([("simp", -0.1), ("omega", -0.2), ("rfl", -0.3)])
    scorer = StubScorer({"simp": 4.0, "omega": float("nan"), "rfl": 1.0})
    config = ServerConfig(generators={"g": {}}, reward_by_default=["g"])
    with RunningServer(create_app(config, scorer=scorer, generators={"g": gen})) as s:
        r = httpx.post(s.url + "/generate", json={"name": "g", "input": GOAL})
        assert r.status_code == 500 and "'omega' gave nan" in r.json()["detail"]
        r = httpx.post(s.url + "/score", json={"goal": GOAL, "tactics": ["simp", "omega"]})
        assert r.status_code == 500 and "no finite step count" in r.json()["detail"]
        assert httpx.get(s.url + "/health").status_code == 200


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_a_generator_score_that_is_not_a_number_ranks_last_with_the_floor(bad):
    # The candidate with the fewest predicted steps has the broken generator score: under the mix it used to
    # rank first with score 1.0 (NaN and +inf were clamped to +1e9).
    gen = Fixed([("omega", bad), ("simp", -0.1), ("rfl", -0.3)])
    scorer = StubScorer({"omega": 0.0, "simp": 4.0, "rfl": 6.0})
    config = ServerConfig(generators={"g": {}}, reward_by_default=["g"], alpha=0.2)
    with RunningServer(create_app(config, scorer=scorer, generators={"g": gen})) as s:
        for body in ({}, {"score_format": "log"}, {"use_reward": False}, {"use_reward": False, "score_format": "log"},
                     {"alpha": 1.0}):
            r = httpx.post(s.url + "/generate", json={"name": "g", "input": GOAL, **body})
            assert r.status_code == 200, (body, r.text)
            outs = r.json()["outputs"]
            by_name = {o["output"]: o for o in outs}
            if body.get("alpha") == 1.0:  # the generator's score does not count: steps alone rank
                assert [o["output"] for o in outs] == ["omega", "simp", "rfl"]
                assert by_name["omega"]["score"] == 1.0 and by_name["omega"]["model_score"] == -1e9
                continue
            assert [o["output"] for o in outs] == ["simp", "rfl", "omega"], body
            if body.get("score_format") == "log":
                assert by_name["omega"]["score"] < -1e8, body
            else:
                assert by_name["omega"]["score"] == 1e-300, body
            if body.get("use_reward") is not False:
                assert by_name["omega"]["model_score"] == -1e9 and by_name["omega"]["steps_remaining"] == 0.0


def test_burst_beyond_capacity_gets_429_and_every_accepted_request_succeeds():
    gen = Fixed([(f"t{i}", -0.1 * i) for i in range(8)])
    scorer = StubScorer(delay=0.25)
    config = ServerConfig(generators={"g": {}}, reward_by_default=["g"], max_in_flight=2, request_timeout_s=30)
    with RunningServer(create_app(config, scorer=scorer, generators={"g": gen})) as s:
        def call(i):
            t0 = time.monotonic()
            if i % 2:
                r = httpx.post(s.url + "/score", json={"goal": GOAL, "tactics": ["a", "b"]}, timeout=20)
            else:
                r = httpx.post(s.url + "/generate", json={"name": "g", "input": GOAL}, timeout=20)
            return r, time.monotonic() - t0

        with ThreadPoolExecutor(max_workers=12) as pool:
            results = list(pool.map(call, range(24)))
        codes = [r.status_code for r, _ in results]
        assert set(codes) == {200, 429} and codes.count(200) >= 2
        for r, seconds in results:
            if r.status_code == 429:
                assert int(r.headers["Retry-After"]) >= 1 and "retry in" in r.json()["detail"]
                assert seconds < 2  # turned away at once, not queued
            else:
                outputs = r.json()["outputs"]
                assert len(outputs) in (2, 8) and all(0 < o.get("score", 1) <= 1 for o in outputs)
        health = httpx.get(s.url + "/health").json()
        assert health["status"] == "ok" and health["queue"]["in_flight"] == 0
        assert health["queue"]["rejected"] == codes.count(429) and health["queue"]["served"] == codes.count(200)
        assert httpx.post(s.url + "/generate", json={"name": "g", "input": GOAL}).status_code == 200


def test_request_past_its_time_limit_gets_504_and_frees_its_slot_when_the_work_stops():
    gen = Fixed([("simp", -0.1)])
    scorer = StubScorer(delay=1.5)
    config = ServerConfig(generators={"g": {}}, reward_by_default=["g"], max_in_flight=1, request_timeout_s=0.5)
    with RunningServer(create_app(config, scorer=scorer, generators={"g": gen})) as s:
        t0 = time.monotonic()
        r = httpx.post(s.url + "/generate", json={"name": "g", "input": GOAL}, timeout=10)
        assert r.status_code == 504 and "time limit of 0.5 s" in r.json()["detail"]
        assert time.monotonic() - t0 < 1.4
        assert httpx.get(s.url + "/health").json()["queue"]["in_flight"] == 1  # the forward pass still runs
        assert httpx.post(s.url + "/generate", json={"name": "g", "input": GOAL}).status_code == 429
        time.sleep(1.3)
        health = httpx.get(s.url + "/health").json()["queue"]
        assert health["in_flight"] == 0 and health["timed_out"] == 1


def test_work_waiting_for_the_model_past_its_deadline_does_not_run():
    gen = Fixed([("simp", -0.1)])
    scorer = StubScorer(delay=1.0)
    config = ServerConfig(generators={"g": {}}, reward_by_default=["g"], max_in_flight=4, request_timeout_s=0.6)
    with RunningServer(create_app(config, scorer=scorer, generators={"g": gen})) as s:
        with ThreadPoolExecutor(max_workers=3) as pool:
            codes = [r.status_code for r in pool.map(
                lambda _: httpx.post(s.url + "/generate", json={"name": "g", "input": GOAL}, timeout=10), range(3))]
        assert codes == [504] * 3
        time.sleep(1.2)
        assert scorer.calls == 1  # the two that waited for the model gave up at their deadline
        assert httpx.get(s.url + "/health").json()["queue"]["in_flight"] == 0


def test_use_reward_without_scorer_is_400(corpus):
    app = create_app(ServerConfig(generators={"retrieval": {}}), generators={"retrieval": RetrievalGenerator(corpus)})
    with RunningServer(app) as s:
        r = httpx.post(s.url + "/generate", json={"name": "retrieval", "input": GOAL, "use_reward": True})
        assert r.status_code == 400 and "needs a scorer" in r.json()["detail"]
        assert httpx.post(s.url + "/score", json={"goal": "⊢ p", "tactics": ["a"]}).status_code == 400


def test_no_generators_404_says_how_to_get_one():
    with RunningServer(create_app(ServerConfig(), generators={})) as s:
        r = httpx.post(s.url + "/generate", json={"name": "retrieval", "input": GOAL, "prefix": ""})
        assert r.status_code == 404 and "this server has no generators" in r.json()["detail"]


def test_api_key_guards_everything_but_health_docs_included(corpus):
    config = ServerConfig(api_key="s3cret", max_body_bytes=2000, generators={"retrieval": {}})
    with RunningServer(create_app(config, generators={"retrieval": RetrievalGenerator(corpus)})) as s:
        assert httpx.get(s.url + "/health").status_code == 200  # health stays open
        for path in ("/models", "/docs", "/openapi.json", "/redoc"):
            r = httpx.get(s.url + path)
            assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Basic"), path
        assert httpx.get(s.url + "/models", headers={"X-API-Key": "wrong"}).status_code == 401
        assert httpx.get(s.url + "/models", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert httpx.get(s.url + "/openapi.json", headers={"X-API-Key": "s3cret"}).status_code == 200
        assert httpx.get(s.url + "/docs", auth=("anyone", "s3cret")).status_code == 200
        assert httpx.get(s.url + "/docs", auth=("anyone", "wrong")).status_code == 401
        big = {"name": "retrieval", "input": "x" * 5000}
        assert httpx.post(s.url + "/generate", json=big, headers={"X-API-Key": "s3cret"}).status_code == 413
        if shutil.which("curl") is None:
            return
        # LeanCopilot's ExternalGenerator cannot add a header, but its host field goes into the URL it hands curl:
        # host := "lp:s3cret@localhost" makes curl send the key as a basic-auth password.
        body = json.dumps({"name": "retrieval", "input": GOAL, "prefix": ""})
        url = f"http://lp:s3cret@127.0.0.1:{s.port}/generate"
        out = subprocess.run(["curl", "-X", "POST", url, "-H", "accept: application/json",
                              "-H", "Content-Type: application/json", "-d", body],
                             capture_output=True, text=True, check=True, timeout=60).stdout
        assert json.loads(out)["outputs"]


def test_concurrent_requests_within_capacity_all_succeed(server):
    def call(i):
        if i % 2:
            return httpx.post(server.url + "/score", json={"goal": GOAL, "tactics": [f"simp [h{i}]", "omega"]},
                              timeout=60).status_code
        return httpx.post(server.url + "/generate", json={"name": "retrieval", "input": GOAL + f" + {i}",
                                                           "use_reward": True}, timeout=60).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        codes = list(pool.map(call, range(120)))
    assert codes == [200] * 120
    assert httpx.get(server.url + "/health").json()["status"] == "ok"


def test_model_alone_offers_a_ranked_retrieval_generator(trained_tiny):
    config = ServerConfig(model=str(trained_tiny[0]))
    assert config.generators["retrieval"]["corpus"].endswith("tactic_corpus.jsonl")
    assert config.reward_by_default == ["retrieval"]
    scorer = LeanProgressScorer(str(trained_tiny[0]), device="cpu", precision="fp32")
    with RunningServer(create_app(config, scorer=scorer)) as s:
        # LeanCopilot's request: the proof state of a training theorem.
        r = httpx.post(s.url + "/generate", json={"name": "retrieval", "input": make_theorem("T.t3", 4)[
            "traced_tactics"][0]["state_before"], "prefix": ""})
        outs = r.json()["outputs"]
        assert r.status_code == 200 and outs and all(0 < o["score"] <= 1 and "steps_remaining" in o for o in outs)
        assert any(o["output"].startswith("tac_T.t3_") for o in outs)
        models = httpx.get(s.url + "/models").json()
        assert [g["name"] for g in models["generators"] if g["ranked_by_scorer"]] == ["retrieval"]
    assert "retrieval" not in ServerConfig(model=str(trained_tiny[0]), model_generator=False).generators


def test_config_is_checked_after_all_sources_are_merged(monkeypatch, tmp_path):
    monkeypatch.setenv("LEANPROGRESS_MODEL", str(tmp_path / "no-model"))
    c = ServerConfig.from_sources()
    assert (c.host, c.port, c.model) == ("127.0.0.1", 23337, str(tmp_path / "no-model"))
    # The README's command: the generator comes from a flag, reward_by_default names it.
    c = ServerConfig.from_sources(generators={"retrieval": {"kind": "retrieval", "corpus": "d.jsonl"}},
                                  reward_by_default=["retrieval"])
    assert c.reward_by_default == ["retrieval"]
    file = tmp_path / "c.json"
    file.write_text(json.dumps({"generators": {"vllm": {"kind": "openai", "base_url": "u", "model": "m"}},
                                "reward_by_default": ["vllm"]}))
    c = ServerConfig.from_sources(str(file), generators={"retrieval": {"kind": "retrieval", "corpus": "d.jsonl"}},
                                  reward_by_default=["retrieval"])
    assert sorted(c.generators) == ["retrieval", "vllm"] and c.reward_by_default == ["vllm", "retrieval"]
    bad = tmp_path / "bad.json"
    bad.write_text('{"generators": {}, "bogus": 1}')
    with pytest.raises(ValueError, match="unknown key"):
        ServerConfig.from_sources(str(bad))
    with pytest.raises(ValueError, match="unknown generator 'x'"):
        ServerConfig(reward_by_default=["x"])
    with pytest.raises(ValueError, match="score_format"):
        ServerConfig(score_format="percent")
    with pytest.raises(ValueError, match="max_in_flight"):
        ServerConfig(max_in_flight=0)


def test_serve_on_a_port_in_use_is_one_clear_error_line(tmp_path, capsys, monkeypatch, corpus):
    monkeypatch.delenv("LEANPROGRESS_MODEL", raising=False)
    data = tmp_path / "c.jsonl"
    write_records(corpus, data)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        rc = main(["serve", "--retrieval-corpus", str(data), "--port", str(port)])
    out, err = capsys.readouterr()
    assert rc == 2 and "LeanProgress server on" not in out
    assert err.strip() == f"leanprogress: error: cannot listen on 127.0.0.1:{port}: address already in use " \
                          "(another server on it? pick --port)"


def _body_of(n_bytes):
    """A /generate request body of exactly ``n_bytes`` bytes."""
    head, tail = b'{"name": "g", "input": "', b'"}'
    return head + b"x" * (n_bytes - len(head) - len(tail)) + tail


def test_a_chunked_body_past_the_limit_is_refused_against_a_real_server():
    config = ServerConfig(generators={"g": {}}, max_body_bytes=1000, max_input_chars=100_000)
    app = create_app(config, generators={"g": Fixed([("simp", -0.1)])})
    body = _body_of(20_000)
    json_headers = {"content-type": "application/json"}

    def chunks(data, size=1000):
        for i in range(0, len(data), size):
            yield data[i:i + size]

    with RunningServer(app) as s:
        chunked = httpx.post(s.url + "/generate", content=chunks(body), headers=json_headers)  # no Content-Length
        assert chunked.request.headers.get("transfer-encoding") == "chunked"
        assert chunked.status_code == 413, chunked.text  # was 200
        assert chunked.json()["detail"] == "request body exceeds the limit of 1000 bytes"
        assert chunked.headers["connection"] == "close"
        declared = httpx.post(s.url + "/generate", content=body, headers=json_headers)
        assert declared.status_code == 413
        assert declared.json()["detail"] == "request body of 20000 bytes exceeds the limit of 1000 bytes"
        # An endless body: the server stops reading at the limit and closes the connection, so the client
        # stops long before the 200 MB it would send (before, all of it was read: 422 after 200 MB).
        sent = 0

        def endless():
            nonlocal sent
            while sent < 200_000_000:
                sent += 65_536
                yield b"x" * 65_536

        r = httpx.post(s.url + "/generate", content=endless(), headers=json_headers, timeout=60)
        assert r.status_code == 413 and sent < 20_000_000, sent
        # Within the limit, chunked or not, the request is served.
        for content in (_body_of(1000), chunks(_body_of(1000), 100)):
            r = httpx.post(s.url + "/generate", content=content, headers=json_headers)
            assert r.status_code == 200 and r.json()["outputs"][0]["output"] == "simp"
        assert httpx.get(s.url + "/health").json()["status"] == "ok"


def test_the_body_limit_counts_bytes_as_they_arrive_in_process():
    import asyncio

    config = ServerConfig(generators={"g": {}}, max_body_bytes=1000, max_input_chars=100_000)
    app = create_app(config, generators={"g": Fixed([("simp", -0.1)])})

    async def call(chunks, endless=False, headers=()):
        """Send ``chunks`` (or them over and over, forever) as an ASGI request; the status and the bytes read."""
        read, sent = 0, []
        source = iter(chunks)

        async def receive():
            nonlocal read
            try:
                chunk = next(source)
            except StopIteration:
                if not endless:
                    return {"type": "http.disconnect"}
                chunk = chunks[-1]
            read += len(chunk)
            return {"type": "http.request", "body": chunk, "more_body": endless or read < sum(map(len, chunks))}

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                 "scheme": "http", "path": "/generate", "raw_path": b"/generate", "query_string": b"",
                 "root_path": "", "server": ("127.0.0.1", 1), "client": ("127.0.0.1", 2),
                 "headers": [(b"content-type", b"application/json"), *headers]}
        await app(scope, receive, send)
        start = next(m for m in sent if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return start["status"], read, json.loads(body)

    body = _body_of(1000)
    status, read, answer = asyncio.run(call([body[:500], body[500:]]))
    assert status == 200 and answer["outputs"][0]["output"] == "simp"
    over = _body_of(1001)
    status, read, answer = asyncio.run(call([over[:500], over[500:]]))
    assert status == 413 and answer["detail"] == "request body exceeds the limit of 1000 bytes"
    status, read, _ = asyncio.run(call([b'{"name": "g", "input": "', b"x" * 300], endless=True))
    assert status == 413 and read <= 1000 + 300  # stopped at the chunk that passed the limit
    status, read, answer = asyncio.run(call([body], headers=[(b"content-length", b"5000")]))
    assert status == 413 and read == 0 and "of 5000 bytes" in answer["detail"]  # refused unread
    from leanprogress.serve.body_limit import BodyLimit

    assert BodyLimit(app, max_bytes=1)._message(2) == "request body of 2 bytes exceeds the limit of 1 byte"


def test_without_the_key_a_large_chunked_body_is_401_unread(corpus):
    config = ServerConfig(api_key="s3cret", max_body_bytes=1000, generators={"retrieval": {}})
    with RunningServer(create_app(config, generators={"retrieval": RetrievalGenerator(corpus)})) as s:
        r = httpx.post(s.url + "/generate", content=iter([b"x" * 1000] * 20), headers={"content-type": "application/json"})
        assert r.status_code == 401
        r = httpx.post(s.url + "/generate", content=iter([b"x" * 1000] * 20),
                       headers={"content-type": "application/json", "X-API-Key": "s3cret"})
        assert r.status_code == 413


def test_busy_says_request_in_the_singular_for_one():
    import asyncio

    from leanprogress.serve.limits import Busy, WorkLimiter

    async def two_at_once(capacity):
        limiter = WorkLimiter(capacity=capacity, timeout_s=5)
        release = threading.Event()
        running = [asyncio.ensure_future(limiter.run(lambda deadline: release.wait(5))) for _ in range(capacity)]
        await asyncio.sleep(0.05)
        try:
            await limiter.run(lambda deadline: None)
        except Busy as exc:
            return str(exc)
        finally:
            release.set()
            await asyncio.gather(*running)
            limiter.shutdown()

    assert asyncio.run(two_at_once(1)).startswith("1 request is being worked on, the most this server takes; retry in")
    assert asyncio.run(two_at_once(2)).startswith("2 requests are being worked on")


def test_an_ipv6_address_is_written_in_brackets(tmp_path, capsys, monkeypatch, corpus):
    monkeypatch.delenv("LEANPROGRESS_MODEL", raising=False)
    data = tmp_path / "c.jsonl"
    write_records(corpus, data)
    try:
        taken = socket.socket(socket.AF_INET6)
        taken.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    with taken:
        taken.listen(1)
        port = taken.getsockname()[1]
        assert main(["serve", "--retrieval-corpus", str(data), "--host", "::1", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"cannot listen on [::1]:{port}: address already in use" in err


def test_generate_never_offers_a_candidate_that_is_no_proof_step():
    gen = Fixed([("sorry", -0.1), ("exact sorryAx _ false", -0.2), ("simp", -0.5), ("native_decide", -0.7)])
    config = ServerConfig(generators={"g": {}}, reward_by_default=["g"])
    with RunningServer(create_app(config, scorer=StubScorer(), generators={"g": gen})) as s:
        ranked = [o["output"] for o in generate(s, name="g")]
        plain = [o["output"] for o in generate(s, name="g", use_reward=False)]
    assert sorted(ranked) == sorted(plain) == ["native_decide", "simp"]
