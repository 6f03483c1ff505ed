"""The one place where a record becomes model input.

A record ``(goal, prefix, tactic)`` is formatted with a :class:`PromptTemplate`
and, when a tokenizer is known, fitted into ``max_length`` tokens by a
:class:`PromptBuilder`. Trainer and scorer both go through the builder, with
the settings saved next to the model, so a model is always scored on text laid
out exactly as it was trained on.

Fitting keeps what tells candidates apart. Cutting a long prompt from the
right, as plain tokenizer truncation does, removes the candidate tactic first:
the only part that differs between candidates for the same state. The builder
instead drops, in this order, until the prompt fits:

1. the oldest lines of the proof prefix,
2. goals after the first one,
3. hypotheses of the first goal, from the middle of the list outwards,
4. the middle of the ``⊢`` target itself (only if it alone does not fit),

and keeps the tactic whole unless it alone takes more than half the budget.
Each dropped run is replaced by one ``...`` line so the model can tell; for
the prefix the line also says how many tactics were dropped, since how far a
proof has come is a strong cue for how far it has to go.

With ``canonicalize`` (the ``canonicalize_goals`` setting saved with a model;
off for models saved before it existed), every goal is first mapped to
:func:`leanprogress.lean.canonical.canonical_state`, the one canonical form
that a state printed by Lean and a state rendered from a statement's text
share. Prefix and tactic are left as written.

With ``mark_initial`` (the ``initial_goals="mark"`` setting saved with a
model), a record whose goal is the theorem's initial state standing in for
the state before its tactic (``goal_state: "initial"``: whole-proof and
Lean-source steps after the first) is laid out with
:meth:`PromptTemplate.for_initial_goal`: ``Initial goal:`` in place of
``Goal:``, so the model can tell a real state from a stand-in. Search only
ever shows real states, which are laid out as before.

For a model of the ``group`` encoder kind (:mod:`leanprogress.batch_layout`),
:meth:`PromptBuilder.build_groups` lays the same text out in two parts: one
*context* per distinct (goal, prefix) (the template up to ``{tactic}``, fitted
on its own into ``max_length`` tokens by the same structured truncation) and
one *segment* per candidate (the tactic and whatever the template has after
``{tactic}``, cut to half of ``max_length`` as the cross-encoder cuts a
tactic). The context depends on the goal and prefix only, never on the other
candidates, so a candidate's score does not depend on what it is scored with.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any, Hashable, Sequence

from .lean.canonical import canonical_state
from .lean.expr import CANONICAL_FORM, CANONICAL_FORMS
from .lean.symbols import LeanTextNormalizer

DEFAULT_TEMPLATE = "Goal:\n{goal}\n\nPrefix:\n{prefix}\n\nCandidate tactic:\n{tactic}"
"""The original LeanProgress layout: goal, proof so far, candidate tactic."""

TEMPLATE_FIELDS = ("goal", "prefix", "tactic")
GOAL_HEADER = "Goal:"
INITIAL_GOAL_HEADER = "Initial goal:"
"""What :meth:`PromptTemplate.for_initial_goal` writes in place of :data:`GOAL_HEADER`."""
ELLIPSIS = "..."
TRUNCATIONS = ("structured", "right")


def _prefix_marker(n_dropped: int) -> str:
    return f"{ELLIPSIS} ({n_dropped} earlier tactics)"


class PromptTemplate:
    """A format string with ``{goal}``, ``{tactic}`` and optionally ``{prefix}``.

    Args:
        template: Python format string. ``{goal}`` and ``{tactic}`` are
            required; ``{prefix}`` may be left out to train without proof
            history. No other fields are allowed.

    Example:
        >>> t = PromptTemplate("{goal}\\n[SEP] {tactic}")
        >>> t.format(goal="⊢ 1 = 1", tactic="rfl")
        '⊢ 1 = 1\\n[SEP] rfl'
    """

    def __init__(self, template: str = DEFAULT_TEMPLATE):
        if not isinstance(template, str):
            raise TypeError(f"template must be a str, got {type(template).__name__}")
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
        except ValueError as exc:
            raise ValueError(f"template is not a valid format string ({exc}): {template!r}") from None
        unknown = sorted({f for f in fields if f not in TEMPLATE_FIELDS})
        if unknown:
            raise ValueError(
                f"template has unknown field(s) {unknown}; allowed: {{goal}}, {{prefix}}, {{tactic}}"
            )
        missing = [f for f in ("goal", "tactic") if f not in fields]
        if missing:
            raise ValueError(f"template must contain {{{missing[0]}}}: {template!r}")
        self.template = template
        self.uses_prefix = "prefix" in fields

    def format(self, goal: str, tactic: str, prefix: str = "") -> str:
        return self.template.format(goal=goal, tactic=tactic, prefix=prefix or "")

    def for_initial_goal(self) -> "PromptTemplate":
        """The layout for a goal that is the initial state standing in for the real one: the first
        ``Goal:`` becomes ``Initial goal:``; a template without ``Goal:`` gets an ``Initial goal:`` line
        before ``{goal}``.

        Example:
            >>> PromptTemplate().for_initial_goal().template.split("\\n")[0]
            'Initial goal:'
            >>> PromptTemplate("{goal} [SEP] {tactic}").for_initial_goal().template
            'Initial goal:\\n{goal} [SEP] {tactic}'
        """
        if GOAL_HEADER in self.template:
            return PromptTemplate(self.template.replace(GOAL_HEADER, INITIAL_GOAL_HEADER, 1))
        return PromptTemplate(self.template.replace("{goal}", INITIAL_GOAL_HEADER + "\n{goal}", 1))

    def split_at_tactic(self, goal: str = "", prefix: str = "") -> tuple[str, str]:
        """The text before ``{tactic}`` (goal and prefix filled in) and the template's text after it: the
        context and the segment suffix of the ``group`` encoder kind (:meth:`PromptBuilder.build_groups`).

        Raises:
            ValueError: for a template that cannot be split there (``{tactic}`` twice, or before ``{goal}`` or
                ``{prefix}``): see :meth:`check_splits_at_tactic`.

        Example:
            >>> PromptTemplate().split_at_tactic("⊢ p", "intro h")
            ('Goal:\\n⊢ p\\n\\nPrefix:\\nintro h\\n\\nCandidate tactic:\\n', '')
        """
        self.check_splits_at_tactic()
        text = self.template.format(goal=goal, prefix=prefix, tactic=_TACTIC_MARK)
        head, _, tail = text.rpartition(_TACTIC_MARK)
        return head, tail

    def check_splits_at_tactic(self) -> None:
        """Raise ValueError unless ``{tactic}`` appears once, after ``{goal}`` and ``{prefix}``: a group-kind
        model reads goal and prefix once for all candidates, before any of them."""
        fields = [f for _, f, _, _ in string.Formatter().parse(self.template) if f is not None]
        if fields.count("tactic") != 1 or fields[-1] != "tactic":
            raise ValueError(f"the group encoder kind needs a template with one {{tactic}}, after {{goal}} and "
                             f"{{prefix}} (the candidates follow the state they share); got {self.template!r}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PromptTemplate) and other.template == self.template

    def __repr__(self) -> str:
        return f"PromptTemplate({self.template!r})"


@dataclass
class _Goal:
    head: list[str]  # "case ..." line(s) before the hypotheses
    hyps: list[str]
    target: list[str]  # the ⊢ line and its continuation lines
    rest: list[str]  # later goals


@dataclass
class GroupedPrompts:
    """Records laid out for a ``group``-kind model (:meth:`PromptBuilder.build_groups`).

    Attributes:
        contexts: one text per distinct (goal, prefix, initial flag), in the order first seen.
        group_of: per record, the index of its context.
        segments: per record, its tactic and the template's text after ``{tactic}``.
    """

    contexts: list[str]
    group_of: list[int]
    segments: list[str]

    def __len__(self) -> int:
        return len(self.segments)


_TACTIC_MARK = "\x00tactic\x00"
"""Stands in for ``{tactic}`` where a template is split at it (never in Lean text)."""

_COUNT_SLACK = 8
"""Tokens a tactic appended after a line break could at most merge away (none for word-piece tokenizers)."""


class _Shared:
    """What the candidates of one (goal, prefix) share inside one :meth:`PromptBuilder.build_many` call."""

    def __init__(self, goal: str, prefix: str, template: "PromptTemplate", overhead: int):
        self.goal, self.prefix = goal, prefix  # normalized
        self.template, self.overhead = template, overhead  # the layout of these candidates, its special tokens
        self.members = 1
        self.surely_over = False  # goal and prefix alone exceed the budget: every candidate needs fitting
        self.lines: list[list[str]] | None = None  # normalized prefix lines, head, hypotheses, target, later goals
        self.costs: list[list[int]] | None = None  # their token counts
        self.markers: tuple[int, int] = (0, 0)  # token counts of the "..." and "... (n earlier tactics)" lines
        self.order: list[tuple[int, int]] = []  # (group, line) in the order lines are dropped
        self.target_tokens: list[str] | None = None
        self.fitted: dict[int, tuple[str, str]] = {}  # token budget left after the tactic -> (goal, prefix) text


def split_goal(goal: str) -> _Goal:
    """Split a pretty-printed Lean state into hypotheses, target and later goals."""
    lines = goal.split("\n")
    first_end = len(lines)
    for i, line in enumerate(lines):
        if not line.strip() and any(l.lstrip().startswith("⊢") for l in lines[:i]):
            first_end = i
            break
    first, rest = lines[:first_end], lines[first_end:]
    turnstile = next((i for i, l in enumerate(first) if l.lstrip().startswith("⊢")), None)
    if turnstile is None:  # not a Lean state: treat every line as droppable context
        return _Goal([], first[:-1], first[-1:], rest)
    head = [l for l in first[:1] if l.startswith("case ")]
    return _Goal(head, first[len(head):turnstile], first[turnstile:], rest)


class PromptBuilder:
    """Turn records into prompt strings that fit a tokenizer's budget.

    Args:
        tokenizer: the HuggingFace tokenizer of the model.
        template: the :class:`PromptTemplate` (default layout if None).
        max_length: token budget including special tokens.
        normalize: rewrite Lean notation for word-piece vocabularies (see
            :mod:`leanprogress.lean.symbols`).
        canonicalize: map each goal to
            :func:`~leanprogress.lean.canonical.canonical_state` first, so a
            state Lean printed and one rendered from source text read alike.
        mark_initial: lay out goals flagged as initial states standing in
            (``initial`` of :meth:`build_many`) with
            :meth:`PromptTemplate.for_initial_goal`.
        canonical_form: which canonical form (2, the current one, or 1 for
            models trained with the earlier form).
        truncation: ``structured`` (drop prefix lines and hypotheses, keep the
            tactic and target) or ``right`` (plain tokenizer truncation, as
            the original LeanProgress did; for comparisons only).
    """

    def __init__(
        self,
        tokenizer: Any,
        template: PromptTemplate | None = None,
        max_length: int = 512,
        normalize: bool = True,
        truncation: str = "structured",
        canonicalize: bool = False,
        mark_initial: bool = False,
        canonical_form: int = CANONICAL_FORM,
    ):
        if truncation not in TRUNCATIONS:
            raise ValueError(f"truncation must be one of {TRUNCATIONS}, got {truncation!r}")
        if max_length < 16:
            raise ValueError(f"max_length must be at least 16 tokens, got {max_length}")
        self.tokenizer = tokenizer
        self.template = template or PromptTemplate()
        self.max_length = max_length
        self.normalize = normalize
        self.truncation = truncation
        self.canonicalize = canonicalize
        self.mark_initial = mark_initial
        self.initial_template = self.template.for_initial_goal()
        if canonical_form not in CANONICAL_FORMS:
            raise ValueError(f"canonical_form must be one of {CANONICAL_FORMS}, got {canonical_form!r}")
        self.canonical_form = canonical_form
        self._normalizer = LeanTextNormalizer(tokenizer) if normalize else None
        # Counting tokens of over-long text is the point here; mark the HF
        # "sequence longer than maximum" warning as already shown.
        warned = getattr(tokenizer, "deprecation_warnings", None)
        if isinstance(warned, dict):
            warned["sequence-length-is-longer-than-the-specified-maximum"] = True
        self._overhead = self._count([self.template.format("", "", "")], special=True)[0]
        self._initial_overhead = self._count([self.initial_template.format("", "", "")], special=True)[0]

    def _norm(self, text: str) -> str:
        return self._normalizer(text) if self._normalizer else text

    def _count(self, texts: Sequence[str], special: bool = False) -> list[int]:
        if not texts:
            return []
        return [len(ids) for ids in self.tokenizer(list(texts), add_special_tokens=special)["input_ids"]]

    def build(self, goal: str, tactic: str, prefix: str = "", initial: bool = False) -> str:
        """One prompt string, normalized and fitted to ``max_length``."""
        return self.build_many([goal], [tactic], [prefix], [initial])[0]

    def build_many(
        self, goals: Sequence[str], tactics: Sequence[str], prefixes: Sequence[str] | None = None,
        initial: Sequence[bool] | None = None,
    ) -> list[str]:
        """Prompt strings for parallel lists of goals, tactics and prefixes.

        Candidates that share a goal and prefix (the candidates of one proof
        state) share the work on them: the goal and prefix are normalized,
        split and token-counted once per distinct pair, and only each
        tactic is handled per candidate. The result is the same as building
        every prompt on its own. ``initial`` flags the rows whose goal is
        the initial state standing in (laid out differently only with
        ``mark_initial``).
        """
        keys, shared = self._states(goals, tactics, prefixes, initial)
        texts = [shared[k].template.format(shared[k].goal, self._norm(t), shared[k].prefix)
                 for k, t in zip(keys, tactics)]
        if self.truncation == "right":
            return texts
        # A state shared by many candidates whose goal and prefix alone are far over the budget needs fitting
        # whatever the tactic: skip counting each full (possibly huge) prompt.
        for key, sh in shared.items():
            if sh.members > 1:
                base = self._count([sh.template.format(sh.goal, "", sh.prefix)], special=True)[0]
                sh.surely_over = base > self.max_length + _COUNT_SLACK
        to_count = [i for i, k in enumerate(keys) if not shared[k].surely_over]
        lengths = dict(zip(to_count, self._count([texts[i] for i in to_count], special=True)))
        for i, key in enumerate(keys):
            if shared[key].surely_over or lengths[i] > self.max_length:
                texts[i] = self._fit(key[0], tactics[i], key[1], shared[key])
        return texts

    def _states(self, goals, tactics, prefixes, initial) -> tuple[list[tuple[str, str, bool]], dict]:
        """Each record's state key (canonical goal, prefix, initial flag) and the :class:`_Shared` work of each
        distinct key (normalized goal and prefix, the template that lays it out)."""
        if prefixes is None:
            prefixes = [""] * len(goals)
        if initial is None or not self.mark_initial:
            initial = [False] * len(goals)
        if not (len(goals) == len(tactics) == len(prefixes) == len(initial)):
            raise ValueError(
                f"goals, tactics, prefixes and initial flags differ in length: {len(goals)}, {len(tactics)}, "
                f"{len(prefixes)}, {len(initial)}"
            )
        if self.canonicalize:  # once per distinct goal: the candidates of a state share it
            canonical = {g: canonical_state(g, self.canonical_form) for g in dict.fromkeys(goals)}
            goals = [canonical[g] for g in goals]
        shared: dict[tuple[str, str, bool], _Shared] = {}
        keys = [(g, p or "", bool(m)) for g, p, m in zip(goals, prefixes, initial)]
        for key in keys:
            if key in shared:
                shared[key].members += 1
            else:
                template, overhead = ((self.initial_template, self._initial_overhead) if key[2]
                                      else (self.template, self._overhead))
                shared[key] = _Shared(self._norm(key[0]), self._norm(key[1]), template, overhead)
        return keys, shared

    @property
    def segment_length(self) -> int:
        """Tokens a candidate's segment may take in the group layout (special tokens included): half of
        ``max_length``, the most the cross-encoder layout leaves a tactic."""
        return self.max_length // 2

    def build_groups(
        self, goals: Sequence[str], tactics: Sequence[str], prefixes: Sequence[str] | None = None,
        initial: Sequence[bool] | None = None,
    ) -> GroupedPrompts:
        """Records laid out for a ``group``-kind model: one context per distinct (goal, prefix, initial flag),
        one segment per record (see the module doc). Arguments as for :meth:`build_many`.

        The context is the template up to ``{tactic}``, fitted on its own into ``max_length`` tokens by the
        structured truncation (the same drop order as :meth:`build_many`); the segment is the normalized tactic
        and the template's text after ``{tactic}``, the tactic cut (keeping its head) where the segment would
        exceed :attr:`segment_length`. Both depend on their own record only, whatever else is in the batch.

        Example:
            >>> from transformers import AutoTokenizer                          # doctest: +SKIP
            >>> b = PromptBuilder(AutoTokenizer.from_pretrained(path))          # doctest: +SKIP
            >>> g = b.build_groups(["⊢ p", "⊢ p"], ["simp", "rfl"])             # doctest: +SKIP
            >>> g.contexts, g.group_of, g.segments                              # doctest: +SKIP
            (['Goal:\\n|- p\\n\\nPrefix:\\n\\n\\nCandidate tactic:\\n'], [0, 0], ['simp', 'rfl'])
        """
        if self.truncation != "structured":
            raise ValueError("the group layout fits contexts structurally; truncation='right' is for the "
                             "cross-encoder only")
        self.template.check_splits_at_tactic()
        keys, shared = self._states(goals, tactics, prefixes, initial)
        index: dict[Hashable, int] = {key: i for i, key in enumerate(shared)}
        contexts = [self._context(key, sh) for key, sh in shared.items()]
        return GroupedPrompts(contexts, [index[k] for k in keys], self._segments(tactics))

    def _context(self, key: tuple[str, str, bool], sh: "_Shared") -> str:
        """The template up to ``{tactic}`` for one state, fitted into ``max_length`` tokens."""
        head = sh.template.split_at_tactic(sh.goal, sh.prefix)[0]
        if self._count([head], special=True)[0] <= self.max_length:
            return head
        budget = self.max_length - self._count([sh.template.split_at_tactic()[0]], special=True)[0]
        for _ in range(4):
            head = sh.template.split_at_tactic(*self._fit_goal_and_prefix(key[0], key[1], budget, sh))[0]
            excess = self._count([head], special=True)[0] - self.max_length
            if excess <= 0:
                break
            budget -= excess  # per-line counts were an estimate (see _fit)
        return head

    def _segments(self, tactics: Sequence[str]) -> list[str]:
        """Each tactic with the template's text after ``{tactic}``, cut to :attr:`segment_length` tokens."""
        tail = self.template.split_at_tactic()[1]
        texts = [self._norm(t) + tail for t in tactics]
        room = self.segment_length
        for i, n in enumerate(self._count(texts, special=True)):
            keep = room - self._count([tail], special=True)[0]
            for _ in range(4):
                if n <= room:
                    break
                texts[i] = self._cut_tokens(self._norm(tactics[i]), keep, keep_tail=False) + tail
                n = self._count([texts[i]], special=True)[0]
                keep -= max(n - room, 0)  # the "..." and re-joined word pieces may count differently
        return texts

    def _fit(self, goal: str, tactic: str, prefix: str, shared: "_Shared | None" = None) -> str:
        shared = shared or _Shared(self._norm(goal), self._norm(prefix), self.template, self._overhead)
        budget = self.max_length - shared.overhead
        for _ in range(4):
            text = self._fit_to(goal, tactic, prefix, budget, shared)
            excess = self._count([text], special=True)[0] - self.max_length
            if excess <= 0:
                return text
            # Per-line counts are an estimate for tokenizers that merge across
            # line breaks; shrink the budget by what was missed and refit.
            budget -= excess
        return text

    def _fit_to(self, goal: str, tactic: str, prefix: str, budget: int, shared: "_Shared") -> str:
        tactic_n = self._norm(tactic)
        tactic_cost = self._count([tactic_n])[0]
        if tactic_cost > budget // 2:
            tactic_n = self._cut_tokens(tactic_n, budget // 2, keep_tail=False)
            tactic_cost = budget // 2
        budget -= tactic_cost
        # What is left of goal and prefix depends on the tactic only through its cost: fitted once per budget.
        if budget not in shared.fitted:
            shared.fitted[budget] = self._fit_goal_and_prefix(goal, prefix, budget, shared)
        goal_text, prefix_text = shared.fitted[budget]
        return shared.template.format(goal=goal_text, tactic=tactic_n, prefix=prefix_text)

    def _fit_goal_and_prefix(self, goal: str, prefix: str, budget: int, shared: "_Shared") -> tuple[str, str]:
        if shared.lines is None:  # once per goal and prefix, whatever the number of candidates
            parts = split_goal(goal)
            prefix_lines = prefix.split("\n") if (prefix and shared.template.uses_prefix) else []
            groups = [prefix_lines, parts.head, parts.hyps, parts.target, parts.rest]
            normed = [[self._norm(l) for l in g] for g in groups]
            flat = [l for g in normed for l in g]
            costs_flat = self._count(flat)
            costs, k = [], 0
            for g in normed:
                costs.append(costs_flat[k : k + len(g)])
                k += len(g)
            shared.lines, shared.costs = normed, costs
            shared.markers = tuple(self._count([ELLIPSIS, _prefix_marker(len(prefix_lines))]))
            # Drop order: oldest prefix lines, later goals (last first), then
            # hypotheses from the middle outwards.
            n = len(parts.hyps)
            order = [(0, i) for i in range(len(prefix_lines))]
            order += [(4, i) for i in reversed(range(len(parts.rest)))]
            order += [(2, i) for i in sorted(range(n), key=lambda i: (abs(i - (n - 1) / 2), -i))]
            shared.order = order
        normed, costs = shared.lines, shared.costs
        marker, prefix_marker = shared.markers
        kept = [[True] * len(g) for g in normed]
        # Tokens used: the lines kept plus one marker for each group that lost a line.
        current = sum(sum(cs) for cs in costs)
        shortened: set[int] = set()
        for g, i in shared.order:
            if current <= budget:
                break
            if g not in shortened:
                shortened.add(g)
                current += prefix_marker if g == 0 else marker
            kept[g][i] = False
            current -= costs[g][i]

        def render(g: int) -> str:
            out, gap = [], False
            # How far the proof has come is a strong cue for how far it has
            # to go: dropped prefix lines leave their count behind.
            dropped = _prefix_marker(kept[0].count(False)) if g == 0 else ELLIPSIS
            for line, keep in zip(normed[g], kept[g]):
                if keep:
                    out.append(line)
                    gap = False
                elif not gap:
                    out.append(dropped)
                    gap = True
            return "\n".join(out)

        target = render(3)
        if current > budget:  # the target alone is too long: keep its head and tail
            target_budget = max(8, budget - (current - sum(costs[3])))
            if shared.target_tokens is None:
                shared.target_tokens = self.tokenizer.tokenize(target)
            target = self._cut_tokens(target, target_budget, keep_tail=True, tokens=shared.target_tokens)
        goal_text = "\n".join(x for x in (render(1), render(2), target, render(4)) if x)
        return goal_text, render(0)

    def _cut_tokens(self, text: str, n_tokens: int, keep_tail: bool, tokens: list[str] | None = None) -> str:
        tokens = self.tokenizer.tokenize(text) if tokens is None else tokens
        if len(tokens) <= n_tokens:
            return text
        convert = self.tokenizer.convert_tokens_to_string
        if not keep_tail:
            return convert(tokens[: max(1, n_tokens - 1)]) + " " + ELLIPSIS
        head = max(1, (n_tokens - 1) // 2)
        tail = max(1, n_tokens - 1 - head)
        return convert(tokens[:head]) + " " + ELLIPSIS + " " + convert(tokens[-tail:])

    def encode(self, texts: Sequence[str], padding: bool | str = False, return_tensors: str | None = None):
        """Tokenize prompt strings from :meth:`build_many` (with a safety truncation)."""
        return self.tokenizer(
            list(texts),
            truncation=True,
            max_length=self.max_length,
            padding=padding,
            return_tensors=return_tensors,
        )


def count_mismatch(n: int, item: str, **given: int | None) -> str:
    """What to say when lists given per ``item`` do not have ``n`` entries; ``None`` marks an argument given once
    for all (or not at all), which is not mentioned.

    Example:
        >>> count_mismatch(1, "completion", states=2, prefixes=None)
        '2 states for 1 completion: give one for all, or one per completion'
    """
    def counted(name: str, k: int) -> str:  # "1 prefix", "2 prefixes"
        return f"{k} {name if k != 1 else name[:-2] if name.endswith('xes') else name[:-1]}"

    counts = " and ".join(counted(name, k) for name, k in given.items() if k is not None)
    per = f"{item}s" if n != 1 else item
    return f"{counts} for {n} {per}: give one for all, or one per {item}"
