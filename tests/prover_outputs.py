"""What real provers write: labelled completions of five prover families, for tests/test_rl_completions.py.

Each fixture is a completion as a training framework hands it to a reward (the policy's text after the prompt;
with special tokens where the framework decodes with them, as OpenRLHF does), the theorem it was asked for, and
what the cleaning must read from it: the first tactic (step-level use) and the whole proof (whole-proof use), or
the status of the failure reward.

``kind`` says what each text is, and ``source`` where it comes from:

- ``real``: a model's output, verbatim from the public source named (a published generation, or the expected
  output its authors print);
- ``real + tokens``: such an output with the special tokens its family's chat template puts around it (named in
  ``source``), as a framework that decodes with special tokens receives it;
- ``format``: built from a documented format (the family's prompt, chat template and answer extractor, named in
  ``source``); the Lean inside is real where ``source`` says so, else marked illustrative. No ``format`` text is a
  model's output.

Sources (read through public GitHub repositories; the model hub is not reachable from this machine):

- DeepSeek-Prover-V1.5: deepseek-ai/DeepSeek-Prover-V1.5 @2c4ba911, quick_start.py (prompt and "Expected output")
  and prover/utils.py (non_cot_prompt ends inside a ```` ```lean4 ```` fence; post_process_output cuts at the first
  ```` ``` ````).
- DeepSeek-Prover-V2: deepseek-ai/DeepSeek-Prover-V2 @e598a57, README.md section 5 (the prompt asks for a proof
  plan, then the Lean 4 code; outputs are decoded with special tokens) and minif2f-solutions.zip (the proofs it
  found: real Lean).
- Kimina-Prover: MoonshotAI/Kimina-Prover-Preview @8dec4f5a, minif2f_test_solved/minif2f-test-solved.jsonl (field
  ``cot``: whole generations, ``<think>`` then the final ```` ```lean4 ```` block) and kimina_prover_demo/utils.py
  (extract_proof_from_text: the last lean4 block); cmu-l3/llmlean pull request #11 (a Kimina 1.5B raw response
  quoted in its description); the Distill models load a Qwen2 tokenizer (0art0/kimina issue #3, its log).
- Goedel-Prover-V2: Goedel-LM/Goedel-Prover-V2 as forked at sean-lamont/Goedel-Prover-V2, README.md section 6 (the
  prompt of DeepSeek-Prover-V2) and src/utils.py (extrac_code takes the last lean4 block; the Qwen template's
  ``<|im_start|>``/``<|im_end|>``); its Qwen3 base's template: TRL 1.16 trl/chat_templates/qwen3.jinja
  (``<think>`` reasoning).
- InternLM (InternLM2-Math, InternLM2.5-StepProver): InternLM/InternLM-Math,
  minif2f/proofsearch_internLM2.5-StepProver.py (a ``<|im_start|>user`` turn ending ``---\\nTACTIC: ``, generation
  stopped at ``<|im_end|>``), minif2f/proofsearch_internLM2-plus.py (answers ``Here is the predicted next
  tactic:`` then a ```` ```lean ```` block), and
  eval/pretrain/minif2f/output/internLM2-7b_minif2f_test/results__internlm_internlm2-math-base-7b__0.json
  (tactics the model generated in search).
- Chat templates without a prover family of their own: TRL 1.16 trl/chat_templates (deepseek_r1_distill.jinja
  prefills ``<think>\\n``, so the output holds only ``</think>``; llama3.jinja; the full-width DeepSeek tokens in
  deepseekv3.jinja), and the cases issue 23 reports.
"""

from dataclasses import dataclass



@dataclass(frozen=True)
class Fixture:
    """One labelled completion.

    Attributes:
        family: the prover family (or ``chat template`` for the template-only cases).
        kind: ``real``, ``real + tokens`` or ``format`` (see the module doc).
        source: where the text (and its tokens) come from.
        completion: what the reward receives.
        statement: the theorem it answers (its name picks the declaration in a whole-file answer).
        tactic: the first tactic the cleaning must find, or None when ``status`` is a failure.
        proof: the top-level tactics of the whole proof, or None when ``status`` is a failure.
        status: ``ok`` or the failure status both cleanings must give.
    """

    family: str
    kind: str
    source: str
    completion: str
    statement: str
    tactic: str | None
    proof: tuple[str, ...] | None
    status: str = "ok"


# ---------------------------------------------------------------- DeepSeek-Prover-V1.5
V15_STATEMENT = ("theorem amc12b_2003_p6 (a r : ℝ) (u : ℕ → ℝ) (h₀ : ∀ k, u k = a * r ^ k) (h₁ : u 1 = 2)\n"
                 "  (h₂ : u 3 = 6) : u 0 = 2 / Real.sqrt 3 ∨ u 0 = -(2 / Real.sqrt 3)")
# quick_start.py, "Expected output": the model continues the prompt's open ```lean4 block after `:= by`.
V15_OUTPUT = (
    "  simp_all only [Nat.one_eq_succ_zero, Nat.zero_eq, zero_add, Nat.add_succ, Nat.add_zero,\n"
    "    Nat.succ_add]\n"
    "  have h₁' : a * r = 2 := by simpa [h₀] using h₁\n"
    "  have h₂' : a * r ^ 3 = 6 := by simpa [h₀] using h₂\n"
    "  have h₃ : r ^ 2 = 3 := by\n"
    "    nlinarith\n"
    "  have h₄ : a = 2 / Real.sqrt 3 ∨ a = -(2 / Real.sqrt 3) := by\n"
    "    apply eq_or_eq_neg_of_sq_eq_sq <;>\n"
    "    field_simp <;>\n"
    "    nlinarith\n"
    "  simpa [h₀] using h₄\n"
    "```\n"
)
V15_PROOF = (
    "simp_all only [Nat.one_eq_succ_zero, Nat.zero_eq, zero_add, Nat.add_succ, Nat.add_zero,\n  Nat.succ_add]",
    "have h₁' : a * r = 2 := by simpa [h₀] using h₁",
    "have h₂' : a * r ^ 3 = 6 := by simpa [h₀] using h₂",
    "have h₃ : r ^ 2 = 3 := by\n  nlinarith",
    "have h₄ : a = 2 / Real.sqrt 3 ∨ a = -(2 / Real.sqrt 3) := by\n  apply eq_or_eq_neg_of_sq_eq_sq <;>\n"
    "  field_simp <;>\n  nlinarith",
    "simpa [h₀] using h₄",
)
V15 = "deepseek-ai/DeepSeek-Prover-V1.5 quick_start.py (expected output)"
DEEPSEEK_EOS = "<｜end▁of▁sentence｜>"
DEEPSEEK_TOKENS = "the DeepSeek template's full-width tokens (TRL trl/chat_templates/deepseekv3.jinja)"

# ---------------------------------------------------------------- DeepSeek-Prover-V2
V2_STATEMENT = "theorem mathd_numbertheory_342 : 54 % 6 = 0"
# minif2f-solutions.zip, test/mathd_numbertheory_342.lean: the whole file of the proof DeepSeek-Prover-V2 found.
V2_SOLUTION = (
    "import Mathlib\nimport Aesop\n\nset_option maxHeartbeats 0\n\nopen BigOperators Real Nat Topology Rat\n\n"
    "/-- Determine the remainder of 54 (mod 6). Show that it is 0.-/\n"
    "theorem mathd_numbertheory_342 : 54 % 6 = 0 := by\n  have h : 54 % 6 = 0 := by\n    norm_num\n"
    "    <;> rfl\n  \n  exact h\n"
)
V2_PROOF = ("have h : 54 % 6 = 0 := by\n  norm_num\n  <;> rfl", "exact h")
V2_SKETCH = ("### Detailed Proof and Analysis\n\nWe compute 54 = 6 * 9, so 54 % 6 = 0.\n\n"
             "### Lean 4 Proof with `have` Statements\n\n```lean4\ntheorem mathd_numbertheory_342 : 54 % 6 = 0 := by\n"
             "  have h : 54 % 6 = 0 := by sorry\n  sorry\n```\n\n")
V2 = ("deepseek-ai/DeepSeek-Prover-V2 README.md (prompt: a proof plan, then the Lean 4 code) and "
      "minif2f-solutions.zip test/mathd_numbertheory_342.lean (the Lean, real)")

# ---------------------------------------------------------------- Kimina-Prover
KIMINA = "MoonshotAI/Kimina-Prover-Preview minif2f_test_solved/minif2f-test-solved.jsonl, 'cot' of "

KIMINA_MATHD_ALGEBRA_143 = (
    '<think>\n'
    '# Solving $f(g(2))$ where $f(x) = x + 1$ and $g(x) = x^2 + 3$\n'
    '\n'
    'To find $f(g(2))$, we need to first compute $g(2)$ and then apply $f$ to the result.\n'
    '\n'
    '1. **Compute $g(2)$**: \n'
    '   - We have $g(x) = x^2 + 3$\n'
    '   - Substituting $x = 2$, we get $g(2) = 2^2 + 3 = 4 + 3 = 7$\n'
    '\n'
    '2. **Compute $f(g(2)) = f(7)$**:\n'
    '   - We have $f(x) = x + 1$\n'
    '   - Substituting $x = 7$, we get $f(7) = 7 + 1 = 8$\n'
    '\n'
    'So $f(g(2)) = 8$.\n'
    '\n'
    "Let's translate this into Lean 4:\n"
    '\n'
    '```tactics\n'
    'import Mathlib\n'
    'import Aesop\n'
    '\n'
    'set_option maxHeartbeats 0\n'
    '\n'
    'open BigOperators Real Nat Topology Rat\n'
    '\n'
    'theorem mathd_algebra_143 (f g : ℝ → ℝ) (h₀ : ∀ x, f x = x + 1) (h₁ : ∀ x, g x = x ^ 2 + 3) :\n'
    '    f (g 2) = 8 := by\n'
    '```\n'
    '\n'
    'Now we need to prove that $f(g(2)) = 8$. We will do this by:\n'
    '1. Substituting the definition of $g$ to compute $g(2)$\n'
    '2. Substituting the result into $f$\n'
    '3. Using the definition of $f$ to compute the final value\n'
    '\n'
    "Let's continue with the proof:\n"
    '\n'
    '```tactics\n'
    '  have g2 : g 2 = 7 := by\n'
    '    rw [h₁]\n'
    '    norm_num\n'
    '```\n'
    '\n'
    'We have successfully calculated that $g(2) = 7$. Now we need to compute $f(g(2)) = f(7)$:\n'
    '\n'
    '```tactics\n'
    '  rw [g2]\n'
    '  rw [h₀]\n'
    '  norm_num\n'
    '```\n'
    '\n'
    'The first `rw` substitutes $g(2) = 7$ into the goal, changing it to $f(7) = 8$. \n'
    'The second `rw` substitutes $f(7) = 7 + 1$ using the definition of $f$. \n'
    'Finally, `norm_num` computes $7 + 1 = 8$ to complete the proof.\n'
    '\n'
    'Therefore, we have shown that $f(g(2)) = 8$.\n'
    '</think>\n'
    '```lean4\n'
    'import Mathlib\n'
    'import Aesop\n'
    '\n'
    'set_option maxHeartbeats 0\n'
    '\n'
    'open BigOperators Real Nat Topology Rat\n'
    '\n'
    '\n'
    'theorem mathd_algebra_143 (f g : ℝ → ℝ) (h₀ : ∀ x, f x = x + 1) (h₁ : ∀ x, g x = x ^ 2 + 3) :\n'
    '    f (g 2) = 8 := by \n'
    '  have g2 : g 2 = 7 := by \n'
    '    rw [h₁]\n'
    '    norm_num\n'
    '  rw [g2]\n'
    '  rw [h₀]\n'
    '  norm_num\n'
    '```\n'
)


KIMINA_MATHD_ALGEBRA_171 = (
    '<think>\n'
    '# Finding $f(1)$ for $f(x) = 5x + 4$\n'
    '\n'
    'To find the value of $f(1)$ where $f(x) = 5x + 4$, we simply need to substitute $x = 1$ in'
    'to the function.\n'
    '\n'
    "First, let's think about the mathematical reasoning:\n"
    '- We have a function $f: \\mathbb{R} \\to \\mathbb{R}$ defined by $f(x) = 5x + 4$ for all $x '
    '\\in \\mathbb{R}$.\n'
    '- We need to compute $f(1)$.\n'
    '\n'
    'Substituting $x = 1$ into the formula:\n'
    '$f(1) = 5 \\cdot 1 + 4 = 5 + 4 = 9$\n'
    '\n'
    'Therefore, $f(1) = 9$.\n'
    '\n'
    'In Lean 4, we would prove this as follows:\n'
    '\n'
    '```tactics\n'
    'import Mathlib\n'
    'import Aesop\n'
    '\n'
    'set_option maxHeartbeats 0\n'
    '\n'
    'open BigOperators Real Nat Topology Rat\n'
    '\n'
    '\n'
    'theorem mathd_algebra_171 (f : ℝ → ℝ) (h₀ : ∀ x, f x = 5 * x + 4) : f 1 = 9 := by\n'
    '```\n'
    '\n'
    'We have a function $f : \\mathbb{R} \\to \\mathbb{R}$ and the hypothesis $h₀$ that for all re'
    'al numbers $x$, $f(x) = 5x + 4$. We need to prove that $f(1) = 9$.\n'
    '\n'
    'To prove this, we will:\n'
    '1. Apply the hypothesis $h₀$ with $x = 1$\n'
    '2. Compute $5 \\cdot 1 + 4 = 9$\n'
    '\n'
    "Let's complete the proof:\n"
    '\n'
    '```tactics\n'
    '  have h1 : f 1 = 5 * 1 + 4 := h₀ 1\n'
    '```\n'
    '\n'
    'Now we have a hypothesis that $f(1) = 5 \\cdot 1 + 4$. This follows directly from the given'
    ' function definition. \n'
    '\n'
    'Next, we need to compute $5 \\cdot 1 + 4$ to get $9$:\n'
    '\n'
    '```tactics\n'
    '  rw [h1]\n'
    '  norm_num\n'
    '```\n'
    '\n'
    'The `rw` tactic is rewriting $f(1)$ as $5 * 1 + 4$ using the hypothesis $h1$. Then `norm_n'
    'um` is computing $5 * 1 + 4 = 9$ directly.\n'
    '\n'
    'So the complete proof is:\n'
    '\n'
    '1. From the hypothesis $h₀$, we have $f(1) = 5 \\cdot 1 + 4$\n'
    '2. Compute $5 \\cdot 1 + 4 = 9$\n'
    '3. Therefore, $f(1) = 9$ is proven\n'
    '\n'
    'The Lean code is elegant and concise because it directly applies the given functional equa'
    'tion and computes the value. The proof is complete and shows that $f(1) = 9$ as required.\n'
    '</think>\n'
    '```lean4\n'
    'import Mathlib\n'
    'import Aesop\n'
    '\n'
    'set_option maxHeartbeats 0\n'
    '\n'
    'open BigOperators Real Nat Topology Rat\n'
    '\n'
    '\n'
    'theorem mathd_algebra_171 (f : ℝ → ℝ) (h₀ : ∀ x, f x = 5 * x + 4) : f 1 = 9 := by \n'
    '  have h1 : f 1 = 5 * 1 + 4 := h₀ 1\n'
    '  rw [h1]\n'
    '  norm_num\n'
    '```\n'
)


KIMINA_MATHD_NUMBERTHEORY_254 = (
    '<think>\n'
    'This problem asks how many marbles must be removed from a combined collection so that the '
    'remaining marbles can be divided into piles of exactly 10. \n'
    '\n'
    "First, I'll think about what we need to calculate. The total number of marbles is the sum "
    'of what each person brought: 239 + 174 + 83. The goal is to find how many marbles must be '
    'removed to make the total divisible by 10. Another way to think about this is: find the re'
    'mainder when the total number of marbles is divided by 10.\n'
    '\n'
    "Let's start by calculating the total:\n"
    '239 + 174 + 83 = 239 + 174 + 83 = 496\n'
    '\n'
    'Now we need to find 496 % 10, which is the remainder when 496 is divided by 10. In Lean, w'
    'e can express this as:\n'
    '\n'
    '```tactics\n'
    'import Mathlib\n'
    'import Aesop\n'
    '\n'
    'set_option maxHeartbeats 0\n'
    '\n'
    'open BigOperators Real Nat Topology Rat\n'
    '```\n'
    '\n'
    "We've started by importing the necessary libraries and setting up our environment. The nex"
    't step is to state our theorem:\n'
    '\n'
    '```tactics\n'
    'theorem mathd_numbertheory_254 : (239 + 174 + 83) % 10 = 6 := by\n'
    '```\n'
    '\n'
    "So far, we've declared the theorem statement. Now we need to prove it. The straightforward"
    ' approach is to compute the sum and then take the remainder when divided by 10.\n'
    '\n'
    "Let's verify manually:\n"
    '239 + 174 + 83 = 496 \n'
    '496 ÷ 10 = 49 remainder 6\n'
    '\n'
    'So indeed, 496 % 10 = 6, meaning that 6 marbles need to be removed to make the total divisible by 10.\n'
    '\n'
    'In Lean, we can prove this with a simple arithmetic calculation:\n'
    '\n'
    '```tactics\n'
    '  norm_num\n'
    '```\n'
    '\n'
    'The `norm_num` tactic is powerful for solving arithmetic goals. It will compute the sum 23'
    '9 + 174 + 83 to get 496, then calculate 496 % 10, and verify that it equals 6.\n'
    '\n'
    'Therefore, our complete proof is:\n'
    '\n'
    '1. Import required libraries\n'
    '2. Set up the theorem statement\n'
    '3. Use `norm_num` to compute the arithmetic and verify the result\n'
    '\n'
    'The answer is 6, so 6 marbles must be removed to start the game (i.e., to make the total n'
    'umber of marbles divisible by 10).\n'
    '</think>\n'
    '```lean4\n'
    'import Mathlib\n'
    'import Aesop\n'
    '\n'
    'set_option maxHeartbeats 0\n'
    '\n'
    'open BigOperators Real Nat Topology Rat\n'
    '\n'
    '\n'
    'theorem mathd_numbertheory_254 : (239 + 174 + 83) % 10 = 6 := by \n'
    '  norm_num\n'
    '```\n'
)

# cmu-l3/llmlean pull request #11, description: "Kimina raw response" of Kimina-Prover-Distill-1.5B on the set
# example of LLMlean's Examples.lean, as quoted there (the quote's indentation of 6 spaces removed; the quote stops
# mid-sentence, as the response did).
KIMINA_LLMLEAN = (
    "apply_fun (fun x => x ⊆ t)\n"
    "intro hr ht\n"
    "exact hr.trans ht\n"
    "```\n"
    "\n"
    "In this Lean 4 proof, we are proving a theorem about sets in Lean. The theorem states that if `r` is a subset of\n"
    "`s`, and `s` is a subset of `t`, then `r` must be a subset of `t`. This is a fundamental property of set "
    "inclusion.\n"
    "\n"
    "Let's think about how to prove this formally:\n"
    "\n"
    "1. We need to import the necessary libraries first, which in this case are already done for us with imports "
    "like\n"
    "`Mathlib` and `LLMean`.\n"
    "2. The theorem statement is given as `{α : Type _} (r s t : Set α) : r ⊆ s → s ⊆ t → r ⊆ t`\n"
    "3. We need to prove that if `r ⊆ s` and `s ⊆ t`, then `r ⊆ t`.\n"
    "4. The proof is"
)
LLMLEAN_STATEMENT = "example {α : Type _} (r s t : Set α) : r ⊆ s → s ⊆ t → r ⊆ t"

# ---------------------------------------------------------------- Goedel-Prover-V2
GOEDEL_STATEMENT = "theorem square_equation_solution {x y : ℝ} (h : x^2 + y^2 = 2*x - 4*y - 5) : x + y = -1"
GOEDEL = ("Goedel-LM/Goedel-Prover-V2 (fork sean-lamont/Goedel-Prover-V2) README.md section 6 and src/utils.py; "
          "TRL trl/chat_templates/qwen3.jinja; the Lean is illustrative")
GOEDEL_FINAL = (
    "theorem square_equation_solution {x y : ℝ} (h : x^2 + y^2 = 2*x - 4*y - 5) : x + y = -1 := by\n"
    "  have h1 : (x - 1) ^ 2 + (y + 2) ^ 2 = 0 := by nlinarith [h]\n"
    "  have hx : x = 1 := by nlinarith [sq_nonneg (x - 1), sq_nonneg (y + 2)]\n"
    "  have hy : y = -2 := by nlinarith [sq_nonneg (x - 1), sq_nonneg (y + 2)]\n"
    "  rw [hx, hy]\n"
    "  norm_num\n"
)
GOEDEL_PROOF = ("have h1 : (x - 1) ^ 2 + (y + 2) ^ 2 = 0 := by nlinarith [h]",
                "have hx : x = 1 := by nlinarith [sq_nonneg (x - 1), sq_nonneg (y + 2)]",
                "have hy : y = -2 := by nlinarith [sq_nonneg (x - 1), sq_nonneg (y + 2)]", "rw [hx, hy]", "norm_num")
GOEDEL_THINK = ("<think>\nComplete the square: (x - 1)^2 + (y + 2)^2 = 0, so x = 1 and y = -2. A first try:\n"
                "```lean4\n" + GOEDEL_STATEMENT + " := by\n"
                "  linarith\n```\nlinarith cannot square; use nlinarith with the squares.\n</think>\n\n")

# ---------------------------------------------------------------- InternLM
INTERNLM_RESULTS = ("InternLM/InternLM-Math eval/pretrain/minif2f/output/internLM2-7b_minif2f_test/"
                    "results__internlm_internlm2-math-base-7b__0.json (a tactic it generated)")
STEPPROVER = "InternLM/InternLM-Math minif2f/proofsearch_internLM2.5-StepProver.py (<|im_end|> ends the turn)"
PLUS = "InternLM/InternLM-Math minif2f/proofsearch_internLM2-plus.py (the answer's wording and fence)"

# ---------------------------------------------------------------- the fixtures
F = Fixture
FIXTURES = [
    # DeepSeek-Prover-V1.5: the prompt opens the fence, the model closes it.
    F("DeepSeek-Prover-V1.5", "real", V15, V15_OUTPUT, V15_STATEMENT, V15_PROOF[0], V15_PROOF),
    F("DeepSeek-Prover-V1.5", "real + tokens", f"{V15}; {DEEPSEEK_TOKENS}", V15_OUTPUT + DEEPSEEK_EOS,
      V15_STATEMENT, V15_PROOF[0], V15_PROOF),
    F("DeepSeek-Prover-V1.5", "real + tokens", f"{V15}, the end token where the closing fence would be; "
      f"{DEEPSEEK_TOKENS}", V15_OUTPUT.removesuffix("```\n") + DEEPSEEK_EOS, V15_STATEMENT, V15_PROOF[0], V15_PROOF),
    F("DeepSeek-Prover-V1.5", "format", "deepseek-ai/DeepSeek-Prover-V1.5 prover/utils.py cot_prompt (comments "
      f"before each line); the Lean from {V15}",
      "  -- From h₀, h₁ and h₂, a * r = 2 and a * r ^ 3 = 6, so r ^ 2 = 3\n  have h₃ : r ^ 2 = 3 := by\n"
      "    nlinarith\n```\n", V15_STATEMENT, "have h₃ : r ^ 2 = 3 := by\n  nlinarith",
      ("have h₃ : r ^ 2 = 3 := by\n  nlinarith",)),
    # DeepSeek-Prover-V2: a plan, a sketch with sorry, the complete proof last.
    F("DeepSeek-Prover-V2", "format", f"{V2}; {DEEPSEEK_TOKENS}",
      V2_SKETCH + "### Complete Lean 4 Proof\n\n```lean4\n" + V2_SOLUTION + "```" + DEEPSEEK_EOS,
      V2_STATEMENT, V2_PROOF[0], V2_PROOF),
    F("DeepSeek-Prover-V2", "format", f"{V2}: cut off after the sketch", V2_SKETCH, V2_STATEMENT, None, None,
      "forbidden"),
    F("DeepSeek-Prover-V2", "format", f"{V2}: cut off inside the complete proof",
      V2_SKETCH + "### Complete Lean 4 Proof\n\n```lean4\n" + V2_SOLUTION.split("  \n")[0], V2_STATEMENT,
      V2_PROOF[0], V2_PROOF[:1]),
    F("DeepSeek-Prover-V2", "real", f"{V2}: the whole file as the answer, docstring and imports included",
      V2_SOLUTION, V2_STATEMENT, V2_PROOF[0], V2_PROOF),
    # Kimina-Prover: reasoning with ```tactics drafts, then the final lean4 block with the whole file.
    F("Kimina-Prover", "real", KIMINA + "mathd_algebra_143", KIMINA_MATHD_ALGEBRA_143,
      "theorem mathd_algebra_143 (f g : ℝ → ℝ) (h₀ : ∀ x, f x = x + 1) (h₁ : ∀ x, g x = x ^ 2 + 3) :\n"
      "    f (g 2) = 8", "have g2 : g 2 = 7 := by\n  rw [h₁]\n  norm_num",
      ("have g2 : g 2 = 7 := by\n  rw [h₁]\n  norm_num", "rw [g2]", "rw [h₀]", "norm_num")),
    F("Kimina-Prover", "real", KIMINA + "mathd_algebra_171", KIMINA_MATHD_ALGEBRA_171,
      "theorem mathd_algebra_171 (f : ℝ → ℝ) (h₀ : ∀ x, f x = 5 * x + 4) : f 1 = 9",
      "have h1 : f 1 = 5 * 1 + 4 := h₀ 1", ("have h1 : f 1 = 5 * 1 + 4 := h₀ 1", "rw [h1]", "norm_num")),
    F("Kimina-Prover", "real", KIMINA + "mathd_numbertheory_254", KIMINA_MATHD_NUMBERTHEORY_254,
      "theorem mathd_numbertheory_254 : (239 + 174 + 83) % 10 = 6", "norm_num", ("norm_num",)),
    F("Kimina-Prover", "real + tokens", KIMINA + "mathd_numbertheory_254; the Qwen template's <|im_end|> (TRL "
      "trl/chat_templates/qwen2_5.jinja; the Distill models load a Qwen2 tokenizer)",
      KIMINA_MATHD_NUMBERTHEORY_254 + "<|im_end|>\n<|im_start|>user\nnext", "theorem mathd_numbertheory_254 : "
      "(239 + 174 + 83) % 10 = 6", "norm_num", ("norm_num",)),
    F("Kimina-Prover", "real", KIMINA + "mathd_algebra_143, cut off inside the reasoning (its first 1,200 "
      "characters, a ```tactics draft among them)", KIMINA_MATHD_ALGEBRA_143[:1200],
      "theorem mathd_algebra_143 (f g : ℝ → ℝ) (h₀ : ∀ x, f x = x + 1) (h₁ : ∀ x, g x = x ^ 2 + 3) :\n"
      "    f (g 2) = 8", None, None, "unfinished"),
    F("Kimina-Prover", "real", "cmu-l3/llmlean pull request #11 (Kimina 1.5B raw response)", KIMINA_LLMLEAN,
      LLMLEAN_STATEMENT, "apply_fun (fun x => x ⊆ t)",
      ("apply_fun (fun x => x ⊆ t)", "intro hr ht", "exact hr.trans ht")),
    # Goedel-Prover-V2: Qwen3 thinking, then DeepSeek-Prover-V2's answer format.
    F("Goedel-Prover-V2", "format", GOEDEL,
      GOEDEL_THINK + "### Complete Lean 4 Proof\n\n```lean4\n" + GOEDEL_FINAL + "```<|im_end|>", GOEDEL_STATEMENT,
      GOEDEL_PROOF[0], GOEDEL_PROOF),
    F("Goedel-Prover-V2", "format", GOEDEL + "; decoded with the assistant's turn header",
      "<|im_start|>assistant\n" + GOEDEL_THINK + "```lean4\n" + GOEDEL_FINAL + "```<|im_end|>\n<|endoftext|>",
      GOEDEL_STATEMENT, GOEDEL_PROOF[0], GOEDEL_PROOF),
    F("Goedel-Prover-V2", "format", GOEDEL + "; cut off at the token limit inside the reasoning",
      GOEDEL_THINK.split("</think>")[0], GOEDEL_STATEMENT, None, None, "unfinished"),
    F("Goedel-Prover-V2", "format", GOEDEL + "; a helper lemma before the theorem: not carried, so no proof (none "
      "of the 438 DeepSeek-Prover-V2 and 197 Kimina-Prover miniF2F proofs in the sources has one)",
      GOEDEL_THINK + "```lean4\nlemma sq_sum_zero (a b : ℝ) (h : a ^ 2 + b ^ 2 = 0) : a = 0 := by\n"
      "  nlinarith [sq_nonneg a, sq_nonneg b]\n\n" + GOEDEL_FINAL + "```<|im_end|>", GOEDEL_STATEMENT,
      None, None, "forbidden"),
    F("Goedel-Prover-V2", "format", GOEDEL + "; the answer restates another theorem",
      GOEDEL_THINK + "```lean4\ntheorem easier : (1 : ℝ) + 1 = 2 := by\n  norm_num\n```<|im_end|>", GOEDEL_STATEMENT,
      None, None, "other_theorem"),
    # InternLM: one tactic per turn.
    F("InternLM", "real + tokens", f"{INTERNLM_RESULTS}; {STEPPROVER}", "rw [← h₀, ← h₂]<|im_end|>",
      "theorem mathd_algebra_209 (σ : Equiv ℝ ℝ) (h₀ : σ.2 2 = 10) (h₁ : σ.2 10 = 1) (h₂ : σ.2 1 = 2) :\n"
      "    σ.1 (σ.1 10) = 1", "rw [← h₀, ← h₂]", ("rw [← h₀, ← h₂]",)),
    F("InternLM", "real + tokens", f"{INTERNLM_RESULTS}; {STEPPROVER}", " norm_num at *<|im_end|>\n<|im_start|>user",
      "theorem mathd_algebra_209 (σ : Equiv ℝ ℝ) (h₀ : σ.2 2 = 10) (h₁ : σ.2 10 = 1) (h₂ : σ.2 1 = 2) :\n"
      "    σ.1 (σ.1 10) = 1", "norm_num at *", ("norm_num at *",)),
    F("InternLM", "real + tokens", f"{INTERNLM_RESULTS}; {PLUS}",
      "Here is the predicted next tactic:\n```lean\nfield_simp [h₀, h₁, h₂]\n```<|im_end|>",
      "theorem mathd_algebra_33 (x y z : ℝ) (h₀ : x ≠ 0) (h₁ : 2 * x = 5 * y) (h₂ : 7 * y = 10 * z) :\n"
      "    z / x = 7 / 25", "field_simp [h₀, h₁, h₂]", ("field_simp [h₀, h₁, h₂]",)),
    F("InternLM", "real", INTERNLM_RESULTS, "calc (∑ x in Finset.range 10, (x + 1) ^ 2) % 10",
      "theorem mathd_numbertheory_3 : (∑ x in Finset.range 10, (x + 1) ^ 2) % 10 = 5",
      "calc (∑ x in Finset.range 10, (x + 1) ^ 2) % 10", ("calc (∑ x in Finset.range 10, (x + 1) ^ 2) % 10",)),
    F("InternLM", "real", INTERNLM_RESULTS, "simp [Finset.sum_range, Nat.mod_eq_of_lt]",
      "theorem mathd_numbertheory_237 : (∑ k in Finset.range 101, k) % 6 = 4",
      "simp [Finset.sum_range, Nat.mod_eq_of_lt]", ("simp [Finset.sum_range, Nat.mod_eq_of_lt]",)),
    F("InternLM", "real", INTERNLM_RESULTS, "revert n h₀",
      "theorem mathd_numbertheory_1124 (n : ℕ) (h₀ : n ≤ 9) (h₁ : 18 ∣ 374 * 10 + n) : n = 4", "revert n h₀",
      ("revert n h₀",)),
    # Chat templates and the cases of issue 23.
    F("chat template", "format", "TRL trl/chat_templates/deepseek_r1_distill.jinja (the template opens <think>)",
      "Okay, the goal is p ∧ q and both are hypotheses.\n</think>\n\n```lean4\nexact ⟨hp, hq⟩\n```" + DEEPSEEK_EOS,
      "theorem and_swap (p q : Prop) (hp : p) (hq : q) : p ∧ q", "exact ⟨hp, hq⟩", ("exact ⟨hp, hq⟩",)),
    F("chat template", "format", "Llama 3: <|begin_of_text|> is the begin token, <|eot_id|> the end (TRL "
      "trl/chat_templates/llama3.jinja); issue 23", "<|begin_of_text|>simp", "theorem t (n : ℕ) : n + 0 = n",
      "simp", ("simp",)),
    F("chat template", "format", "TRL trl/chat_templates/llama3.jinja",
      "<|start_header_id|>assistant<|end_header_id|>\n\nsimp<|eot_id|><|start_header_id|>user<|end_header_id|>",
      "theorem t (n : ℕ) : n + 0 = n", "simp", ("simp",)),
    F("chat template", "format", f"{DEEPSEEK_TOKENS}; issue 23", "<｜Assistant｜>simp" + DEEPSEEK_EOS,
      "theorem t (n : ℕ) : n + 0 = n", "simp", ("simp",)),
    F("chat template", "format", "issue 23: a closing fence and no opener (the prompt opened it)", "simp\n```",
      "theorem t (n : ℕ) : n + 0 = n", "simp", ("simp",)),
    F("chat template", "format", "issue 23: a draft inside the reasoning, the answer after it",
      "<think>\nMaybe\n```lean\nring\n```\nno, ring fails here.\n</think>\n```lean\nsimp\n```",
      "theorem t (n : ℕ) : n + 0 = n", "simp", ("simp",)),
    F("chat template", "format", "issue 23: the answer unfenced after the reasoning",
      "<think>\nsimp should do it.\n</think>\nsimp", "theorem t (n : ℕ) : n + 0 = n", "simp", ("simp",)),
    F("chat template", "format", "issue 23: a label where the tactic should be", "Tactic: simp",
      "theorem t (n : ℕ) : n + 0 = n", None, None, "prose"),
    F("chat template", "format", "issue 23: a sentence around the tactic", "The next tactic is `simp`.",
      "theorem t (n : ℕ) : n + 0 = n", None, None, "prose"),
]
