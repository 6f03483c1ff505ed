"""Records from LeanDojo traced theorems (LeanDojo Benchmark 4 layout).

The input is a JSON list of theorems::

    [{"full_name": "Nat.succ_le_of_lt", "file_path": "Mathlib/...",
      "traced_tactics": [{"tactic": "...", "state_before": "...", "state_after": "..."}, ...]}, ...]

For a theorem with ``n`` traced tactics, step ``i`` becomes the record
``goal = state_before_i``, ``prefix`` = tactics ``0..i-1`` one a line,
``tactic = tactic_i``, ``steps_remaining = n - 1 - i``: the number of
tactics LeanDojo lists after this one.

LeanDojo's list is not in source order, nor in the order Lean runs the
tactics. It walks the syntax tree and, at each tactic sequence, lists the
sequence's own tactics before the tactics of the blocks nested in them (see
:mod:`leanprogress.lean.syntax`). For the proof::

    obtain ⟨x, hx⟩ : ∃ x, p x := by
      use 1
      simp
    rcases hx with h | h
    exact foo h

the list is ``obtain ...`` (its text includes its block), ``rcases ...``,
``exact foo h``, ``use 1``, ``simp``. So, exactly:

- ``steps_remaining`` of a step is the number of tactics listed after it:
  ``rcases`` gets 3 (``exact``, ``use``, ``simp``) although only ``exact``
  follows it in the source, and ``use 1`` gets 1;
- ``prefix`` of a step is every tactic listed before it, in list order: for
  ``use 1`` it is ``obtain ...``, ``rcases ...``, ``exact foo h``, outer
  tactics that come after it in the source included;
- ``goal`` is the real state before the tactic ran (for ``use 1``: the goal
  ``∃ x, p x`` of the ``obtain``).

Part of the shared Mathlib sample is listed out of source order (e.g.
``MeasureTheory.Measure.InnerRegular.measurableSet_of_open``, whose step 8
``use (μ s - r) / 2`` belongs to step 1's ``obtain``; how many, in
docs/benchmarks.md). Whole proofs are listed the same way, so labels are on one
scale across sources.

``order="search"`` counts steps as a step prover applies them instead: only
the tactics not nested in an earlier listed one are kept
(:func:`outer_tactics`, the rule the replay runs proofs by), in the order Lean
ran them (:func:`execution_order`: read from the recorded states, since
LeanDojo lists a ``·`` block's tactics after the tactics that follow the
block), each with its real state, prefix and label counted over the kept
tactics (``steps_remaining`` = kept tactics after it; ``step`` and
``proof_length`` count kept tactics, and ``listed_step`` says where LeanDojo
listed it). A theorem whose states do not chain keeps LeanDojo's listing order
(and is counted). Search traces (one tactic per search step) are unchanged. A
trace cannot keep a ``case inl h =>`` header as the text rule does (LeanDojo
does not list it); its tactics' recorded states name the hypotheses. How many
tactics are kept and reordered on the shared data: docs/benchmarks.md
(``benchmarks/bench_data.py``).

Files are streamed theorem by theorem: a full Mathlib trace is hundreds of
megabytes.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from ..files import check_input_file, iter_text_lines
from ..lean.syntax import list_steps, parse_tactic_block
from .records import normalize_theorem_name

_CHUNK = 1 << 20


class TraceFormatError(ValueError):
    """A LeanDojo file that is not a JSON list of theorem objects."""


class NotATraceList(TraceFormatError):
    """A JSON file whose top level is not a list (e.g. the benchmark's ``metadata.json``)."""


def _open_text(path: Path):
    """The file as text, with a byte-order mark dropped and bad UTF-8 reported with its line."""
    f = path.open(encoding="utf-8-sig")

    def read(n: int) -> str:
        try:
            return f.read(n)
        except UnicodeDecodeError:
            for lineno, _, problem in iter_text_lines(path):
                if problem:
                    raise TraceFormatError(f"{path}:{lineno}: {problem}") from None
            raise TraceFormatError(f"{path}: not valid UTF-8") from None

    return f, read


def iter_json_array(path: str | os.PathLike) -> Iterator[tuple[int, object]]:
    """Stream the elements of a top-level JSON array, with the line each starts on.

    Memory stays at about one element plus a 1 MB read buffer, and a syntax
    error is reported with the line it is on.
    """
    decoder = json.JSONDecoder()
    path = Path(path)
    f, read = _open_text(path)
    with f:
        buf = read(_CHUNK)
        pos, line, eof = 0, 1, False
        base, line_start = 0, 0  # file offsets of buf[0] and of the current line's first character

        def fill() -> bool:
            nonlocal buf, pos, eof, base
            more = read(_CHUNK)
            if not more:
                eof = True
                return False
            base += pos
            buf = buf[pos:] + more
            pos = 0
            return True

        def skip_ws() -> None:
            nonlocal pos, line, line_start
            while True:
                while pos < len(buf) and buf[pos] in " \t\r\n":
                    if buf[pos] == "\n":
                        line, line_start = line + 1, base + pos + 1
                    pos += 1
                if pos < len(buf) or not fill():
                    return

        skip_ws()
        if pos >= len(buf) or buf[pos] != "[":
            raise NotATraceList(f"{path}:{line}: expected a JSON list of theorems")
        pos += 1
        first = True
        while True:
            skip_ws()
            if pos >= len(buf):
                raise TraceFormatError(f"{path}:{line}: file ends inside the list")
            if buf[pos] == "]":
                return
            if not first:
                if buf[pos] != ",":
                    raise TraceFormatError(f"{path}:{line}: expected ',' or ']' between theorems")
                pos += 1
                skip_ws()
            first = False
            while True:
                try:
                    obj, end = decoder.raw_decode(buf, pos)
                    break
                except json.JSONDecodeError as exc:
                    # An error well inside the buffer is in the file; one at its end may be a cut-off element.
                    truncated = exc.pos >= len(buf) - 64 or exc.msg.startswith("Unterminated string")
                    if not truncated or eof or not fill():
                        at = line + buf.count("\n", pos, exc.pos)
                        nl = buf.rfind("\n", pos, exc.pos)
                        column = exc.pos - nl if nl >= 0 else base + exc.pos - line_start + 1
                        raise TraceFormatError(f"{path}:{at}: not valid JSON ({exc.msg} at column {column})") from None
            start_line = line
            newlines = buf.count("\n", pos, end)
            if newlines:
                line, line_start = line + newlines, base + buf.rfind("\n", pos, end) + 1
            pos = end
            yield start_line, obj


def trace_files(path: str | os.PathLike) -> list[Path]:
    """The JSON files to read: ``path`` itself, or every ``*.json`` below a folder."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.json") if p.is_file())
        if not files:
            raise FileNotFoundError(f"no .json files under {path}")
        return files
    return [check_input_file(path, "LeanDojo trace")]


def _norm(text: str) -> str:
    return " ".join(text.split())


def inner_tactics(tactic: str) -> list[str]:
    """The tactics the step rule lists inside one listed tactic's text (its nested blocks, recursively),
    whitespace collapsed.

    Args:
        tactic: the text of one tactic as LeanDojo lists it.

    Example:
        >>> inner_tactics("have h : 0 < 2 := by\\n  norm_num")
        ['norm_num']
    """
    try:
        nodes = parse_tactic_block(tactic)
    except ValueError:  # nested too deeply to read: no tactic is known to sit inside it
        return []
    inner = [node.text for node in nodes[1:]]  # a text the rule splits further: every piece after the first
    for node in nodes:
        for child in node.children:
            inner += list_steps(child)
    return [_norm(t) for t in inner]


def outer_tactics(steps: Sequence[dict]) -> list[int]:
    """For each listed tactic of a LeanDojo trace, the index of the listed tactic it is nested in.

    LeanDojo lists a tactic with its nested blocks (``have h : p := by
    simp``, ``induction n with | zero => rfl | ...``, ``classical simp_rw
    [...]``) and then, later in the list, the tactics of those blocks. A
    tactic not nested in another gets its own index; a nested one the index
    of the outermost listed tactic whose text holds it. Run one after another
    on the goals they act on, the outer tactics are the proof; a nested
    tactic runs only inside its outer tactic (whose ``state_after`` is the
    state after the whole tactic, nested blocks included).

    Which later tactics are nested is read from the text: the step rule
    (:func:`leanprogress.lean.syntax.split_tactic_steps`) lists the tactics
    inside each outer tactic, and each is matched to the first later listed
    tactic with the same text (whitespace aside). One exception keeps flat
    proofs flat: a tactic that starts from exactly the state the previous
    outer tactic produced continues the proof, even when its text also
    occurs inside an earlier tactic (a search's proof ``have h : p := by
    linarith`` then ``linarith``, where LeanDojo recorded only the outer
    tactics).

    Args:
        steps: ``traced_tactics`` of one theorem (``tactic``, ``state_before``,
            ``state_after``).

    Example:
        >>> outer_tactics([
        ...     {"tactic": "classical simp", "state_before": "⊢ p", "state_after": "no goals"},
        ...     {"tactic": "simp", "state_before": "⊢ p", "state_after": "no goals"}])
        [0, 0]
    """
    owner: list[int] = []
    pending: dict[str, list[int]] = {}
    reached: set[str] = set()  # states (and their goals) that outer tactics reach from the start
    for j, step in enumerate(steps):
        before = step["state_before"]
        if j == 0:
            reached.update([before, *split_goals(before)])
        text = _norm(step["tactic"])
        waiting = pending.get(text)
        prev = steps[j - 1] if j else None
        flat = (prev is not None and owner[j - 1] == j - 1 and prev["state_before"] in reached
                and before == prev["state_after"])
        if waiting and not flat:
            owner.append(waiting.pop(0))
            continue
        owner.append(j)
        if before in reached:
            reached.update([step["state_after"], *split_goals(step["state_after"])])
        for inner in inner_tactics(step["tactic"]):
            pending.setdefault(inner, []).append(j)
    return owner


NO_GOALS = "no goals"


def split_goals(state: str) -> list[str]:
    """The goals of a state as LeanDojo prints it (goals are separated by a blank line; ``no goals``: none).

    Example:
        >>> split_goals("case h\\nx : ℕ\\n⊢ x = x\\n\\n⊢ True")
        ['case h\\nx : ℕ\\n⊢ x = x', '⊢ True']
    """
    if state.strip() == NO_GOALS:
        return []
    goals: list[str] = []
    for part in state.split("\n\n"):
        if goals and "⊢" not in part:
            goals[-1] += "\n\n" + part  # a blank line inside a goal's text, not between goals
        else:
            goals.append(part)
    return goals


def join_goals(goals: Sequence[str]) -> str:
    """A state's text from its goals, as LeanDojo prints it (``no goals`` for none)."""
    return "\n\n".join(goals) if goals else NO_GOALS


def first_goals(state: str) -> list[tuple[str, list[str]]]:
    """The focus rule: where a tactic recorded inside a ``·`` block can run from ``state``.

    LeanDojo records a tactic of a ``·`` block (or any focusing block) on the goals the block focuses, not on the
    whole state: its ``state_before`` is the first goals of the state it ran in. This lists, for each way to
    split ``state``, ``(the state of its first k goals, the goals after them)``, longest first (k from all goals
    but one down to 1); the whole state is not listed. Labels (:func:`execution_order`) and the replay
    (:class:`~leanprogress.search.ReplayEnvironment`) both follow it.

    Example:
        >>> first_goals("⊢ p\\n\\n⊢ q\\n\\n⊢ r")
        [('⊢ p\\n\\n⊢ q', ['⊢ r']), ('⊢ p', ['⊢ q', '⊢ r'])]
    """
    goals = split_goals(state)
    return [(join_goals(goals[:k]), goals[k:]) for k in range(len(goals) - 1, 0, -1)]


def execution_order(steps: Sequence[dict], outer: Sequence[int], limit: int = 10_000) -> list[int] | None:
    """The outer tactics of one recorded proof in the order Lean ran them, read from the state chain; None when
    they do not chain.

    LeanDojo lists a sequence's own tactics before those of the ``·`` blocks between them, so for ``constructor``
    / ``· exact hq`` / ``simp`` it lists ``constructor``, ``simp``, ``exact hq``, while Lean runs ``exact hq``
    (on the first goal) before ``simp`` (on the second, closing the proof). The benchmark's traces carry no
    tactic positions, but the states say the order: starting from the first tactic's ``state_before``, the next
    tactic is one recorded from the current state, or from its first goals (:func:`first_goals`, a tactic of a
    ``·`` block), and the state after it is its ``state_after`` followed by the goals it did not see. The order
    that uses every outer tactic once and ends with no goals is returned (a depth-first search, in listing order
    where several tactics were recorded from one state, exploring at most ``limit`` steps).

    None when there is no such order: LeanDojo dropped a tactic that left the printed state unchanged, a term-mode
    proof holds several ``by`` blocks, or a ``case`` block works on a goal other than the first.

    Args:
        steps: ``traced_tactics`` of one theorem.
        outer: the indices of its outer tactics (:func:`outer_tactics`), in listing order.

    Example:
        >>> execution_order([
        ...     {"tactic": "constructor", "state_before": "⊢ p ∧ q", "state_after": "⊢ p\\n\\n⊢ q"},
        ...     {"tactic": "simp", "state_before": "⊢ q", "state_after": "no goals"},
        ...     {"tactic": "exact hp", "state_before": "⊢ p", "state_after": "no goals"}], [0, 1, 2])
        [0, 2, 1]
    """
    if not outer:
        return []

    def moves(state: str, left: tuple[int, ...]) -> Iterator[tuple[int, list[str]]]:
        for before, rest in [(state, []), *first_goals(state)]:
            yield from ((j, rest) for j in left if steps[j]["state_before"] == before)

    start = steps[outer[0]]["state_before"]
    stack = [(tuple(outer), [], moves(start, tuple(outer)))]
    explored = 0
    while stack:
        left, order, options = stack[-1]
        step = next(options, None)
        if step is None:
            stack.pop()
            continue
        explored += 1
        if explored > limit:
            return None
        j, rest = step
        state = join_goals(split_goals(steps[j]["state_after"]) + rest)
        left_now = tuple(k for k in left if k != j)
        if not left_now:
            if state == NO_GOALS:
                return order + [j]
            continue
        stack.append((left_now, order + [j], moves(state, left_now)))
    return None


GOAL_FROM = ("state_before", "state_after")
ORDERS = ("leandojo", "search")


def records_from_theorem(
    theorem: dict, source: str | None = None, where: str = "theorem", goal_from: str = "state_before",
    order: str = "leandojo", stats: "BuildStats | None" = None,
) -> list[dict]:
    """The progress records of one traced theorem (empty if it has no tactics).

    ``goal_from="state_after"`` makes each record read the state the tactic
    produced (same label: tactics still needed after it), for models that
    score states after they are reached, as progress-guided search does.
    Each record carries ``goal_from`` so that a trained model can record
    which kind it read (``prove`` picks its score mode from it).
    ``order="search"`` keeps only the tactics a step prover would apply, in
    the order Lean ran them (see the module docstring); ``stats`` counts the
    theorems whose states do not chain, kept in LeanDojo's listing order.
    """
    if goal_from not in GOAL_FROM:
        raise ValueError(f"goal_from must be one of {GOAL_FROM}, got {goal_from!r}")
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS} for LeanDojo traces, got {order!r}")
    if not isinstance(theorem, dict):
        raise TraceFormatError(f"{where}: expected a theorem object, got {type(theorem).__name__}")
    tactics = theorem.get("traced_tactics")
    if tactics is None:
        raise TraceFormatError(f"{where}: theorem has no 'traced_tactics' key")
    if not isinstance(tactics, list):
        raise TraceFormatError(f"{where}: 'traced_tactics' must be a list")
    name = theorem.get("full_name")
    for i, step in enumerate(tactics):
        if not isinstance(step, dict) or not isinstance(step.get("tactic"), str) or not isinstance(
            step.get(goal_from), str
        ):
            raise TraceFormatError(f"{where} ({name}): traced tactic {i} needs string 'tactic' and {goal_from!r}")
    if order == "leandojo":
        kept = list(range(len(tactics)))
    else:
        bad = next((i for i, t in enumerate(tactics)
                    if not all(isinstance(t.get(k), str) for k in ("state_before", "state_after"))), None)
        if bad is not None:
            raise TraceFormatError(f"{where} ({name}): traced tactic {bad} needs string 'state_before' and "
                                   "'state_after' for the search order")
        kept = [i for i, owner in enumerate(outer_tactics(tactics)) if owner == i]
        # In the order Lean ran them (a `·` block before the tactics after it); where the states do not chain,
        # LeanDojo's listing order stays, and is counted.
        ran = execution_order(tactics, kept)
        if ran is None and kept and stats is not None:
            stats.listing_order += 1
        kept = ran or kept
    n = len(kept)
    out = []
    history: list[str] = []
    for k, i in enumerate(kept):
        step = tactics[i]
        record = {
            "goal": step[goal_from],
            "prefix": "\n".join(history),
            "tactic": step["tactic"],
            "steps_remaining": n - 1 - k,
            "theorem": name,
            "file_path": theorem.get("file_path"),
            "step": k,
            "proof_length": n,
            "goal_from": goal_from,
        }
        if order == "search":
            record["listed_step"] = i
        if source:
            record["source"] = source
        out.append(record)
        history.append(step["tactic"])
    return out


@dataclass
class BuildStats:
    files: int = 0
    theorems: int = 0
    empty_theorems: int = 0
    records: int = 0
    dropped_by_balance: int = 0
    duplicates: int = 0
    duplicate_example: str = ""
    skipped_files: list[str] = field(default_factory=list)
    per_file: dict[str, int] = field(default_factory=dict)
    listing_order: int = 0  # search order: theorems whose states do not chain, kept in LeanDojo's listing order

    def summary(self) -> str:
        lines = [f"LeanDojo: read {self.files} file(s), {self.theorems} theorem(s); "
                 f"skipped {self.empty_theorems} with no tactics"]
        if self.listing_order:
            lines.append(f"  {self.listing_order} theorem(s) in LeanDojo's listing order: their recorded states do "
                         "not chain, so the order Lean ran their tactics in is not known")
        if self.skipped_files:
            lines.append(f"  skipped {len(self.skipped_files)} JSON file(s) that are not lists of theorems "
                         f"(e.g. {self.skipped_files[0]})")
        if self.duplicates:
            lines.append(f"  skipped {self.duplicates} theorem(s) already read with the same trace "
                         f"(e.g. {self.duplicate_example}): each theorem is read once")
        return "\n".join(lines)


def _trace_id(theorem: dict) -> str:
    """What makes two entries the same traced proof: theorem identity and the trace itself."""
    tactics = theorem.get("traced_tactics") or []
    body = json.dumps([normalize_theorem_name(theorem.get("full_name") or ""),
                       [[t.get("tactic"), t.get("state_before"), t.get("state_after")] for t in tactics
                        if isinstance(t, dict)]], ensure_ascii=False)
    return hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest()


def iter_leandojo_records(
    paths: Iterable[str | os.PathLike],
    stats: BuildStats | None = None,
    source: str | Sequence[str] | None = None,
    goal_from: str = "state_before",
    keep: Callable[[str, int], bool] | None = None,
    order: str = "leandojo",
) -> Iterator[dict]:
    """Stream records from LeanDojo files or folders, counting what was read.

    Args:
        paths: JSON files, or folders whose ``*.json`` files are read (a JSON
            file there that is not a list, such as the benchmark's
            ``metadata.json``, is skipped and counted).
        stats: filled with counts as the files are read.
        source: the ``source`` of every record, or one name per path.
        goal_from: ``state_before`` or ``state_after`` (see :func:`records_from_theorem`).
        keep: ``keep(theorem key, proof length)``; theorems it rejects are
            skipped and counted (length balancing, streamed).
        order: ``leandojo`` (every listed tactic) or ``search`` (the tactics a
            step prover applies, see :func:`records_from_theorem`).

    A theorem entry identical to one already read (same theorem and trace:
    ``random/`` and ``novel_premises/`` hold the same theorems) is skipped and
    counted; different proofs of one theorem are all kept.
    """
    stats = stats if stats is not None else BuildStats()
    paths = list(paths)
    sources = list(source) if isinstance(source, (list, tuple)) else [source] * len(paths)
    seen: set[str] = set()
    for given, src in zip(paths, sources):
        in_folder = Path(given).is_dir()
        for path in trace_files(given):
            try:
                items = iter_json_array(path)
                for line, theorem in items:
                    where = f"{path}:{line}"
                    this = BuildStats()  # counted below once the theorem is kept (not a duplicate)
                    recs = records_from_theorem(theorem, source=src, where=where, goal_from=goal_from, order=order,
                                                stats=this)
                    stats.theorems += 1
                    if not recs:
                        stats.empty_theorems += 1
                        continue
                    tid = _trace_id(theorem)
                    if tid in seen:
                        stats.duplicates += 1
                        stats.duplicate_example = stats.duplicate_example or f"{recs[0]['theorem']} at {where}"
                        continue
                    seen.add(tid)
                    if keep is not None and not keep(normalize_theorem_name(recs[0]["theorem"] or ""), len(recs)):
                        stats.dropped_by_balance += len(recs)
                        continue
                    stats.records += len(recs)
                    stats.listing_order += this.listing_order
                    stats.per_file[str(path)] = stats.per_file.get(str(path), 0) + len(recs)
                    yield from recs
            except NotATraceList:
                if not in_folder:
                    raise
                stats.skipped_files.append(str(path))
                continue
            stats.files += 1
