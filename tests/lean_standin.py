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
- ``native_decide`` closes ``add_zero'`` step by step but the whole-proof check rejects it: it stands for
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

STATEMENTS = {"and_swap": (AND_STATEMENT, AND_START), "add_zero'": (ADD_STATEMENT, ADD_START)}

# (goals before) -> tactic -> outcome: a tuple of goals, or (kind, text) for the failures.
MOVES: dict[tuple[str, ...], dict[str, object]] = {
    (AND_START,): {
        "constructor": (AND_LEFT, AND_RIGHT),
        "exact ⟨hp, hq⟩": (),
        "simp": ("error", "simp made no progress"),
        "exact?": ("lean_error", "`exact?` could not close the goal. Try `apply?` to see partial suggestions."),
        "exact and_swap p q hp hq": ("kernel", "(kernel) declaration has free variables '[anonymous]'"),
        "sorry": ("sorry", ""),
    },
    (AND_LEFT, AND_RIGHT): {"exact hp": (AND_RIGHT,), "exact hq": ("error", "type mismatch\n  hq\nhas type\n  q")},
    (AND_RIGHT,): {"exact hq": ()},
    (ADD_START,): {"simp": (), "rfl": (), "native_decide": ()},
}
REJECTED_AS_A_WHOLE = {"native_decide": "native_decide: the compiled code could not be trusted by the kernel"}


def step(goals: tuple[str, ...], tactic: str) -> tuple[str, object]:
    """('goals', tuple) or (failure kind, message) for one tactic."""
    tactic = " ".join(tactic.split())
    m = re.fullmatch(r"sleep (\d+)", tactic)
    if m:
        time.sleep(int(m.group(1)) / 1000)
        return "goals", goals
    out = MOVES.get(goals, {}).get(tactic)
    if out is None:
        return "error", f"unknown tactic '{tactic}'" if " " not in tactic else f"tactic '{tactic}' failed"
    if isinstance(out, tuple) and len(out) == 2 and out[0] in ("error", "lean_error", "kernel", "sorry"):
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


def check_source(text: str) -> list[tuple[int, int, str, str]]:
    """Diagnostics (line, column, severity, message) for a theorem with a `by` block, as Lean reports them."""
    name = _theorem_name(text)
    if name not in STATEMENTS:
        return [(1, 0, "error", f"unknown theorem {name!r}")]
    statement, start = STATEMENTS[name]
    lines = text.split("\n")
    head = next((i for i, l in enumerate(lines) if l.startswith("theorem")), 0)
    header = " ".join(lines[head].split())
    for tail in (":= by", ":=by"):
        if header.endswith(tail):
            header = header[: -len(tail)].rstrip()
    if header != " ".join(statement.split()):
        return [(head + 1, 0, "error", "type mismatch with the theorem's statement")]
    goals: tuple[str, ...] = (start,)
    for line, tactic in _block_tactics(lines, head + 1):
        if tactic.strip() == "sorry":
            return [(head + 1, 8, "warning", "declaration uses 'sorry'")]
        if tactic.strip() in REJECTED_AS_A_WHOLE:
            return [(line, 2, "error", REJECTED_AS_A_WHOLE[tactic.strip()])]
        kind, out = step(goals, tactic)
        if kind != "goals":
            return [(line, 2, "error", f"{out}")]
        goals = out
    if goals:
        return [(head + 1, len(lines[head]), "error", "unsolved goals\n" + "\n\n".join(goals))]
    return []


# ---------------------------------------------------------------- the Lean REPL (lean_interact)
def _pos(line: int, column: int) -> dict:
    return {"line": line, "column": column}


def run_repl() -> None:
    envs: list[str] = []
    states: list[tuple[str, ...]] = []
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
            answer = _proof_step(query, states)
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
    messages = [{"severity": sev, "pos": _pos(line, col), "endPos": _pos(line, col + 1),
                 "data": msg.replace("'sorry'", "`sorry`")} for line, col, sev, msg in check_source(cmd)]
    answer: dict = {"env": new_env}
    if messages:
        answer["messages"] = messages
    return answer


def _proof_step(query: dict, states: list) -> dict:
    sid = query["proofState"]
    if not 0 <= sid < len(states):
        return {"message": "Unknown proof state."}
    kind, out = step(states[sid], query["tactic"])
    if kind == "lean_error":
        return {"message": "Lean error:\n" + str(out)}
    if kind == "goals":
        states.append(out)
        status = "Completed" if not out else "Incomplete: open goals remain"
        return {"proofStatus": status, "proofState": len(states) - 1, "goals": list(out)}
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
