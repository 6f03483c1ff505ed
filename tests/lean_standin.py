"""A stand-in for the Lean process, speaking the real protocols, so that tests run the real lean_interact and
lean_dojo packages end to end without a Lean toolchain.

Run as ``lake``: ``lake env <repl-dir>/.lake/build/bin/repl`` (how ``lean_interact.LeanServer`` starts the REPL)
answers the Lean REPL's JSON protocol on stdin/stdout (commands with ``env``/``sorries``/``messages``, proof steps
with ``proofState``/``goals``/``proofStatus``, ``{"message": ...}`` errors), as documented in
leanprover-community/repl (REPL/JSON.lean, REPL/Main.lean, test/*.expected.out). ``lake env lean ... FILE.lean``
(how ``lean_dojo`` runs Lean) answers LeanDojo's ``REPL> {json}`` tactic protocol when the file holds
``lean_dojo_repl`` (lean_dojo/interaction/Lean4Repl.lean), and otherwise compiles the file's theorem proof,
printing ``FILE:LINE:COL: error: ...`` diagnostics as ``lean`` does.

The "Lean" behind it knows two theorems and a table of tactics, including the cases that matter for search:

- a failing tactic in the REPL is an ``error`` message plus error recovery: no goals left and status
  ``"Incomplete: contains sorry"`` (which an `if not goals` check mistakes for a proof);
- ``exact?`` that finds nothing is a ``{"message": "Lean error: ..."}``;
- a self-referencing ``exact`` is ``"Error: kernel type check failed: ..."``;
- ``sorry`` is ``"Incomplete: contains sorry"``; ``sleep N`` takes N milliseconds (Lean's own ``sleep`` tactic);
- a tactic that uses ``sorry``, ``admit``, ``stop`` or ``sorryAx`` (the reward hacks) closes the goals it is
  applied to (``refine ... ?_`` leaves the second goal of ``and_swap``), as Lean elaborates them: the REPL lists
  only the ``sorry`` keyword in ``sorries`` (``sorryAx``, ``admit`` and ``stop`` show only in the proof status
  and in the warning "declaration uses `sorry`", the most a gate can count on), and a whole theorem that used
  any of them gets that warning, not an error, and ``sorryAx`` among its axioms;
- Lean's own whitespace is space and line break: a tab, a no-break space or a look-alike letter is an error,
  not the word it resembles;
- ``#print axioms NAME`` after a theorem answers ``'NAME' depends on axioms: [...]`` (an info message):
  ``propext`` for ``simp``, ``sorryAx`` for a hack, the compiler's axioms for ``native_decide``, and
  ``trust_me`` for ``exact trust_me p q hp hq`` (an axiom a header could declare);
- ``two_add_two`` states something false (``2 + 2 = 5``): ``decide`` and every other tactic fail on it;
- ``omega`` closes ``add_zero'`` step by step but the whole-proof check rejects it: it stands for
  the cases the final check exists for (a step accepted by the REPL that the kernel or a fresh elaboration of
  the file rejects).

Proof-state and environment numbers count from 0 in every process, as in the REPL, so numbers from before a
restart name other states (or none) afterwards.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
import time
from pathlib import Path

AND_STATEMENT = "theorem and_swap (p q : Prop) (hp : p) (hq : q) : p ∧ q"
AND_START = "p q : Prop\nhp : p\nhq : q\n⊢ p ∧ q"
AND_LEFT = "case left\np q : Prop\nhp : p\nhq : q\n⊢ p"
AND_RIGHT = "case right\np q : Prop\nhp : p\nhq : q\n⊢ q"
ADD_STATEMENT = "theorem add_zero' (n : ℕ) : n + 0 = n"
ADD_START = "n : ℕ\n⊢ n + 0 = n"

FALSE_STATEMENT = "theorem two_add_two : 2 + 2 = 5"
FALSE_START = "⊢ 2 + 2 = 5"

STATEMENTS = {"and_swap": (AND_STATEMENT, AND_START), "add_zero'": (ADD_STATEMENT, ADD_START),
              "two_add_two": (FALSE_STATEMENT, FALSE_START)}

# (goals before) -> tactic -> outcome: a tuple of goals, or (kind, text) for the failures.
MOVES: dict[tuple[str, ...], dict[str, object]] = {
    (AND_START,): {
        "constructor": (AND_LEFT, AND_RIGHT),
        "exact ⟨hp, hq⟩": (),
        "simp": ("error", "simp made no progress"),
        "exact?": ("lean_error", "`exact?` could not close the goal. Try `apply?` to see partial suggestions."),
        "exact and_swap p q hp hq": ("kernel", "(kernel) declaration has free variables '[anonymous]'"),
        "exact trust_me p q hp hq": (),
    },
    (AND_LEFT, AND_RIGHT): {"exact hp": (AND_RIGHT,), "exact hq": ("error", "type mismatch\n  hq\nhas type\n  q")},
    (AND_RIGHT,): {"exact hq": ()},
    (ADD_START,): {"simp": (), "rfl": (), "omega": (), "native_decide": (), "decide +native": ()},
    (FALSE_START,): {
        "decide": ("error", "decide failed: the proposition\n  2 + 2 = 5\nis false"),
        "norm_num": ("error", "norm_num failed to prove the goal"),
        "rfl": ("error", "The rfl tactic failed: 2 + 2 = 5 is not definitionally true"),
        "native_decide": ("error", "native_decide evaluated that the proposition\n  2 + 2 = 5\nis false"),
    },
}
REJECTED_AS_A_WHOLE = {"omega": "(kernel) deep recursion detected"}
AXIOMS = {"simp": ["propext"], "decide +native": ["Lean.ofReduceBool", "Lean.trustCompiler"],
          "native_decide": ["Lean.ofReduceBool", "Lean.trustCompiler"],
          "exact trust_me p q hp hq": ["trust_me"]}
"""Axioms a tactic brings into a proof (``#print axioms``); none for the others."""

_SORRY_KEYWORD = re.compile(r"(?<![\w.'!?])sorry(?![\w'!?])")
_SORRY_LIKE = re.compile(r"(?<![\w'!?])(sorry|admit|stop|sorryAx|«sorryAx»)(?![\w'!?])")


def sorry_use(tactic: str) -> str | None:
    """How a tactic uses sorry, as Lean reads it (ASCII words only): ``keyword`` (the ``sorry`` keyword, which
    the REPL lists in ``sorries``), ``hidden`` (``admit``, ``stop``, ``sorryAx``: only the proof status and the
    declaration's warning show it) or None."""
    if _SORRY_KEYWORD.search(tactic):
        return "keyword"
    return "hidden" if _SORRY_LIKE.search(tactic) else None


def after_sorry(goals: tuple[str, ...], tactic: str) -> tuple[str, ...]:
    """The goals a sorry-using tactic leaves: none, but ``refine ... ?_`` leaves the last goal of and_swap."""
    if "?_" in tactic and goals == (AND_START,):
        return (AND_RIGHT,)
    return ()


def step(goals: tuple[str, ...], tactic: str) -> tuple[str, object]:
    """('goals', tuple) or (failure kind, message) for one tactic."""
    odd = re.search(r"[^\S \n]", tactic)
    if odd:  # Lean's whitespace is space and line break only
        return "error", f"unexpected token; {odd.group()!r} is not whitespace in Lean"
    tactic = " ".join(tactic.split())
    if sorry_use(tactic):
        return "goals", after_sorry(goals, tactic)
    m = re.fullmatch(r"sleep (\d+)", tactic)
    if m:
        time.sleep(int(m.group(1)) / 1000)
        return "goals", goals
    out = MOVES.get(goals, {}).get(tactic)
    if out is None:
        return "error", f"unknown tactic '{tactic}'" if " " not in tactic else f"tactic '{tactic}' failed"
    if isinstance(out, tuple) and len(out) == 2 and out[0] in ("error", "lean_error", "kernel"):
        return out
    return "goals", out


def _theorem_name(text: str) -> str | None:
    m = re.search(r"theorem\s+(\S+)", text)
    return m.group(1) if m else None


def _block_tactics(lines: list[str], first: int) -> list[tuple[int, str]]:
    """(1-based line, tactic) of an indented `by` block starting at 0-based line ``first``."""
    out: list[tuple[int, str]] = []
    for i in range(first, len(lines)):
        line = lines[i]
        if not line.strip():
            continue
        if not line.startswith("  "):
            break
        if line.startswith("   ") and out:  # continuation of a multi-line tactic
            out[-1] = (out[-1][0], out[-1][1] + "\n" + line[2:])
        else:
            out.append((i + 1, line[2:]))
    return out


def elaborate(text: str) -> dict:
    """The Lean REPL's answer to a command holding a theorem with a `by` block (and maybe ``#print axioms``):
    ``{"messages": [...], "sorries": [...]}`` with 1-based lines of ``text``, as Lean elaborates it (the first
    error of the block ends it; ``all_goals sorry`` closes what is left, listed in ``sorries``)."""
    lines = text.split("\n")
    head = next((i for i, l in enumerate(lines) if l.startswith("theorem")), None)
    name = _theorem_name(lines[head]) if head is not None else None
    messages: list[dict] = []
    sorries: list[dict] = []

    def message(line: int, column: int, severity: str, data: str) -> None:
        messages.append({"severity": severity, "pos": _pos(line, column), "endPos": _pos(line, column + 1),
                         "data": data})

    if name not in STATEMENTS:
        message((head or 0) + 1, 8, "error", f"unknown identifier '{name}'")
        return {"messages": messages}
    statement, start = STATEMENTS[name]
    header = " ".join(lines[head].split())
    for tail in (":= by", ":=by"):
        if header.endswith(tail):
            header = header[: -len(tail)].rstrip()
    if header != " ".join(statement.split()):
        message(head + 1, 0, "error", "type mismatch with the theorem's statement")
        return {"messages": messages}
    goals: tuple[str, ...] = (start,)
    failed, used_sorry, axioms = False, False, []
    block = _block_tactics(lines, head + 1)
    for line, tactic in block:
        plain = " ".join(tactic.split())
        if plain == "all_goals sorry":
            sorries += [{"proofState": k, "pos": _pos(line, 12), "goal": g, "endPos": _pos(line, 17)}
                        for k, g in enumerate(goals)]
            used_sorry |= bool(goals)
            goals = ()
            continue
        if plain in REJECTED_AS_A_WHOLE:
            message(line, 2, "error", REJECTED_AS_A_WHOLE[plain])
            failed = True
            break
        use = sorry_use(tactic) if step(goals, tactic)[0] == "goals" else None
        kind, out = step(goals, tactic)
        if kind != "goals":
            message(line, 2, "error", str(out))
            failed = True
            break
        if use == "keyword":
            sorries += [{"proofState": k, "pos": _pos(line, 2), "goal": g, "endPos": _pos(line, 2 + len(tactic))}
                        for k, g in enumerate(goals) if g not in out]
        used_sorry |= use is not None
        axioms += [a for a in AXIOMS.get(plain, []) if a not in axioms]
        goals = out
    if not failed and goals:
        message(head + 1, len(lines[head]) - 2, "error", "unsolved goals\n" + "\n\n".join(goals))
        failed = True
    if used_sorry and not failed:
        message(head + 1, 8, "warning", "declaration uses `sorry`")
    if failed or used_sorry:
        axioms.append("sorryAx")  # Lean adds a theorem whose proof failed with sorryAx in its place
    end = block[-1][0] if block else head + 1
    for i in range(end, len(lines)):
        m = re.fullmatch(r"#print axioms (\S+)", lines[i].strip())
        if m and m.group(1) == name:
            message(i + 1, 0, "info", f"'{name}' depends on axioms: [{', '.join(axioms)}]" if axioms
                    else f"'{name}' does not depend on any axioms")
        elif m:
            message(i + 1, 15, "error", f"unknown constant '{m.group(1)}'")
    answer: dict = {}
    if sorries:
        answer["sorries"] = sorries
    if messages:
        answer["messages"] = messages
    return answer


def check_source(text: str) -> list[tuple[int, int, str, str]]:
    """Diagnostics (line, column, severity, message) for a theorem with a `by` block, as ``lean`` prints them."""
    return [(m["pos"]["line"], m["pos"]["column"], m["severity"], m["data"].replace("`sorry`", "'sorry'"))
            for m in elaborate(text).get("messages", [])]


# ---------------------------------------------------------------- the Lean REPL (lean_interact)
def _pos(line: int, column: int) -> dict:
    return {"line": line, "column": column}


def run_repl() -> None:
    envs: list[str] = []
    states: list[tuple[str, ...]] = []
    tainted: set[int] = set()  # proof states whose proof term holds a sorry
    out = sys.stdout
    while True:
        lines = []
        while True:
            line = sys.stdin.readline()
            if not line:
                return
            if not line.strip():
                break
            lines.append(line)
        if not lines:
            continue
        query = json.loads("".join(lines))
        if "tactic" in query:
            answer = _proof_step(query, states, tainted)
        else:
            answer = _command(query, envs, states)
        out.write(json.dumps(answer, ensure_ascii=False) + "\n\n")
        out.flush()


def _command(query: dict, envs: list[str], states: list) -> dict:
    cmd, env = query["cmd"], query.get("env")
    if env is not None and not 0 <= env < len(envs):
        return {"message": "Unknown environment."}
    envs.append(cmd)
    new_env = len(envs) - 1
    name = _theorem_name(cmd)
    if name is None:
        return {"env": new_env}
    if name not in STATEMENTS or env is None:
        return {"env": new_env, "messages": [
            {"severity": "error", "pos": _pos(1, 8), "endPos": _pos(1, 8 + len(name)),
             "data": f"unknown identifier '{name}'"}]}
    statement, start = STATEMENTS[name]
    if cmd.rstrip().endswith(":= by sorry"):
        if " ".join(cmd.split()) != " ".join((statement + " := by sorry").split()):
            return {"env": new_env, "messages": [{"severity": "error", "pos": _pos(1, 0), "endPos": _pos(1, 1),
                                                  "data": "type mismatch with the theorem's statement"}]}
        states.append((start,))
        column = cmd.rindex("sorry")
        return {"env": new_env,
                "sorries": [{"proofState": len(states) - 1, "pos": _pos(1, column), "goal": start,
                             "endPos": _pos(1, column + 5)}],
                "messages": [{"severity": "warning", "pos": _pos(1, 8), "endPos": _pos(1, 8 + len(name)),
                              "data": "declaration uses `sorry`"}]}
    return {"env": new_env, **elaborate(cmd)}


def _proof_step(query: dict, states: list, tainted: set) -> dict:
    sid = query["proofState"]
    if not 0 <= sid < len(states):
        return {"message": "Unknown proof state."}
    tactic = query["tactic"]
    kind, out = step(states[sid], tactic)
    if kind == "lean_error":
        return {"message": "Lean error:\n" + str(out)}
    if kind == "goals":
        states.append(out)
        use = sorry_use(tactic)
        if use or sid in tainted:  # the proof term holds a sorry from here on
            tainted.add(len(states) - 1)
        status = ("Incomplete: open goals remain" if out else
                  "Incomplete: contains sorry" if len(states) - 1 in tainted else "Completed")
        answer = {"proofStatus": status, "proofState": len(states) - 1, "goals": list(out)}
        if use == "keyword":
            answer["sorries"] = [{"proofState": None, "pos": _pos(1, 0), "goal": g, "endPos": _pos(1, len(tactic))}
                                 for g in states[sid] if g not in out]
        return answer
    states.append(())
    answer: dict = {"proofState": len(states) - 1, "goals": []}
    if kind == "error":  # Lean's error recovery closes the goal with a sorry
        answer["messages"] = [{"severity": "error", "pos": _pos(0, 0), "endPos": _pos(0, 0), "data": str(out)}]
        answer["proofStatus"] = "Incomplete: contains sorry"
    elif kind == "kernel":
        answer["proofStatus"] = f"Error: kernel type check failed: {out}"
    else:
        answer["proofStatus"] = "Incomplete: contains sorry"
    return answer


# ---------------------------------------------------------------- lean on a file (lean_dojo)
def _dojo_print(obj: dict) -> None:
    sys.stdout.write("REPL> " + json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def run_dojo(text: str) -> int:
    name = _theorem_name(text.split("lean_dojo_repl")[0].rsplit("set_option maxHeartbeats 0 in", 1)[-1])
    if name not in STATEMENTS:
        sys.stdout.write(f"error: unknown theorem {name}\n")
        return 1
    states: list[tuple[str, ...]] = [(STATEMENTS[name][1],)]
    _dojo_print({"sid": 0, "tacticState": STATEMENTS[name][1], "error": None})
    for line in sys.stdin:
        line = line.strip()
        if line == "exit":
            return 0
        if not line:
            continue
        req = json.loads(line)
        if not 0 <= req["sid"] < len(states):
            sys.stdout.write(f"[fatal] unknown tsid: {req['sid']}\n")
            return 1
        kind, out = step(states[req["sid"]], req["cmd"])
        if kind == "goals" and sorry_use(req["cmd"]):  # LeanDojo's REPL gives up on a proof that uses sorry
            kind = "sorry"
        if kind in ("error", "lean_error"):
            _dojo_print({"sid": None, "tacticState": None, "error": str(out)})
        elif kind == "kernel":
            _dojo_print({"sid": None, "tacticState": None, "error": f"kernel type check failed: {out}"})
        elif kind == "sorry":
            _dojo_print({"sid": None, "tacticState": None, "error": "proof contains `sorry`"})
        else:
            states.append(out)
            _dojo_print({"sid": len(states) - 1, "tacticState": "\n\n".join(out) if out else "no goals", "error": None})
    return 0


def run_lean_file(path: str) -> int:
    text = Path(path).read_text(encoding="utf-8")
    if "lean_dojo_repl" in text:
        return run_dojo(text)
    # LeanDojo's check_proof pastes the proof after `set_option maxHeartbeats 0 in`, below the file's earlier code.
    marker = "set_option maxHeartbeats 0 in\n"
    begin = text.index(marker) + len(marker) if marker in text else text.find("theorem")
    begin = max(begin, 0)
    diagnostics = check_source(text[begin:])
    offset = text[:begin].count("\n")
    failed = False
    for line, col, sev, msg in diagnostics:
        sys.stdout.write(f"{path}:{line + offset}:{col}: {sev}: {msg}\n")
        failed |= sev == "error"
    return 1 if failed else 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["--version"]:
        print("Lake version 5.0.0 (Lean version 4.19.0) [lean_standin]")
        return 0
    if argv[:1] != ["env"] or len(argv) < 2:
        print(f"lean_standin: unsupported lake call {argv}", file=sys.stderr)
        return 2
    if argv[1].endswith("repl"):
        run_repl()
        return 0
    if Path(argv[1]).name == "lean":
        return run_lean_file(argv[-1])
    print(f"lean_standin: unsupported program {argv[1]}", file=sys.stderr)
    return 2


def install_lake(folder: Path) -> Path:
    """Write an executable ``lake`` into ``folder`` that runs this stand-in; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    lake = folder / "lake"
    lake.write_text(f"#!/bin/sh\nexec {sys.executable} {Path(__file__).resolve()} \"$@\"\n", encoding="utf-8")
    lake.chmod(lake.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return lake


def make_repl_dir(folder: Path) -> Path:
    """A local REPL folder as ``LeanREPLConfig(local_repl_path=...)`` expects (a ``lean-toolchain`` file)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lean-toolchain").write_text("leanprover/lean4:v4.19.0\n", encoding="utf-8")
    return folder


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
