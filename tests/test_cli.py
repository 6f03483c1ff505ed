import json
import re
import subprocess
import sys

import pytest

from conftest import link_to, refused
from leanprogress.cli import main


def test_create_sample_dataset_module(tmp_path):
    out = tmp_path / "new" / "folder" / "sample.jsonl"
    subprocess.run([sys.executable, "-m", "leanprogress.create_sample_dataset", "--output", str(out)], check=True)
    rows = [json.loads(l) for l in out.read_text().splitlines()]
    assert len(rows) == 3 and {"goal", "prefix", "tactic", "steps_remaining"} <= set(rows[0])
    again = tmp_path / "again.jsonl"
    assert main(["create-sample", "--output", str(again)]) == 0 and again.read_text() == out.read_text()


def test_build_dataset_reports_and_writes(traces, tmp_path, capsys):
    out = tmp_path / "recs.jsonl"
    assert main(["build-dataset", str(traces), "--output", str(out)]) == 0
    text = capsys.readouterr().out
    assert "13 theorem(s); skipped 1 with no tactics" in text and "wrote 42 record(s)" in text
    rows = [json.loads(l) for l in out.read_text().splitlines()]
    assert len(rows) == 42 and rows[0]["source"] == f"{tmp_path.name}/traces"


def test_build_dataset_balance_is_seeded(traces, tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    for out in (a, b):
        assert main(["build-dataset", str(traces), "--output", str(out), "--balance", "1-3:0.0,4+:1.0"]) == 0
    assert a.read_text() == b.read_text()
    assert all(json.loads(l)["proof_length"] >= 4 for l in a.read_text().splitlines())


def test_build_dataset_bad_input_is_an_error_not_a_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"not": "a list"}')
    assert main(["build-dataset", str(bad), "--output", str(tmp_path / "o.jsonl")]) == 2
    assert f"{bad}:1: expected a JSON list" in capsys.readouterr().err
    assert not (tmp_path / "o.jsonl").exists()


def test_split_by_theorem_files(traces, tmp_path, capsys):
    recs = tmp_path / "recs.jsonl"
    main(["build-dataset", str(traces), "--output", str(recs)])
    assert main(["split", "--dataset", str(recs), "--output-dir", str(tmp_path / "s"), "--eval-ratio", "0.25"]) == 0
    train = [json.loads(l)["theorem"] for l in (tmp_path / "s" / "train.jsonl").read_text().splitlines()]
    held = [json.loads(l)["theorem"] for l in (tmp_path / "s" / "eval.jsonl").read_text().splitlines()]
    assert set(train).isdisjoint(held) and len(set(held)) == 3


def test_invalid_dataset_line_is_reported_with_file_and_line(tmp_path, capsys, tiny_model):
    data = tmp_path / "d.jsonl"
    data.write_text('{"goal": "g", "tactic": "t", "steps_remaining": 0, "theorem": "a"}\n{"goal": "g"}\n')
    rc = main(["train", "--dataset", str(data), "--output-dir", str(tmp_path / "m"), "--model-name", str(tiny_model)])
    assert rc == 2 and f"{data}:2: missing key 'tactic'" in capsys.readouterr().err


def test_train_then_evaluate_json_and_plot(traces, tmp_path, capsys, tiny_model):
    recs = tmp_path / "recs.jsonl"
    main(["build-dataset", str(traces), "--output", str(recs)])
    model = tmp_path / "model"
    rc = main(["train", "--dataset", str(recs), "--output-dir", str(model), "--model-name", str(tiny_model),
               "--epochs", "1", "--batch-size", "8", "--max-length", "96", "--precision", "fp32"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "(held-out theorems, split by theorem)" in out
    assert re.search(r"held-out, (best epoch \(1\)|the constant predictor): MAE", out)
    assert "best constant" in out
    assert main(["evaluate", "--model", str(model), "--dataset", str(model / "eval_split.jsonl"), "--json",
                 "--plot", str(tmp_path / "plot.png")]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert {"mae", "accuracy", "within_one", "spearman", "buckets", "best_constant", "comparison"} <= set(metrics)
    comparison = metrics["comparison"]
    assert set(comparison["predictors"]) == {"model", "lookup median", "lookup mode", "best constant"}
    lo, hi = comparison["predictors"]["model"]["mae_ci"]
    assert lo <= metrics["mae"] <= hi and comparison["predictors"]["model"]["mae"] == pytest.approx(metrics["mae"])
    assert (tmp_path / "plot.png").stat().st_size > 1000
    assert main(["evaluate", "--model", str(model), "--dataset", str(model / "eval_split.jsonl")]) == 0
    report = capsys.readouterr().out
    assert "lookup median" in report and "lookup mode" in report and "model - lookup mode" in report
    assert main(["score", "--model", str(model), "--goal", "⊢ True", "--tactic", "trivial", "--tactic", "simp",
                 "--json"]) == 0
    ranked = json.loads(capsys.readouterr().out)
    assert [r["reward"] for r in ranked] == [-r["rank_score"] for r in ranked]
    assert [r["rank_score"] for r in ranked] == [r["steps_remaining"] for r in ranked]  # regression: one number


def test_train_steps_model_module_has_the_original_flags():
    out = subprocess.run([sys.executable, "-m", "leanprogress.train_steps_model", "--help"],
                         capture_output=True, text=True, check=True).stdout
    for flag in ("--dataset", "--output-dir", "--model-name", "--max-length", "--batch-size", "--epochs",
                 "--learning-rate", "--eval-ratio", "--seed", "--resume"):
        assert flag in out


def test_bad_argument_value_is_a_clear_error(tmp_path, capsys):
    data = tmp_path / "d.jsonl"
    data.write_text('{"goal": "g", "tactic": "t", "steps_remaining": 0}\n')
    assert main(["train", "--dataset", str(data), "--output-dir", str(tmp_path), "--learning-rate", "-1"]) == 2
    assert "learning_rate must be > 0" in capsys.readouterr().err


def test_build_dataset_from_proofs_and_lean_source(tmp_path, capsys):
    proofs = tmp_path / "proofs.jsonl"
    proofs.write_text(json.dumps({"name": "t1", "goal": "x : ℕ\n⊢ x + 0 = x",
                                  "proof": "theorem t1 (x : ℕ) : x + 0 = x := by\n  simp\n"}) + "\n")
    src = tmp_path / "Proj"
    src.mkdir()
    (src / "A.lean").write_text("theorem a (p : Prop) (hp : p) : p := by\n  have h := hp\n  exact h\n"
                                "theorem b : 1 = 1 := rfl\n")
    out = tmp_path / "mixed.jsonl"
    assert main(["build-dataset", "--from-proofs", str(proofs), "--from-lean-source", str(src),
                 "--output", str(out)]) == 0
    text = capsys.readouterr().out
    assert "whole proofs: read 1 file(s), 1 declaration(s); used 1, wrote 1 record(s)" in text
    assert "skipped 1: term-mode proof" in text and "wrote 3 record(s)" in text
    rows = [json.loads(l) for l in out.read_text().splitlines()]
    assert {r["source"] for r in rows} == {f"{tmp_path.name}/proofs", f"{tmp_path.name}/Proj"}
    assert [r["steps_remaining"] for r in rows if r["theorem"] == "a"] == [1, 0]


def test_train_on_a_weighted_mixture(traces, tmp_path, capsys, tiny_model):
    a = tmp_path / "a.jsonl"
    main(["build-dataset", str(traces), "--output", str(a)])
    b = tmp_path / "b.jsonl"
    b.write_text("".join(json.dumps({"goal": f"⊢ P{i}", "tactic": "simp", "steps_remaining": 0, "theorem": f"w{i}"}) + "\n"
                         for i in range(8)))
    model = tmp_path / "m"
    assert main(["train", "--dataset", str(a), "--dataset", f"{b}:0.5", "--output-dir", str(model),
                 "--model-name", str(tiny_model), "--epochs", "1", "--max-length", "64", "--precision", "fp32"]) == 0
    held = [json.loads(l) for l in (model / "eval_split.jsonl").read_text().splitlines()]
    assert {r["source"] for r in held} <= {f"{tmp_path.name}/traces", f"{tmp_path.name}/b"}
    assert main(["evaluate", "--model", str(model), "--dataset", str(model / "eval_split.jsonl"), "--json"]) == 0


def test_score_takes_state_like_predict_steps_and_goal_as_its_alias(trained_tiny, capsys):
    model = str(trained_tiny[0])
    rankings = []
    for flag in ("--state", "--goal"):
        assert main(["score", "--model", model, flag, "x : ℕ\n⊢ x = x", "--tactic", "rfl", "--tactic", "simp",
                     "--json"]) == 0
        rankings.append(json.loads(capsys.readouterr().out))
    assert rankings[0] == rankings[1] and sorted(r["tactic"] for r in rankings[0]) == ["rfl", "simp"]


def test_score_ranks_a_distribution_model_by_its_rank_score_and_shows_the_point_estimate(trained_tiny, tmp_path,
                                                                                           capsys):
    from conftest import distribution_copy
    from leanprogress import ModelSettings

    folder = distribution_copy(trained_tiny[0], tmp_path / "dist", max_steps=3, more_steps=6.0)
    settings = ModelSettings.load(folder)
    settings.point_estimate = "mode"
    settings.save(folder)
    tactics = ["rfl", "simp", "omega", "ring", "linarith", "decide"]
    args = ["score", "--model", str(folder), "--state", "x : ℕ\n⊢ x = x"] + [a for t in tactics for a in ("--tactic", t)]
    assert main(args + ["--json"]) == 0
    ranked = json.loads(capsys.readouterr().out)
    ranks = [r["rank_score"] for r in ranked]
    assert ranks == sorted(ranks) and len(set(ranks)) == len(tactics)
    assert len({r["steps_remaining"] for r in ranked}) < len(tactics)  # the mode ties them
    assert main(args) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["rank", "steps", "left", "rank", "score", "tactic"]
    assert [line.split()[-1] for line in table[1:]] == [r["tactic"] for r in ranked]


def test_score_and_predict_steps_check_arguments_before_loading_the_model(tmp_path, capsys):
    missing = str(tmp_path / "no-such-model")
    assert main(["score", "--model", missing, "--state", "  ", "--tactic", "simp"]) == 2
    assert "--state is empty" in capsys.readouterr().err
    assert main(["predict-steps", "--model", missing, "--state", "\n"]) == 2
    assert "--state is empty" in capsys.readouterr().err
    assert main(["predict-steps", "--model", missing, "--state", "⊢ p", "--tactic", " "]) == 2
    assert "--tactic is empty" in capsys.readouterr().err


def test_predict_steps_scores_an_initial_state(trained_tiny, capsys, tmp_path):
    from conftest import state_after_copy

    model = state_after_copy(trained_tiny[0], tmp_path / "after")  # a state on its own: a state_after model
    for extra in ([], ["--prefix", ""]):
        assert main(["predict-steps", "--model", model, "--state", "x : ℕ\n⊢ x = x", *extra]) == 0
        out = capsys.readouterr().out
        assert "steps left from this initial state" in out and float(out.split()[0]) >= 0
    assert main(["predict-steps", "--model", model, "--state", "⊢ p", "--prefix", "intro h\nsimp"]) == 0
    assert "steps left from this state" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["evaluate", "score", "predict-steps", "serve"])
def test_every_option_has_help(command):
    from leanprogress.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command").choices[command]
    silent = [a.option_strings[0] for a in sub._actions if a.option_strings and a.dest != "help" and not a.help]
    assert not silent, f"{command}: options without help text: {silent}"


def test_default_sources_of_two_proofs_files_are_distinct(tmp_path, capsys):
    line = json.dumps({"name": "t", "goal": "⊢ True", "proof": "by trivial"}) + "\n"
    for folder in ("minif2f-valid-proofs", "lean-workbook-plus-proofs"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "proofs.jsonl").write_text(line)
    out = tmp_path / "o.jsonl"
    assert main(["build-dataset", "--from-proofs", str(tmp_path / "minif2f-valid-proofs" / "proofs.jsonl"),
                 "--from-proofs", str(tmp_path / "lean-workbook-plus-proofs" / "proofs.jsonl"), "--output", str(out)]) == 0
    assert [json.loads(l)["source"] for l in out.read_text().splitlines()] == [
        "minif2f-valid-proofs/proofs", "lean-workbook-plus-proofs/proofs"]
    assert "source minif2f-valid-proofs/proofs: 1 record(s)" in capsys.readouterr().out


def test_output_that_is_a_folder_is_one_line_before_any_work(traces, tmp_path, capsys):
    assert main(["build-dataset", str(traces), "--output", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{tmp_path} is a directory" in err


def test_split_refuses_an_empty_file_and_a_folder(tmp_path, capsys):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main(["split", "--dataset", str(empty), "--output-dir", str(tmp_path / "s")]) == 2
    assert "no records to split" in capsys.readouterr().err and not (tmp_path / "s").exists()
    assert main(["split", "--dataset", str(tmp_path), "--output-dir", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a directory; expected a dataset file" in err


def test_ctrl_c_during_build_dataset_is_one_line_and_leaves_nothing(traces, tmp_path, capsys, monkeypatch):
    from leanprogress.data import leandojo

    real = leandojo.records_from_theorem
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(leandojo, "records_from_theorem", interrupted)
    out = tmp_path / "out" / "recs.jsonl"
    assert main(["build-dataset", str(traces), "--output", str(out)]) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "interrupted" in err
    assert list((tmp_path / "out").iterdir()) == []  # no partial file, no temporary file


def _fake_trainer(monkeypatch, interrupt=False):
    import leanprogress.training as training

    class FakeTrainer:
        def __init__(self, args, train, held, callbacks=()):
            self.train_records = train

        def train(self):
            if interrupt:
                raise KeyboardInterrupt
            return {"train": {}, "kept": "model"}

    monkeypatch.setattr(training, "ProgressTrainer", FakeTrainer)


def test_train_warns_when_the_eval_dataset_shares_theorems(traces, tmp_path, capsys, monkeypatch):
    recs = tmp_path / "recs.jsonl"
    main(["build-dataset", str(traces), "--output", str(recs)])
    rows = [json.loads(l) for l in recs.read_text().splitlines()]
    # the same theorems as search would export them: no file_path, another source
    exported = tmp_path / "found.jsonl"
    exported.write_text("".join(json.dumps({k: v for k, v in r.items() if k not in ("file_path", "source")}) + "\n"
                                for r in rows if r["theorem"] in ("T.thm1", "T.thm2")))
    _fake_trainer(monkeypatch)
    assert main(["train", "--dataset", str(recs), "--eval-dataset", str(exported), "--output-dir", str(tmp_path / "m")]) == 0
    err = capsys.readouterr().err
    assert "shares 2 theorem(s) with the training data (e.g. T.thm1, T.thm2)" in err
    clean = tmp_path / "clean.jsonl"
    clean.write_text(json.dumps({"goal": "⊢ q", "tactic": "t", "steps_remaining": 0, "theorem": "other"}) + "\n")
    assert main(["train", "--dataset", str(recs), "--eval-dataset", str(clean), "--output-dir", str(tmp_path / "m")]) == 0
    assert "shares" not in capsys.readouterr().err


def test_ctrl_c_during_train_is_one_line(traces, tmp_path, capsys, monkeypatch):
    recs = tmp_path / "recs.jsonl"
    main(["build-dataset", str(traces), "--output", str(recs)])
    capsys.readouterr()
    _fake_trainer(monkeypatch, interrupt=True)
    assert main(["train", "--dataset", str(recs), "--output-dir", str(tmp_path / "m")]) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "interrupted" in err and "--resume" in err


def test_balance_on_a_benchmark_folder_reads_each_theorem_once(tmp_path, capsys):
    from conftest import make_theorem

    theorems = [make_theorem(f"T{i}", 1 + i % 6) for i in range(12)]
    for split in ("random", "novel_premises"):
        (tmp_path / "bench" / split).mkdir(parents=True)
        (tmp_path / "bench" / split / "test.json").write_text(json.dumps(theorems))
    (tmp_path / "bench" / "metadata.json").write_text("{}")
    out = tmp_path / "o.jsonl"
    assert main(["build-dataset", str(tmp_path / "bench"), "--output", str(out), "--balance", "1-3:0,4+:1"]) == 0
    text = capsys.readouterr().out
    assert "skipped 12 theorem(s) already read" in text and "skipped 1 JSON file(s)" in text
    rows = [json.loads(l) for l in out.read_text().splitlines()]
    assert len(rows) == 4 + 5 + 6 + 4 + 5 + 6  # lengths 4-6, each theorem once


def test_a_train_start_that_fails_leaves_nothing(traces, tmp_path, capsys):
    # Before, the eval split was written before the encoder was loaded: a typo in --model-name left a folder
    # holding only eval_split.jsonl (or overwrote the split beside a finished model).
    recs = tmp_path / "recs.jsonl"
    main(["build-dataset", str(traces), "--output", str(recs)])
    out = tmp_path / "runs" / "model"
    rc = main(["train", "--dataset", str(recs), "--output-dir", str(out), "--model-name", str(tmp_path / "no-such")])
    err = capsys.readouterr().err
    assert rc == 2 and "encoder folder not found" in err and "a encoder" not in err
    assert not out.exists() and not (tmp_path / "runs").exists()


def test_train_with_an_eval_dataset_does_not_claim_a_split(traces, tmp_path, capsys, monkeypatch):
    recs = tmp_path / "recs.jsonl"
    main(["build-dataset", str(traces), "--output", str(recs)])
    held = tmp_path / "held.jsonl"
    held.write_text(json.dumps({"goal": "⊢ q", "tactic": "t", "steps_remaining": 0, "theorem": "other"}) + "\n")
    _fake_trainer(monkeypatch)
    capsys.readouterr()
    assert main(["train", "--dataset", str(recs), "--eval-dataset", str(held), "--output-dir", str(tmp_path / "m")]) == 0
    out = capsys.readouterr().out
    assert f"evaluating on 1 (--eval-dataset {held})" in out and "split by theorem" not in out


def test_skip_invalid_reports_the_skipped_lines_once(tmp_path, capfd, caplog):
    data = tmp_path / "d.jsonl"
    good = [json.dumps({"goal": f"⊢ p{i}", "tactic": "t", "steps_remaining": 0, "theorem": f"a{i}"})
            for i in range(4)]
    data.write_text("\n".join(good[:2] + ["{not json", '{"goal": "g"}'] + good[2:]) + "\n")
    with caplog.at_level("WARNING"):
        assert main(["split", "--dataset", str(data), "--output-dir", str(tmp_path / "s"), "--skip-invalid"]) == 0
    out, err = capfd.readouterr()
    text = out + err + caplog.text
    assert text.count("skipped 2 invalid line(s)") == 1
    assert f"{data}:3: not valid JSON (Expecting property name enclosed in double quotes at column 2)" in text


def test_build_dataset_that_finds_no_records_fails_with_one_line_and_writes_nothing(traces, tmp_path, capsys):
    out = tmp_path / "out.jsonl"
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main(["build-dataset", "--from-proofs", str(empty), "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == (f"leanprogress: error: no records to write, --from-proofs {empty}: nothing to read (an empty "
                   f"file?); {out} not written\n")
    # The wrong kind of input: LeanDojo traces given as whole proofs, whole proofs as Lean source.
    assert main(["build-dataset", "--from-proofs", str(traces), "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "declaration(s) skipped" in err and f"{traces} looks like LeanDojo traces" in err
    proofs = tmp_path / "proofs.jsonl"
    proofs.write_text(json.dumps({"name": "t", "goal": "⊢ True", "proof": "by trivial"}) + "\n")
    assert main(["build-dataset", "--from-lean-source", str(proofs), "--output", str(out)]) == 2
    assert f"{proofs} looks like whole proofs (--from-proofs)" in capsys.readouterr().err
    no_tactics = tmp_path / "no_tactics.json"
    no_tactics.write_text(json.dumps([{"full_name": "T.a", "traced_tactics": []}]))
    assert main(["build-dataset", str(no_tactics), "--output", str(out)]) == 2
    assert "none of the 1 theorem(s) has traced tactics" in capsys.readouterr().err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []



def test_train_and_evaluate_check_their_paths_before_any_work(tmp_path, capsys):
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"goal": "⊢ p", "tactic": "t", "steps_remaining": 0, "theorem": "a"}) + "\n")
    assert main(["train", "--dataset", str(data), "--output-dir", str(data)]) == 2
    cap = capsys.readouterr()
    assert cap.err == f"leanprogress: error: --output-dir {data} is a file, not a folder\n" and "training on" not in cap.out
    # The records are read before the model is loaded (seconds): a missing dataset is what is reported.
    assert main(["evaluate", "--model", str(tmp_path / "no-model"), "--dataset", str(tmp_path / "missing.jsonl")]) == 2
    assert "dataset file not found" in capsys.readouterr().err


def test_train_says_why_nothing_is_held_out_when_every_record_is_one_theorem(tmp_path, capsys, monkeypatch):
    data = tmp_path / "recs.jsonl"
    data.write_text("".join(json.dumps({"goal": "x : ℝ\nh₀ : 2 * x = 4\n⊢ x = 2", "prefix": "", "tactic": "linarith",
                                        "steps_remaining": 0, "theorem": f"P.t{i}"}) + "\n" for i in range(10)))
    _fake_trainer(monkeypatch)
    assert main(["train", "--dataset", str(data), "--output-dir", str(tmp_path / "m")]) == 0
    err = capsys.readouterr().err
    # Ten names, one starting state: merged into one theorem, so a 0.2 split holds nothing out. Say so, and why.
    assert "every record belongs to one theorem" in err and "its 10 theorem names" in err
    assert "training without held-out figures" in err


def test_build_dataset_step_order_search(tmp_path, capsys):
    proofs = tmp_path / "proofs.jsonl"
    proof = ("theorem t (x : ℝ) (h0 : 0 < x) : x ^ 2 + x > 0 := by\n  have h : 0 < x ^ 2 := by\n    positivity\n"
             "  constructor\n  · nlinarith [h, (by norm_num : (0:ℝ) < 2)]\n  · linarith\n")
    proofs.write_text(json.dumps({"name": "t", "goal": "x : ℝ\nh0 : 0 < x\n⊢ x ^ 2 + x > 0", "proof": proof}) + "\n")
    traces = tmp_path / "traces.json"
    traces.write_text(json.dumps([{"full_name": "T.a", "traced_tactics": [
        {"tactic": "have h : 1 = 1 := by\n  rfl", "state_before": "⊢ p", "state_after": "h : 1 = 1\n⊢ p"},
        {"tactic": "exact trivial", "state_before": "h : 1 = 1\n⊢ p", "state_after": "no goals"},
        {"tactic": "rfl", "state_before": "⊢ 1 = 1", "state_after": "no goals"}]}]))
    out = tmp_path / "search.jsonl"
    assert main(["build-dataset", str(traces), "--from-proofs", str(proofs), "--step-order", "search",
                 "--output", str(out)]) == 0
    rows = [json.loads(l) for l in out.read_text().splitlines()]
    whole = [r for r in rows if r["theorem"] == "t"]
    assert [r["tactic"].split("\n")[0] for r in whole] == ["have h : 0 < x ^ 2 := by", "constructor",
                                                           "nlinarith [h, (by norm_num : (0:ℝ) < 2)]", "linarith"]
    assert [r["steps_remaining"] for r in whole] == [3, 2, 1, 0]
    assert [r.get("goal_state") for r in whole] == [None, "initial", "initial", "initial"]
    traced = [r for r in rows if r["theorem"] == "T.a"]
    assert [(r["tactic"].split("\n")[0], r["steps_remaining"]) for r in traced] == [("have h : 1 = 1 := by", 1),
                                                                                   ("exact trivial", 0)]
    # LeanDojo's listing stays the default
    assert main(["build-dataset", str(traces), "--from-proofs", str(proofs), "--output", str(out)]) == 0
    assert [json.loads(l)["steps_remaining"] for l in out.read_text().splitlines()][:3] == [2, 1, 0]
    capsys.readouterr()
    assert main(["build-dataset", str(traces), "--step-order", "source", "--output", str(out)]) == 2
    assert "--step-order source applies to whole proofs and Lean source only" in capsys.readouterr().err


# ---------------------------------------------------------------- data safety: no output is an input
def records_file(path):
    path.write_text("".join(json.dumps({"goal": f"⊢ p{i}", "prefix": "", "tactic": "simp", "steps_remaining": i % 2,
                                        "theorem": f"T.t{i}"}) + "\n" for i in range(6)), encoding="utf-8")
    return path


@pytest.mark.parametrize("kind", ["same", "symlink", "hardlink"])
def test_build_dataset_refuses_to_write_over_its_input(traces, tmp_path, capsys, kind):
    out = link_to(kind, traces, tmp_path / "out.json")
    refused(capsys, ["build-dataset", traces, "--output", out], out, traces, [traces])
    proofs = tmp_path / "proofs.jsonl"
    proofs.write_text(json.dumps({"name": "t", "goal": "⊢ p", "proof": "theorem t : p := by\n  simp"}) + "\n")
    refused(capsys, ["build-dataset", "--from-proofs", proofs, "--output", proofs], proofs, proofs, [proofs])
    # a file of an input folder is an input too
    src = tmp_path / "src"
    src.mkdir()
    lean = src / "A.lean"
    lean.write_text("theorem a : True := by\n  trivial\n")
    refused(capsys, ["build-dataset", "--from-lean-source", src, "--output", lean], lean, lean, [lean])


def test_split_refuses_an_output_folder_that_holds_its_input(tmp_path, capsys):
    data = tmp_path / "d"
    data.mkdir()
    recs = records_file(data / "train.jsonl")
    refused(capsys, ["split", "--dataset", recs, "--output-dir", data], data, recs, [recs])
    assert not (data / "eval.jsonl").exists()


def test_train_refuses_a_model_folder_that_holds_an_input(tmp_path, capsys, tiny_model):
    run = tmp_path / "run"
    run.mkdir()
    recs = records_file(run / "eval_split.jsonl")  # train writes eval_split.jsonl into its folder
    refused(capsys, ["train", "--dataset", f"{recs}:0.5", "--output-dir", run], run, recs, [recs])
    other = records_file(tmp_path / "other.jsonl")
    refused(capsys, ["train", "--dataset", other, "--eval-dataset", recs, "--output-dir", run], run, recs, [recs])
    weights = sorted(p for p in tiny_model.iterdir() if p.is_file())
    refused(capsys, ["train", "--dataset", other, "--model-name", tiny_model, "--output-dir", tiny_model],
             tiny_model, tiny_model, weights)


def test_evaluate_refuses_a_plot_over_an_input_or_not_an_image_before_any_work(tmp_path, capsys):
    recs = records_file(tmp_path / "d.jsonl")
    missing_model = tmp_path / "no-model"  # the paths are checked before the model is looked for
    refused(capsys, ["evaluate", "--model", missing_model, "--dataset", recs, "--plot", recs], recs, recs, [recs])
    for bad in ("plot.txt", "plot"):
        assert main(["evaluate", "--model", str(missing_model), "--dataset", str(recs), "--plot",
                     str(tmp_path / bad)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"--plot {tmp_path / bad}: a plot is an image file" in err and "png" in err
    image = link_to("hardlink", recs, tmp_path / "d.png")
    refused(capsys, ["evaluate", "--model", missing_model, "--dataset", recs, "--plot", image], image, recs, [recs])


def test_an_unwritable_output_is_named_as_given_before_any_work(tmp_path, capsys, traces):
    recs = records_file(tmp_path / "d.jsonl")
    for argv, out in ((["build-dataset", traces, "--output"], "/proc/x.jsonl"),
                      (["create-sample", "--output"], "/proc/x.jsonl"),
                      (["export-proofs", "--results", recs, "--output"], "/proc/x.jsonl"),
                      (["evaluate", "--model", tmp_path / "no-model", "--dataset", recs, "--plot"], "/proc/x.png"),
                      (["split", "--dataset", recs, "--output-dir"], "/proc/x"),
                      (["train", "--dataset", recs, "--output-dir"], "/proc/x")):
        assert main([str(a) for a in argv] + [out]) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(f"leanprogress: error: {out}: cannot write"), err
        assert ".tmp" not in err


def test_quickstart_refuses_an_output_folder_that_holds_its_input(tmp_path, capsys, tiny_model):
    weights = sorted(p for p in tiny_model.iterdir() if p.is_file())
    refused(capsys, ["quickstart", "--output-dir", tiny_model.parent, "--model-name", tiny_model],
             tiny_model.parent, tiny_model, weights)


def test_train_on_an_empty_dataset_says_so_first(tmp_path, capsys):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main(["train", "--dataset", str(empty), "--output-dir", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    # before: a warning that "every record belongs to one theorem", then "train_dataset has no records"
    assert err == f"leanprogress: error: --dataset {empty}: no records to train on\n"
    assert not (tmp_path / "m").exists()


def test_a_dataset_weight_that_is_not_a_number_is_named(tmp_path, capsys):
    data = records_file(tmp_path / "f.jsonl")
    for spec, why in ((f"{data}:abc", "the weight after ':' must be a number, got 'abc'"),
                      (f"{data}:nan", "the weight after ':' must be a number >= 0, got 'nan'"),
                      (f"{data}:-1", "the weight after ':' must be a number >= 0, got '-1'")):
        assert main(["train", "--dataset", spec, "--output-dir", str(tmp_path / "m")]) == 2
        err = capsys.readouterr().err
        # before: "file not found: f.jsonl:abc"
        assert err == f"leanprogress: error: --dataset {spec}: {why}" + (
            f" (PATH:WEIGHT, e.g. {data}:0.5)\n" if "abc" in spec else "\n")


def test_a_finished_run_keeps_only_the_model_unless_told(traces, tmp_path, capsys, tiny_model):
    data = tmp_path / "recs.jsonl"
    assert main(["build-dataset", str(traces), "--output", str(data)]) == 0
    common = ["--dataset", str(data), "--model-name", str(tiny_model), "--epochs", "1", "--max-length", "32",
              "--precision", "fp32", "--no-fallback-to-constant"]
    assert main(["train", *common, "--output-dir", str(tmp_path / "m")]) == 0
    out = capsys.readouterr().out
    # before: two epoch checkpoints with their optimizer state stayed, three times the model's size
    assert not (tmp_path / "m" / "checkpoints").exists()
    assert re.search(r"model saved to \S+ \(\d+ MB\): the model only \(weights, tokenizer, settings, tactic lookup\); "
                     r"the epoch checkpoints were removed, --keep-checkpoints keeps them", out), out
    assert main(["evaluate", "--model", str(tmp_path / "m"), "--dataset", str(tmp_path / "m" / "eval_split.jsonl"),
                 "--json"]) == 0
    capsys.readouterr()
    assert main(["train", *common, "--output-dir", str(tmp_path / "k"), "--keep-checkpoints"]) == 0
    assert "the model and the epoch checkpoints (for --resume)" in capsys.readouterr().out
    assert list((tmp_path / "k" / "checkpoints").glob("checkpoint-*"))


@pytest.mark.parametrize("offline", [True, False])
def test_a_hub_id_that_cannot_be_had_fails_at_once_in_one_line(tmp_path, capsys, caplog, monkeypatch, offline):
    # Without the hub (HF_HUB_OFFLINE set, or no network), huggingface_hub retried every request with growing
    # pauses: 48 s and 46 lines of retries before the one-line error. The hub is now tried once, at once.
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", offline)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # the discard port: nothing answers
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty cache
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    data = records_file(tmp_path / "d.jsonl")
    caplog.clear()
    assert main(["train", "--dataset", str(data), "--output-dir", str(tmp_path / "m"), "--model-name",
                 "sentence-transformers/all-MiniLM-L6-v3"]) == 2
    err = capsys.readouterr().err
    why = ("offline mode is set (HF_HUB_OFFLINE)" if offline else
           "http://127.0.0.1:9 cannot be reached from here (ConnectError)")
    assert err.count("\n") == 1 and err.startswith(
        "leanprogress: error: could not load the tokenizer 'sentence-transformers/all-MiniLM-L6-v3': it is not a "
        f"local folder and the HuggingFace hub could not provide it ({why}, and it is not in the local cache)"), err
    assert "retry" not in caplog.text.lower() and not (tmp_path / "m").exists()
