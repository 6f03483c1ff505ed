"""The proof rule (leanprogress.lean.forbidden): what text is not a proof, and how Lean's own answer is read."""

import pytest

from leanprogress.data.proofs import tactic_steps
from leanprogress.lean.declaration import named_statement, theorem_name
from leanprogress.lean.forbidden import DEFAULT_RULE, ProofRule, forbidden, parse_axioms, print_axioms, uses_sorry
from leanprogress.lean.syntax import strip_comments
from leanprogress.rl import clean_completion
from leanprogress.search.prover import forbidden_word


@pytest.mark.parametrize("text, word", [
    ("exact sorryAx _ false", "sorryAx"), ("refine ⟨sorryAx _, ?_⟩", "sorryAx"), ("exact «sorryAx» _ true", "sorryAx"),
    ("exact _root_.sorryAx _ false", "sorryAx"), ("simp [sorryAx]", "sorryAx"), ("nlinarith [sorry]", "sorry"),
    ("exact (sorry : False).elim", "sorry"), ("all_goals admit", "admit"), ("stop\n  simp", "stop"),
    ("set_option warn.sorry false in simp", "sorry"), ("simp -- sorry, not yet", "sorry"),  # comments count too
    ("exact \u0455orry", "sorry"), ("exact ｓｏｒｒｙ", "sorry"), ("exact so\u200brry", "sorry"),
    ("exact s\u0301orry", "sorry"), ("exact\u00a0sorry", "sorry"),
    ("exact h\naxiom cheat : False", "axiom"), ("@[implemented_by f] def g := 1", "implemented_by"),
    ("exact h\n#exit", "#exit"), ('#print "depends on axioms"', "#print"), ("run_tac do pure ()", "run_tac"),
    ("set_option debug.skipKernelTC true in rfl", "skipKernelTC"), ("unsafe def x := 1", "unsafe"),
    ("set_option debug.proofAsSorry true in simp", "proofAsSorry"),
    ("native_decide", "native_decide"), ("decide +native", "+native"), ("bv_decide", "bv_decide"),
    ("exact Lean.ofReduceBool _ _ rfl", "ofReduceBool"), ("decide (config := {native := true})", "native := true"),
])
def test_the_rule_names_what_makes_text_no_proof(text, word):
    assert DEFAULT_RULE.forbidden(text) == word


@pytest.mark.parametrize("text", [
    "nlinarith [sq_nonneg (a - b), sq_nonneg (a + b)]", "exact Nat.stop_lt h", "exact sorry_lemma h",
    "simp [Set.mem_def, Nat.lt_def]", "infer_instance", "intro ε hε\nexact ⟨ε, hε⟩",
    "simp -- for example, by the definition", "have h' : x = x := rfl\nexact h'", "decide",
    "set_option maxRecDepth 1000 in simp", "exact '-' -- a char literal, then a comment",
])
def test_proofs_pass(text):
    assert DEFAULT_RULE.forbidden(text) is None


def test_native_decide_is_a_setting_and_one_rule_serves_every_caller():
    allowed = ProofRule(native_decide=True)
    assert allowed.forbidden("native_decide") is None and allowed.forbidden("decide +native") is None
    assert allowed.forbidden("exact sorryAx _ false") == "sorryAx"  # the rest of the rule stays
    assert forbidden("native_decide", native_decide=True) is None
    # cleaning, search and data read the same rule
    assert clean_completion("exact sorryAx _ false").status == "forbidden"
    assert forbidden_word("exact sorryAx _ false") == "sorryAx" and forbidden_word("stop") == "stop"
    assert tactic_steps("intro x\nexact sorryAx _ false") == ([], "proof uses sorryAx")
    assert tactic_steps("intro x\nnative_decide") == ([], "proof uses native_decide")
    assert clean_completion("native_decide").status == "forbidden"
    assert clean_completion("native_decide", rule=allowed).tactic == "native_decide"


def test_char_literals_do_not_hide_code_from_the_comment_scan():
    # '"' is a character, not the start of a string: the `--` after the string "--" starts no comment.
    assert strip_comments("exact '\"' ; exact \"--\" ; sorry -- note") == "exact '\"' ; exact \"--\" ; sorry "
    assert strip_comments("exact h' -- a name ending in a quote") == "exact h' "


def test_lean_answers_are_read_as_lean_words_them():
    assert uses_sorry("declaration uses 'sorry'") and uses_sorry("declaration uses `sorry`")
    assert parse_axioms("'t' depends on axioms: [propext, sorryAx, Classical.choice, Quot.sound]") == (
        "t", ["propext", "sorryAx", "Classical.choice", "Quot.sound"])
    assert parse_axioms("'Foo.t'' depends on axioms: [propext,\n Classical.choice,\n Quot.sound]")[0] == "Foo.t'"
    assert parse_axioms("'t' does not depend on any axioms") == ("t", [])
    assert parse_axioms("t : 1 = 1") is None and print_axioms("t") == "#print axioms t"


def test_lean_verdict_fails_sorry_warnings_foreign_axioms_and_a_missing_answer():
    clean = [("info", "'t' depends on axioms: [propext, Classical.choice, Quot.sound]")]
    assert DEFAULT_RULE.lean_verdict(clean, "t", axioms_expected=True) is None
    assert "uses 'sorry'" in DEFAULT_RULE.lean_verdict([("warning", "declaration uses 'sorry'")] + clean, "t")
    native = [("info", "'t' depends on axioms: [propext, Lean.ofReduceBool, Lean.trustCompiler]")]
    assert "Lean.ofReduceBool, Lean.trustCompiler" in DEFAULT_RULE.lean_verdict(native, "t")
    assert ProofRule(native_decide=True).lean_verdict(native, "t") is None
    assert "sorryAx" in DEFAULT_RULE.lean_verdict([("info", "'t' depends on axioms: [sorryAx]")], "t")
    # an answer about another theorem, or none at all (a source that stopped Lean), is no evidence
    other = [("info", "'u' does not depend on any axioms")]
    assert DEFAULT_RULE.lean_verdict(other, "t", axioms_expected=True) == "Lean gave no axioms for 't'"
    assert DEFAULT_RULE.lean_verdict([], "t", axioms_expected=True) == "Lean gave no axioms for 't'"
    assert "unsolved goals" in DEFAULT_RULE.lean_verdict([("error", "unsolved goals\n⊢ p")], "t")


def test_statements_are_named_so_lean_can_be_asked_about_them():
    assert theorem_name("theorem add_zero' (n : ℕ) : n + 0 = n") == "add_zero'"
    assert theorem_name("@[simp] private lemma Foo.bar : True") == "Foo.bar"
    assert named_statement("example : 1 = 1", "check") == ("theorem check : 1 = 1", "check")
    with pytest.raises(ValueError, match="not a theorem"):
        named_statement("def x := 1")
