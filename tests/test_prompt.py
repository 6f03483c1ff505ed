import pytest

from leanprogress.prompt import DEFAULT_TEMPLATE, PromptBuilder, PromptTemplate, split_goal


@pytest.fixture(scope="module")
def tok(bundled_tokenizer_path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(bundled_tokenizer_path)


def test_template_validation():
    assert PromptTemplate("{goal} {tactic}").uses_prefix is False
    with pytest.raises(ValueError, match="must contain \\{tactic\\}"):
        PromptTemplate("{goal} {prefix}")
    with pytest.raises(ValueError, match="unknown field"):
        PromptTemplate("{goal} {tactic} {state}")
    with pytest.raises(ValueError, match="not a valid format string"):
        PromptTemplate("{goal {tactic}")


def test_default_template_layout():
    text = PromptTemplate().format(goal="⊢ p", tactic="exact h", prefix="intro h")
    assert text == "Goal:\n⊢ p\n\nPrefix:\nintro h\n\nCandidate tactic:\nexact h"
    assert DEFAULT_TEMPLATE == PromptTemplate().template


def test_split_goal_finds_hypotheses_target_and_later_goals():
    g = split_goal("case h\nx : ℕ\nhx : 0 < x\n⊢ x ≠ 0\n  ∧ True\n\ncase h2\ny : ℕ\n⊢ y = y")
    assert g.head == ["case h"] and g.hyps == ["x : ℕ", "hx : 0 < x"]
    assert g.target == ["⊢ x ≠ 0", "  ∧ True"] and g.rest[1:] == ["case h2", "y : ℕ", "⊢ y = y"]


def long_state(n_hyps=120):
    hyps = "\n".join(f"h{i} : f {i} (g {i}) ≤ f {i + 1} (g {i + 1}) + {i}" for i in range(n_hyps))
    return f"{hyps}\n⊢ SpecialTarget (F 0) ≤ F 1000"


def test_fitting_keeps_tactic_and_target_and_drops_oldest_prefix_first(tok):
    builder = PromptBuilder(tok, max_length=128)
    prefix = "\n".join(f"old_step_{i} [lemma_{i}]" for i in range(40)) + "\nnewest_step"
    text = builder.build(goal="x : ℕ\n⊢ x = x", tactic="exact candidate_lemma x", prefix=prefix)
    assert len(tok(text).input_ids) <= 128
    assert text.endswith("exact candidate_lemma x")
    assert "|- x = x" in text and "newest_step" in text and "old_step_0 " not in text
    dropped = int(text.split("... (")[1].split(" earlier tactics)")[0])
    assert 0 < dropped < 41 and f"old_step_{dropped} " in text and f"old_step_{dropped - 1} " not in text


def test_fitting_drops_middle_hypotheses_not_the_target(tok):
    builder = PromptBuilder(tok, max_length=200)
    text = builder.build(goal=long_state(), tactic="nlinarith [sq_nonneg (a - b)]", prefix="")
    assert len(tok(text).input_ids) <= 200
    assert "SpecialTarget" in text and text.endswith("nlinarith [sq_nonneg (a - b)]")
    assert "h0 :" in text and "h119 :" in text and "h60 :" not in text and "..." in text


def test_right_truncation_loses_the_tactic(tok):
    # What the original did, and why this project does not.
    builder = PromptBuilder(tok, max_length=200, truncation="right")
    enc = builder.encode(builder.build_many([long_state()], ["nlinarith [sq_nonneg (a - b)]"]))
    assert "nlinarith" not in tok.decode(enc["input_ids"][0])


def test_short_prompts_are_untouched(tok):
    builder = PromptBuilder(tok, max_length=512, normalize=False)
    assert builder.build("⊢ True", "trivial", "") == PromptTemplate().format("⊢ True", "trivial", "")


def test_even_a_huge_target_and_tactic_fit(tok):
    builder = PromptBuilder(tok, max_length=64)
    goal = "⊢ " + " + ".join(f"term{i}" for i in range(300))
    tactic = "simp only [" + ", ".join(f"lemma{i}" for i in range(200)) + "]"
    text = builder.build(goal, tactic, "")
    assert len(tok(text).input_ids) <= 64
    assert "simp only" in text and "term0" in text and "term299" in text


def test_builder_rejects_mismatched_lists(tok):
    with pytest.raises(ValueError, match="differ in length"):
        PromptBuilder(tok).build_many(["a", "b"], ["t"], None)


class CountingTokenizer:
    """The real tokenizer, counting the characters it is asked to read."""

    def __init__(self, tok):
        self.tok, self.chars = tok, 0

    def __call__(self, texts, **kwargs):
        self.chars += sum(len(t) for t in ([texts] if isinstance(texts, str) else texts))
        return self.tok(texts, **kwargs)

    def tokenize(self, text, **kwargs):
        self.chars += len(text)
        return self.tok.tokenize(text, **kwargs)

    def __getattr__(self, name):
        return getattr(self.tok, name)


def test_candidates_of_one_state_share_the_work_on_its_goal(tok):
    goal = long_state(n_hyps=400)  # about 18,000 characters
    tactics = [f"simp [h{i}, Nat.add_comm]" if i % 3 else f"nlinarith [sq_nonneg (a{i} - b), h{i}]" for i in range(64)]
    prefix = "\n".join(f"step_{i}" for i in range(30))
    counting = CountingTokenizer(tok)
    builder = PromptBuilder(counting, max_length=128)
    counting.chars = 0
    shared = builder.build_many([goal] * 64, tactics, [prefix] * 64)
    # Goal and prefix are read a few times per request, not once or more per candidate.
    assert counting.chars < 4 * (len(goal) + len(prefix)) + 64 * 2000
    alone = [PromptBuilder(tok, max_length=128).build(goal, t, prefix) for t in tactics]
    assert shared == alone
    assert all(len(tok(t).input_ids) <= 128 and t.endswith(tactics[i]) for i, t in enumerate(shared))


def test_mixed_states_in_one_batch_fit_like_each_alone(tok):
    goals = [long_state(50), "x : ℕ\n⊢ x = x", long_state(50), long_state(200)]
    tactics = ["simp", "rfl", "omega", "exact h0"]
    prefixes = ["intro a", "", "intro a", "\n".join(f"s{i}" for i in range(80))]
    builder = PromptBuilder(tok, max_length=96)
    assert builder.build_many(goals, tactics, prefixes) == [builder.build(g, t, p)
                                                            for g, t, p in zip(goals, tactics, prefixes)]


def test_canonical_goals_make_lean_printed_and_rendered_states_read_alike(tok):
    lean = "n : ℕ\nh₀ : ∀ (k : ℕ), f ↑k = √2\n⊢ ∑ k ∈ Finset.range n, f ↑k = 3"
    rendered = "n : ℕ\nh₀ : ∀ k : ℕ, f k = Real.sqrt 2\n⊢ (∑ k in Finset.range n, f k) = 3"
    on = PromptBuilder(tok, max_length=256, canonicalize=True)
    assert on.build(lean, "simp", "intro x") == on.build(rendered, "simp", "intro x")
    off = PromptBuilder(tok, max_length=256)  # the default, and what models saved before the setting read
    assert off.build(lean, "simp") != off.build(rendered, "simp")
    # also when the prompt has to be fitted
    small = PromptBuilder(tok, max_length=48, canonicalize=True)
    assert small.build(lean, "simp", "a\nb\nc\nd\ne") == small.build(rendered, "simp", "a\nb\nc\nd\ne")


def test_initial_goals_are_marked_only_when_asked(tok):
    goal = "x : ℝ\n⊢ x ^ 2 ≥ 0"
    marking = PromptBuilder(tok, max_length=256, mark_initial=True)
    real, stand_in = marking.build_many([goal, goal], ["positivity", "positivity"], ["nlinarith", "nlinarith"],
                                        [False, True])
    assert real.startswith("Goal:\n") and stand_in.startswith("Initial goal:\n")
    assert stand_in == real.replace("Goal:", "Initial goal:", 1)
    # a builder that does not mark (every model saved before the setting) lays both out as real states
    plain = PromptBuilder(tok, max_length=256)
    assert plain.build_many([goal, goal], ["positivity"] * 2, ["nlinarith"] * 2, [False, True]) == [real, real]
    # fitting keeps the header and the budget
    long_goal = "\n".join(f"h{i} : x{i} ^ 2 + y{i} ^ 2 ≥ 2 * x{i} * y{i}" for i in range(60)) + "\n⊢ x ^ 2 ≥ 0"
    small = PromptBuilder(tok, max_length=64, mark_initial=True)
    fitted = small.build(long_goal, "positivity", "", initial=True)
    assert fitted.startswith("Initial goal:\n") and len(tok(fitted).input_ids) <= 64
    with pytest.raises(ValueError, match="initial flags"):
        marking.build_many([goal], ["simp"], None, [True, False])


def test_templates_without_a_goal_header_get_an_initial_goal_line():
    assert PromptTemplate("{goal} [SEP] {tactic}").for_initial_goal().format("⊢ p", "simp") == \
        "Initial goal:\n⊢ p [SEP] simp"
