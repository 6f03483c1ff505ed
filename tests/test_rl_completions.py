"""Completion cleaning on what real provers write (tests/prover_outputs.py: outputs of DeepSeek-Prover-V1.5 and V2,
Kimina-Prover, Goedel-Prover-V2 and InternLM, each with its source): every fixture is cleaned to its label, the
first tactic for step-level use and the whole proof for whole-proof use."""

import collections

import pytest

import prover_outputs as P
from leanprogress.lean.declaration import theorem_name
from leanprogress.rl import ProgressReward, clean_completion
from leanprogress.rl.completions import clean_proof, final_answer, strip_special_tokens


def lines(text):
    """Text without trailing spaces on its lines (`by ` at a line's end is `by`)."""
    return None if text is None else "\n".join(line.rstrip() for line in text.split("\n"))


def fixture_id(f):
    return f"{f.family}: {f.kind}: {f.source.split(';')[0][-50:]}"


@pytest.mark.parametrize("fixture", P.FIXTURES, ids=fixture_id)
def test_each_prover_output_is_cleaned_to_its_label(fixture):
    name = theorem_name(fixture.statement)
    step = clean_completion(fixture.completion, name=name)
    proof = clean_proof(fixture.completion, name=name)
    assert (step.status, proof.status) == (fixture.status, fixture.status), (step.reason, proof.reason)
    assert lines(step.tactic) == fixture.tactic
    if fixture.proof is None:
        assert proof.tactic is None and proof.tactics == ()
    else:
        assert tuple(lines(t) for t in proof.tactics) == fixture.proof
        assert lines(proof.tactic) == "\n".join(fixture.proof)


def test_the_fixtures_cover_four_prover_families_and_name_their_sources():
    families = collections.Counter(f.family for f in P.FIXTURES if f.family != "chat template")
    assert len(families) >= 4 and min(families.values()) >= 4, families
    real = collections.Counter(f.family for f in P.FIXTURES if f.kind.startswith("real"))
    assert {"DeepSeek-Prover-V1.5", "DeepSeek-Prover-V2", "Kimina-Prover", "InternLM"} <= set(real), real
    assert all(f.kind in ("real", "real + tokens", "format") and f.source for f in P.FIXTURES)
    assert all("/" in f.source or "issue 23" in f.source for f in P.FIXTURES)  # a repository path or the issue


def test_only_end_tokens_end_a_turn():
    assert strip_special_tokens("<|begin_of_text|>simp") == "simp"  # a begin token: removed, nothing ends
    assert strip_special_tokens("simp<|im_end|>ring") == "simp"
    assert strip_special_tokens("simp<｜end▁of▁sentence｜>ring") == "simp"
    assert strip_special_tokens("<｜Assistant｜>simp<｜tool▁calls▁begin｜>") == "simp"
    assert strip_special_tokens("simp<|im_start|>user\nmore") == "simp"  # a new user turn ends this one
    assert strip_special_tokens("<|im_start|>assistant\nsimp") == "simp"


def test_drafts_inside_reasoning_are_never_the_answer():
    draft_only = "<think>\n```lean\nexact sorryAx _ false\n```\n"  # cut off: no answer, whatever the draft holds
    assert final_answer(draft_only) == (None, "unfinished")
    assert clean_completion("<think>```lean\nsorry\n```</think>```lean\nsimp\n```").tactic == "simp"
    # A sketch with sorry before the complete proof: the complete proof is the answer, and it is clean.
    assert clean_proof(P.V2_SKETCH + "```lean4\n" + P.V2_SOLUTION + "```").status == "ok"


def test_a_whole_file_answer_gives_the_proof_of_the_named_declaration_only():
    text = ("```lean4\nimport Mathlib\nopen Real\n\n/-- The statement. -/\ntheorem t (n : ℕ) : n + 0 = n := by\n"
            "  -- simp does it\n  simp\n```")
    assert clean_proof(text, name="t").tactics == ("simp",) and clean_proof(text).tactics == ("simp",)
    assert clean_proof(text, name="u").status == "other_theorem"
    assert clean_proof("theorem t : 1 = 1 := rfl").tactics == ("exact (rfl)",)  # term mode is `exact`
    # What else the answer declares is no proof of the statement: a helper, or a theorem injected after a tactic.
    helper = text.replace("/-- The statement. -/", "lemma h (n : ℕ) : n = n := by\n  rfl\n")
    assert clean_proof(helper, name="t").status == "forbidden"
    injected = clean_completion("exact ⟨hp, hq⟩\ntheorem and_swap' : True := trivial")
    assert injected.status == "forbidden" and "exact ⟨hp, hq⟩" in injected.reason


def test_rewards_of_real_outputs_are_scored_not_failed(trained_tiny):
    from leanprogress import LeanProgressScorer

    scorer = LeanProgressScorer(str(trained_tiny[0]), device="cpu", precision="fp32")
    ok = [f for f in P.FIXTURES if f.status == "ok"]
    results = ProgressReward(scorer).evaluate(["⊢ True"] * len(ok), [f.completion for f in ok])
    assert [r.status for r in results] == ["scored"] * len(ok)
    assert [lines(r.tactic) for r in results] == [f.tactic for f in ok]
