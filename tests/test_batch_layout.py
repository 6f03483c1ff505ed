"""The encoder kinds' layouts (leanprogress.batch_layout): the group kind scores each candidate as the block-mask
model defines it, whatever it is scored with; the cross-encoder scores as it always did."""

import json

import numpy as np
import pytest

from conftest import save_bert
from leanprogress import LeanProgressScorer
from leanprogress.batch_layout import compose_batches
from leanprogress.config import ModelSettings

GOAL = "x y : ℕ\nh₀ : x + 2 ≤ y\nh₁ : 0 < x\n⊢ x * 3 < y + x ∧ ∀ z : ℕ, z ∣ 2"
OTHER = "a b : ℤ\nh : a ≤ b\n⊢ a < b + 1"
TACTICS = ["simp", "omega", "linarith", "nlinarith [sq_nonneg (x - y), h₀]", "exact h₀", "intro h", "norm_num",
           "constructor", "induction x with\n| zero => simp\n| succ n ih => omega", "rfl", "positivity"]
# Scores of one candidate in packs of different shapes differ by float rounding only: never compare them exactly.
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def group_folder(tmp_path_factory, bundled_tokenizer_path):
    """A tiny random BERT whose output depends strongly on its input, saved as a group-kind model."""
    folder = tmp_path_factory.mktemp("group-bert")
    save_bert(folder, bundled_tokenizer_path, settings=False)
    ModelSettings(max_length=128, encoder_kind="group").save(folder)
    return folder


@pytest.fixture(scope="module")
def group_scorer(group_folder):
    return LeanProgressScorer(str(group_folder), device="cpu", precision="fp32")


def test_each_candidate_scores_as_in_a_pack_of_one_and_in_any_order(group_scorer):
    together = group_scorer.predict_batch(GOAL, TACTICS, "intro h\nsimp at h")
    alone = [group_scorer.predict(GOAL, t, "intro h\nsimp at h") for t in TACTICS]
    order = np.random.default_rng(0).permutation(len(TACTICS))
    shuffled = group_scorer.predict_batch(GOAL, [TACTICS[i] for i in order], "intro h\nsimp at h")
    assert len(set(np.round(together, 6))) > len(TACTICS) // 2  # the model tells candidates apart
    np.testing.assert_allclose(together, alone, rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(np.asarray(together)[order], shuffled, rtol=0, atol=TOLERANCE)


def test_small_batches_split_groups_without_changing_scores(group_folder, group_scorer):
    small = LeanProgressScorer(str(group_folder), device="cpu", precision="fp32", batch_size=3)
    np.testing.assert_allclose(small.predict_batch(GOAL, TACTICS), group_scorer.predict_batch(GOAL, TACTICS),
                               rtol=0, atol=TOLERANCE)


def test_states_mixed_in_one_call_come_back_in_the_callers_order(group_scorer):
    goals = [GOAL, OTHER, GOAL, OTHER, GOAL, GOAL]
    prefixes = ["", "", "intro h", "", "", "intro h"]
    tactics = ["simp", "omega", "simp", "linarith", "rfl", "norm_num"]
    mixed = group_scorer.predict_batch(goals, tactics, prefixes)
    each = [group_scorer.predict(g, t, p) for g, t, p in zip(goals, tactics, prefixes)]
    np.testing.assert_allclose(mixed, each, rtol=0, atol=TOLERANCE)
    assert abs(mixed[0] - mixed[2]) > 1e-4  # the prefix is part of the state: same tactic, another score


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_two_passes_compute_the_packed_block_mask_model(group_folder, attn):
    """The definition, computed independently: one sequence [context | segment 1 | segment 2 | ...], the context
    attending to itself, each segment to the context and itself, positions continuing after the context, the head
    reading each segment's first token."""
    import torch
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(str(group_folder), attn_implementation=attn).eval()
    settings = ModelSettings.load(group_folder)
    scorer = LeanProgressScorer(str(group_folder), device="cpu", precision="fp32")
    scorer.model = model
    layout = scorer.layout
    built = layout.build([GOAL] * len(TACTICS), TACTICS, ["intro h"] * len(TACTICS))
    (context,), segments = layout.encode(built)
    ids, positions, owner, first = list(context), list(range(len(context))), [0] * len(context), []
    for k, seg in enumerate(segments, 1):
        first.append(len(ids))
        ids += seg
        positions += range(len(context), len(context) + len(seg))
        owner += [k] * len(seg)
    o = torch.tensor(owner)
    # Everyone attends to the context; a segment also to itself; the context to nothing else.
    allowed = (o[None, :] == 0) | (o[:, None] == o[None, :])
    additive = torch.zeros(allowed.shape).masked_fill(~allowed, -1e30)
    mask = (allowed if attn == "sdpa" else additive)[None, None]
    with torch.no_grad():
        hidden = model.bert(input_ids=torch.tensor([ids]), attention_mask=mask,
                            position_ids=torch.tensor([positions])).last_hidden_state
        expected = model.classifier(model.bert.pooler(hidden[0, first][:, None, :])).reshape(-1).numpy()
    got = layout.logits(model, built, batch_size=4, device="cpu", num_labels=settings.num_labels).reshape(-1)
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOLERANCE)


def test_the_context_never_sees_the_candidates(group_scorer):
    built = group_scorer.layout.build([GOAL, GOAL], ["simp", "a tactic " * 200])
    assert len(built.contexts) == 1 and built.group_of == [0, 0]
    tok = group_scorer.tokenizer
    assert len(tok(built.segments[1]).input_ids) <= group_scorer.builder.segment_length == 64
    alone = group_scorer.layout.build([GOAL], ["rfl"])
    assert alone.contexts == built.contexts  # the context depends on the state only


def test_a_long_context_is_fitted_like_the_cross_encoders_prompt(group_scorer):
    hyps = "\n".join(f"h{i} : f {i} ≤ f {i + 1} + {i}" for i in range(80))
    built = group_scorer.layout.build([f"{hyps}\n⊢ SpecialTarget 0 ≤ 1"], ["simp"], ["\n".join(["intro"] * 50)])
    (context,) = built.contexts
    assert len(group_scorer.tokenizer(context).input_ids) <= 128
    assert "SpecialTarget" in context and "earlier tactics" in context and "h0 :" in context


def test_distribution_head_group_models_give_probabilities(tmp_path, group_folder):
    from conftest import distribution_copy

    folder = distribution_copy(group_folder, tmp_path / "dist", max_steps=4)
    scorer = LeanProgressScorer(str(folder), device="cpu", precision="fp32")
    assert scorer.settings.encoder_kind == "group"
    probs = scorer.predict_distribution(GOAL, TACTICS[:4])
    assert probs.shape == (4, 6)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-9)
    np.testing.assert_allclose(scorer.predict_distribution(GOAL, TACTICS[1:2])[0], probs[1], atol=TOLERANCE)


def test_bf16_group_scores_stay_close_to_fp32(group_folder, group_scorer):
    bf16 = LeanProgressScorer(str(group_folder), device="cpu", precision="bf16").predict_batch(GOAL, TACTICS)
    ref = group_scorer.predict_batch(GOAL, TACTICS)
    np.testing.assert_allclose(bf16, ref, rtol=0.05, atol=0.05)


# ---------------------------------------------------------------- the cross-encoder is unchanged
def test_cross_encoder_scores_each_prompt_as_a_plain_forward_pass(tmp_path, bundled_tokenizer_path):
    import torch

    model = save_bert(tmp_path, bundled_tokenizer_path).eval()
    scorer = LeanProgressScorer(str(tmp_path), device="cpu", precision="fp32")
    assert scorer.settings.encoder_kind == "cross"
    prompts = scorer.builder.build_many([GOAL] * len(TACTICS), TACTICS, ["intro h"] * len(TACTICS))
    with torch.no_grad():
        plain = [model(**scorer.tokenizer(p, return_tensors="pt")).logits.item() for p in prompts]
    got = scorer.predict_batch(GOAL, TACTICS, "intro h")
    np.testing.assert_allclose(got, np.maximum(np.expm1(plain), 0), rtol=1e-5, atol=TOLERANCE)


def test_settings_without_the_kind_load_as_cross_and_newer_formats_are_refused(tmp_path):
    old = {"template": "Goal:\n{goal}\n\nPrefix:\n{prefix}\n\nCandidate tactic:\n{tactic}", "max_length": 256,
           "normalize_symbols": True, "label_transform": "log1p", "truncation": "structured", "base_model": "x",
           "format_version": 1}
    (tmp_path / "leanprogress_config.json").write_text(json.dumps(old))
    settings = ModelSettings.load(tmp_path)
    assert settings.encoder_kind == "cross" and settings.format_version == 1
    settings.save(tmp_path)  # a cross-encoder saved now still says format 1: earlier versions read it
    assert json.loads((tmp_path / "leanprogress_config.json").read_text())["format_version"] == 1
    ModelSettings(encoder_kind="group").save(tmp_path)
    assert json.loads((tmp_path / "leanprogress_config.json").read_text())["format_version"] == 2
    (tmp_path / "leanprogress_config.json").write_text(json.dumps(old | {"format_version": 3}))
    with pytest.raises(ValueError, match="format 3 is newer"):
        ModelSettings.load(tmp_path)


def test_group_kind_settings_are_checked():
    with pytest.raises(ValueError, match="encoder_kind must be one of"):
        ModelSettings(encoder_kind="bi")
    with pytest.raises(ValueError, match="one \\{tactic\\}, after"):
        ModelSettings(encoder_kind="group", template="{tactic} on {goal}")
    with pytest.raises(ValueError, match="structured"):
        ModelSettings(encoder_kind="group", truncation="right")


def test_models_without_positions_for_context_and_segment_are_refused(tmp_path, bundled_tokenizer_path):
    save_bert(tmp_path, bundled_tokenizer_path, settings=False)
    ModelSettings(max_length=400, encoder_kind="group").save(tmp_path)  # 400 + 200 positions > 512
    with pytest.raises(ValueError, match="lower max_length to 341"):
        LeanProgressScorer(str(tmp_path), device="cpu")


# ---------------------------------------------------------------- training batches
def test_batches_keep_records_of_one_context_together():
    keys = ["a", "b", "a", "c", "b", "a", "d", "e", "a", "f"]
    lengths = [10, 5, 10, 7, 5, 10, 3, 9, 10, 4]
    for seed in (None, 0, 1):
        batches = compose_batches(keys, lengths, batch_size=4, seed=seed)
        assert sorted(i for b in batches for i in b) == list(range(len(keys)))
        assert all(len(b) <= 4 for b in batches)
        for key in set(keys):
            holding = [b for b in batches if any(keys[i] == key for i in b)]
            assert len(holding) == 1, (key, batches)  # every group here fits one batch: never split
    big = compose_batches(["a"] * 10, [5] * 10, batch_size=4, seed=0)
    assert sorted(len(b) for b in big) == [2, 4, 4]


def test_cross_encoder_batches_exactly_as_before(tmp_path, bundled_tokenizer_path):
    """The cross-encoder's batches are what they were before encoder kinds (longest prompts first, padded per
    batch): the same batch shapes, so the same floats, bit for bit."""
    import torch

    save_bert(tmp_path, bundled_tokenizer_path)
    scorer = LeanProgressScorer(str(tmp_path), device="cpu", precision="fp32", batch_size=4)
    model = scorer.model
    goals = [GOAL if i % 3 else OTHER for i in range(len(TACTICS))]
    prompts = scorer.builder.build_many(goals, TACTICS, [""] * len(TACTICS))
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]), reverse=True)
    before = np.zeros((len(prompts), 1))
    with torch.inference_mode():
        for start in range(0, len(order), 4):
            idx = order[start:start + 4]
            enc = scorer.builder.encode([prompts[i] for i in idx], padding=True, return_tensors="pt")
            before[idx] = model(**enc).logits.float().reshape(len(idx), -1).numpy()
    assert np.array_equal(scorer._logits(scorer._prompts(goals, TACTICS, None)), before)


# ---------------------------------------------------------------- used everywhere a group is scored
def test_score_endpoint_and_rl_rewards_read_a_group_model_as_the_scorer_does(group_scorer):
    """/score, the RL reward in process and through the server: every candidate's steps are what the scorer gives
    it alone, however the callers batch (one state per request, or a GRPO batch of several states)."""
    import httpx

    from leanprogress.rl import ProgressReward
    from leanprogress.serve import ServerConfig, create_app
    from serve_util import RunningServer

    alone = {(g, t): group_scorer.predict(g, t, "intro h") for g in (GOAL, OTHER) for t in TACTICS[:4]}
    states = [GOAL, OTHER, GOAL, OTHER, GOAL, OTHER, GOAL, OTHER]  # a GRPO batch: two states, interleaved
    tactics = [TACTICS[i // 2] for i in range(8)]
    with RunningServer(create_app(ServerConfig(), scorer=group_scorer, generators={})) as server:
        r = httpx.post(server.url + "/score", json={"goal": GOAL, "prefix": "intro h", "tactics": TACTICS[:4]})
        steps = [o["steps_remaining"] for o in r.json()["outputs"]]
        remote = ProgressReward(server.url, form="neg_steps").evaluate(states, tactics, "intro h")
    np.testing.assert_allclose(steps, [alone[GOAL, t] for t in TACTICS[:4]], rtol=0, atol=TOLERANCE)
    local = ProgressReward(group_scorer, form="neg_steps").evaluate(states, tactics, "intro h")
    expected = [alone[g, t] for g, t in zip(states, tactics)]
    for results in (local, remote):
        assert [r.status for r in results] == ["scored"] * 8
        np.testing.assert_allclose([r.steps for r in results], expected, rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize("layout_as", ["blocks", "one streamed row", "narrow streamed rows"])
def test_a_pass_encodes_each_context_once_and_scores_each_candidate_as_alone(group_scorer, layout_as):
    """Small states as blocks read within their row; larger ones streamed (each context once, its segments after
    it, a context running on into the next row when rows are narrow); every candidate scores as alone."""
    import torch

    from leanprogress.batch_layout import group_forward, pack

    layout = group_scorer.layout
    goals = [GOAL] * 9 + [OTHER] * 3
    tactics = TACTICS[:9] + ["simp", "omega", "linarith"]
    built = layout.build(goals, tactics, [""] * 12)
    contexts, segments = layout.encode(built)
    wide = sum(len(c) for c in contexts) + sum(len(s) for s in segments)
    row_tokens, block_tokens = {"blocks": (1, wide), "one streamed row": (wide, 0),
                                "narrow streamed rows": (1, 0)}[layout_as]
    batch = pack(contexts, segments, built.group_of, layout.pad_id, row_tokens=row_tokens, block_tokens=block_tokens)
    ids = batch["pack_ids"]
    cls = group_scorer.tokenizer.cls_token_id
    assert int((ids == cls).sum()) == 2 + 12  # each context once, however many candidates read it
    assert (ids.reshape(-1)[batch["pool_index"]] == cls).all()  # each record pools its segment's [CLS]
    if layout_as == "blocks":  # each state's block whole in a row, nothing gathered
        assert ids.shape[0] == 2 and batch["key_index"].shape[1] == 0
    elif layout_as == "one streamed row":
        assert ids.shape[0] == 1
    else:  # rows as narrow as the longest segment: the longer context runs over several rows
        assert ids.shape[1] == max(len(x) for x in segments) < len(contexts[0]) and ids.shape[0] >= 4
    with torch.no_grad():
        packed = group_forward(group_scorer.model, batch).reshape(-1).numpy()
    alone = [group_scorer._logits(group_scorer._prompts(g, [t], ""))[0, 0] for g, t in zip(goals, tactics)]
    np.testing.assert_allclose(packed, alone, rtol=0, atol=TOLERANCE)


def test_a_model_whose_attention_ignores_the_layout_is_refused(group_folder):
    """The layout's attention is swapped in through transformers' attention functions; a model that computes its
    own would let every token read every other, so the first call says so."""
    import torch

    scorer = LeanProgressScorer(str(group_folder), device="cpu", precision="fp32")
    for module in scorer.model.modules():
        if type(module).__name__ == "BertSelfAttention":
            module.forward = lambda hidden_states, *args, **kwargs: (torch.zeros_like(hidden_states), None)
    with pytest.raises(ValueError, match="attention functions"):
        scorer.predict_batch(GOAL, TACTICS[:3])