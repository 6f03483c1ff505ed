"""The ranking objective (ranking_weight > 0): groups of candidates per record, the pair loss, the trainer."""

import json
import math
import random

import pytest

from leanprogress import LeanProgressScorer, ProgressTrainer, ProgressTrainingArguments
from leanprogress.config import SETTINGS_FILE, ModelSettings
from leanprogress.training.ranking_objective import (RankingCollator, RankingStats, pair_gaps, pair_loss,
                                                     ranking_groups)

COLOURS = ("red", "blue", "green")


def rec(goal, tactic, steps, theorem, source="s", prefix=""):
    return {"goal": goal, "prefix": prefix, "tactic": tactic, "steps_remaining": steps, "theorem": theorem,
            "source": source}


@pytest.mark.parametrize("field, value, message", [
    ("ranking_weight", -0.5, "ranking_weight must be a number >= 0"),
    ("ranking_weight", float("nan"), "ranking_weight must be a number >= 0"),
    ("ranking_weight", "1", "ranking_weight must be a number >= 0"),
    ("ranking_negatives", 0, "ranking_negatives must be an integer >= 1"),
    ("ranking_negatives", 1.5, "ranking_negatives must be an integer >= 1"),
    ("ranking_negatives", True, "ranking_negatives must be an integer >= 1"),
    ("ranking_negatives_from", "other", "ranking_negatives_from must be one of ('source', 'any')"),
    ("ranking_margin", -1.0, "ranking_margin must be a number >= 0"),
    ("ranking_margin", float("inf"), "ranking_margin must be a number >= 0"),
])
def test_ranking_arguments_are_checked(field, value, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ProgressTrainingArguments(output_dir="x", **{field: value})


def test_ranking_defaults_train_on_steps_alone():
    args = ProgressTrainingArguments(output_dir="x")
    assert args.ranking_weight == 0.0 and args.ranking_negatives == 1 and args.ranking_negatives_from == "source"
    assert ModelSettings().ranking_weight == 0.0
    with pytest.raises(ValueError, match="ranking_weight must be a number >= 0"):
        ModelSettings(ranking_weight=-1.0)


def mixed_records():
    """Theorems A0..A5 of source "a" and B0..B5 of source "b", two steps each; A0 has a second proof whose first
    step shares A0's first state (a sibling with another label)."""
    records = []
    for src in ("a", "b"):
        for i in range(6):
            name = f"{src.upper()}{i}"
            records += [rec(f"⊢ {name} start", f"{src}_open {i}", 1, name, src),
                        rec(f"⊢ {name} next", f"{src}_close {i}", 0, name, src, prefix=f"{src}_open {i}")]
    records.append(rec("⊢ A0 start", "a_finish 0", 0, "A0", "a"))
    return records


def test_negatives_are_tactics_of_other_theorems_of_the_same_source():
    records = mixed_records()
    groups = ranking_groups(records, negatives=3, negatives_from="source", seed=1)
    assert len(groups) == len(records)
    for r, g in zip(records, groups):
        assert len(g.negatives) == 3 == len(set(g.negatives))
        theirs = {x["tactic"] for x in records if x["theorem"] == r["theorem"]}
        assert not theirs & set(g.negatives)  # never the anchor's own theorem
        assert all(t.startswith(r["source"] + "_") for t in g.negatives)  # same source
    anywhere = ranking_groups(records, negatives=3, negatives_from="any", seed=1)
    drawn = [t for g, r in zip(anywhere, records) for t in g.negatives if not t.startswith(r["source"] + "_")]
    assert drawn  # "any" also draws from the other source
    # Seeded: the same seed draws the same negatives, another seed others.
    assert [g.negatives for g in ranking_groups(records, 3, "source", seed=1)] == [g.negatives for g in groups]
    assert [g.negatives for g in ranking_groups(records, 3, "source", seed=2)] != [g.negatives for g in groups]


def test_siblings_on_a_shared_state_are_ordered_by_their_labels():
    records = mixed_records()
    stats = RankingStats()
    groups = ranking_groups(records, negatives=2, negatives_from="source", seed=0, stats=stats)
    first, finish = groups[0], groups[-1]  # "a_open 0" (label 1) and "a_finish 0" (label 0) on "⊢ A0 start"
    assert first.siblings == [len(records) - 1] and finish.siblings == [0]
    # Positions: 0 the anchor, 1 its sibling, 2-3 negatives. The sibling with fewer steps comes first.
    assert (1, 0) in first.pairs and (0, 1) in finish.pairs
    assert {(0, 2), (0, 3), (1, 2), (1, 3)} <= set(first.pairs)
    # A sibling's tactic is recorded on the anchor's goal: it is never also drawn as a negative.
    assert "a_finish 0" not in first.negatives and "a_open 0" not in finish.negatives
    assert stats.records == len(records) and stats.sibling_pairs == 2
    assert stats.pairs == sum(len(g.pairs) for g in groups) and stats.short_of_negatives == 0


def test_a_restated_theorem_gives_no_negatives():
    # B restates A (same initial state under another name): by the identity rule they are one theorem, and B's
    # tactic, which proves A, is never drawn as a negative for A.
    records = [rec("⊢ 1 + 1 = 2", "norm_num", 0, "A"), rec("⊢ 1 + 1 = 2", "decide", 0, "B"),
               rec("⊢ x = x", "rfl", 0, "C")]
    stats = RankingStats()
    groups = ranking_groups(records, negatives=2, negatives_from="source", seed=0, stats=stats)
    assert groups[0].negatives == ["rfl"] and groups[1].negatives == ["rfl"]
    assert sorted(groups[2].negatives) == ["decide", "norm_num"]
    assert stats.short_of_negatives == 2  # A and B asked for 2 and found 1


def test_collator_flattens_groups_and_leaves_eval_rows_plain(bundled_tokenizer_path):
    import torch
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(bundled_tokenizer_path)
    collate = RankingCollator(tok)
    rows = [{"input_ids": [101, 5, 102], "attention_mask": [1, 1, 1], "labels": 0.0,
             "rank_ids": [[101, 6, 7, 102], [101, 8, 102]], "rank_pairs": [[0, 1], [0, 2]], "rank_steps": [0, 0]},
            {"input_ids": [101, 9, 102], "attention_mask": [1, 1, 1], "labels": 1.5,
             "rank_ids": [[101, 4, 102]], "rank_pairs": [[1, 0]], "rank_steps": [1]}]
    batch = collate(rows)
    assert batch["input_ids"].shape == (5, 4)
    assert batch["anchor_index"].tolist() == [0, 3] and batch["labels"].tolist() == [0.0, 1.5]
    assert batch["rank_pairs"].tolist() == [[0, 1], [0, 2], [4, 3]] and batch["rank_steps"].tolist() == [0, 0, 1]
    assert batch["input_ids"][4].tolist()[:3] == [101, 4, 102] and batch["attention_mask"][4].tolist() == [1, 1, 1, 0]
    plain = collate([{k: v for k, v in r.items() if not k.startswith("rank_")} for r in rows])
    assert set(plain) == {"input_ids", "attention_mask", "labels"} and plain["input_ids"].shape == (2, 3)


def test_pair_gaps_and_loss():
    import torch

    pairs = torch.tensor([[0, 1], [0, 2]])
    # Regression: the worse candidate's predicted log-steps minus the better one's.
    outputs = torch.tensor([[0.0], [2.0], [-1.0]])
    gaps = pair_gaps(outputs, pairs, torch.tensor([0.0, 0.0]), "regression")
    assert gaps.tolist() == [2.0, -1.0]
    expected = (math.log1p(math.exp(1 - 2.0)) + math.log1p(math.exp(1 + 1.0))) / 2
    assert pair_loss(gaps, 1.0).item() == pytest.approx(expected, rel=1e-6)
    assert pair_loss(gaps[:0], 1.0).item() == 0.0
    # Distribution head (K = 2: classes 0, 1, 2, more): the log-odds of at most y steps, y the better one's label.
    probs = torch.tensor([[0.7, 0.1, 0.15, 0.05], [0.2, 0.6, 0.1, 0.1], [0.1, 0.1, 0.1, 0.7]])
    logits = probs.log()
    odds = lambda p, y: math.log(float(p[:y + 1].sum()) / float(p[y + 1:].sum()))  # noqa: E731
    gaps = pair_gaps(logits, pairs, torch.tensor([0.0, 1.0]), "distribution")
    assert gaps.tolist() == pytest.approx([odds(probs[0], 0) - odds(probs[1], 0), odds(probs[0], 1) - odds(probs[2], 1)],
                                          rel=1e-5)
    # A label above K compares at K (the odds of not needing more than K).
    assert pair_gaps(logits, pairs[:1], torch.tensor([7.0]), "distribution").item() == pytest.approx(
        odds(probs[0], 2) - odds(probs[1], 2), rel=1e-5)


@pytest.fixture(scope="module")
def matching_model(tmp_path_factory, bundled_tokenizer_path):
    """A tiny BERT whose output depends strongly on its input (large initial weights) and without dropout, which
    on a model this small drowns the signal of a few dozen steps."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(bundled_tokenizer_path)
    config = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512, num_labels=1, problem_type="regression",
                        initializer_range=0.3, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    out = tmp_path_factory.mktemp("matching-bert")
    BertForSequenceClassification(config).save_pretrained(out)
    tok.save_pretrained(out)
    return out


def colour_records(n, hypotheses, seed):
    """Every record closes its goal (label 0): ``paint red`` on a red goal. Steps carry no information about
    which tactic suits which state; only comparing candidates on a state does."""
    rng = random.Random(seed)
    return [rec(f"h : p{rng.choice(hypotheses)}\n⊢ {COLOURS[i % 3]}", f"paint {COLOURS[i % 3]}", 0, f"T{seed}_{i}")
            for i in range(n)]


def agreement(folder, states):
    """Over held-out states, how often the scorer puts the state's own colour below another (ties half)."""
    scorer = LeanProgressScorer(str(folder), device="cpu", precision="fp32")
    hits = []
    for goal in states:
        scores = dict(zip(COLOURS, scorer.predict_batch(goal, [f"paint {c}" for c in COLOURS])))
        own = goal.rsplit(" ", 1)[1]
        hits += [1.0 if scores[own] < scores[c] else 0.5 if scores[own] == scores[c] else 0.0
                 for c in COLOURS if c != own]
    return sum(hits) / len(hits)


HELD_OUT_STATES = [f"h : p{k}\n⊢ {c}" for k in (6, 7, 8) for c in COLOURS]


def train_colours(folder, model, **overrides):
    # No eval set: the last epoch is kept (an eval set of label-0 rows would pick the epoch nearest 0, not the
    # one that ranks best).
    args = ProgressTrainingArguments(output_dir=str(folder), model_name=str(model), batch_size=8, max_length=32,
                                     precision="fp32", **({"epochs": 6, "learning_rate": 1e-3} | overrides))
    return ProgressTrainer(args, colour_records(48, [0, 1, 2, 3, 4, 5], seed=0)).train()


def test_ranking_learns_which_tactic_suits_a_state_where_steps_cannot(tmp_path, matching_model):
    plain = tmp_path / "plain"
    train_colours(plain, matching_model, epochs=2)
    ranked = tmp_path / "ranked"
    metrics = train_colours(ranked, matching_model, ranking_weight=1.0, ranking_negatives=2)
    # Without the objective every candidate looks alike (all labels are 0); with it, the state's own tactic
    # comes first on states with hypotheses never seen in training.
    assert agreement(plain, HELD_OUT_STATES) <= 0.6
    assert agreement(ranked, HELD_OUT_STATES) >= 0.9
    # Three colours: the two other colours are the only negatives there are.
    r = metrics["ranking"]
    assert (r["records"], r["negatives"], r["pairs"], r["sibling_pairs"]) == (48, 96, 96, 0)
    assert (r["weight"], r["negatives_per_record"], r["negatives_from"]) == (1.0, 2, "source")
    assert ModelSettings.load(ranked).ranking_weight == 1.0 and ModelSettings.load(plain).ranking_weight == 0.0
    assert json.loads((ranked / "training_metrics.json").read_text())["ranking"] == r


def test_ranking_with_the_distribution_head(tmp_path, matching_model):
    ranked = tmp_path / "ranked"
    metrics = train_colours(ranked, matching_model, ranking_weight=1.0, ranking_negatives=2, head="distribution",
                            head_max_steps=2)
    assert metrics["ranking"]["pairs"] == 96
    settings = ModelSettings.load(ranked)
    assert settings.head == "distribution" and settings.ranking_weight == 1.0
    assert agreement(ranked, HELD_OUT_STATES) >= 0.9
    # The close probability says the same: the state's own tactic is the likelier to close it.
    scorer = LeanProgressScorer(str(ranked), device="cpu", precision="fp32")
    close = scorer.close_probability("h : p7\n⊢ green", [f"paint {c}" for c in COLOURS])
    assert close[2] > max(close[0], close[1])


def raw_outputs(folder, records):
    """The saved model's head outputs on records, prompts built as the trainer builds them."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    builder = ModelSettings.load(folder).prompt_builder(tok)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    batch = tok(builder.build_many([r["goal"] for r in records], [r["tactic"] for r in records],
                                   [r["prefix"] for r in records]), padding=True, return_tensors="pt")
    with torch.no_grad():
        return model(**batch).logits[:, 0].numpy()


def test_train_command_takes_the_ranking_flags(tmp_path, capsys, tiny_model):
    import numpy as np

    from leanprogress.cli import main

    data = tmp_path / "d.jsonl"
    rows = [rec(f"⊢ s{i}", t, s, f"T{i}") for i in range(10) for t, s in ((f"open{i}", 2), (f"close{i}", 0))]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "m"
    assert main(["train", "--dataset", str(data), "--output-dir", str(out), "--model-name", str(tiny_model),
                 "--epochs", "1", "--max-length", "32", "--precision", "fp32", "--ranking-weight", "50",
                 "--ranking-negatives", "2", "--ranking-negatives-from", "any", "--ranking-margin", "0.5"]) == 0
    text = capsys.readouterr().out
    assert "ranking objective (weight 50):" in text and "pair(s)" in text
    metrics = json.loads((out / "training_metrics.json").read_text())
    saved = metrics["ranking"]
    assert (saved["negatives_per_record"], saved["negatives_from"], saved["margin"]) == (2, "any", 0.5)
    assert saved["sibling_pairs"] == saved["records"]  # each state has an opening and a closing tactic
    assert json.loads((out / SETTINGS_FILE).read_text())["ranking_weight"] == 50
    # Evaluation has no groups: its loss is the head's own MSE on log1p steps, whatever the ranking weight, so that
    # it compares with a run without the objective and with the constant predictor's.
    held = [json.loads(line) for line in (out / "eval_split.jsonl").read_text().splitlines()]
    mse = float(np.mean((raw_outputs(out, held) - np.log1p([r["steps_remaining"] for r in held])) ** 2))
    assert metrics["eval"]["eval_loss"] == pytest.approx(mse, rel=1e-4)
    assert main(["train", "--dataset", str(data), "--output-dir", str(tmp_path / "n"),
                 "--ranking-negatives", "0"]) == 2
    assert "ranking_negatives must be an integer >= 1, got 0" in capsys.readouterr().err
