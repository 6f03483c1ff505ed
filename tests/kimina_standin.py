"""A stand-in Kimina Lean Server: ``POST /api/check`` answered as the Kimina server answers it, over the Lean
stand-in's theorems and tactics (tests/lean_standin.py).

Read from project-numina/kimina-lean-server at commit fb2393de: server/routers/check.py (a ``CheckResponse`` of one
``ReplResponse`` per snippet: ``response`` is the REPL's answer, positions counted in the whole snippet; a timeout
is ``error: "Lean REPL command timed out in N seconds"``), server/auth.py (``Authorization: Bearer KEY``; 401
"Missing API key" / "Invalid API key"). REPL answers as in leanprover-community/repl's test/*.expected.out:
``messages`` with severity/pos/endPos/data, ``sorries`` with proofState/pos/goal/endPos, "declaration uses `sorry`"
as a warning; the first error of a tactic block ends its elaboration.
"""

import re

from fastapi import FastAPI, Header, HTTPException

import lean_standin as S


def kimina_standin(api_key=None):
    """/api/check as the Kimina Lean Server answers it, over the Lean stand-in's theorems and tactics."""
    app = FastAPI()

    @app.post("/api/check")
    def check(body: dict, authorization: str | None = Header(default=None)):
        if api_key is not None:  # server/auth.py
            if not authorization:
                raise HTTPException(401, "Missing API key")
            if authorization.removeprefix("Bearer ").strip() != api_key:
                raise HTTPException(401, "Invalid API key")
        app.state.requests.append(body)
        return {"results": [answer(s["id"], s["code"], body["timeout"]) for s in body["snippets"]]}

    app.state.requests = []
    return app


def answer(snippet_id, code, timeout):
    lines = code.split("\n")
    head = next(i for i, l in enumerate(lines) if l.startswith("theorem"))
    name = re.search(r"theorem\s+(\S+)", lines[head]).group(1)
    if name not in S.STATEMENTS:
        return {"id": snippet_id, "time": 0.1, "response": {"env": 0, "messages": [
            {"severity": "error", "pos": {"line": head + 1, "column": 8}, "endPos": {"line": head + 1, "column": 9},
             "data": f"unknown identifier '{name}'"}]}}
    goals = (S.STATEMENTS[name][1],)
    sorries, messages = [], []
    for line, tactic in S._block_tactics(lines, head + 1):
        pos = {"line": line, "column": 2}
        if tactic.strip() == "all_goals sorry":
            sorries = [{"proofState": k, "pos": pos, "goal": g, "endPos": {"line": line, "column": 17}}
                       for k, g in enumerate(goals)]
            goals = ()
            if sorries:
                messages.append({"severity": "warning", "pos": {"line": head + 1, "column": 8},
                                 "endPos": {"line": head + 1, "column": 9}, "data": "declaration uses `sorry`"})
            break
        if re.fullmatch(r"sleep (\d+)", tactic.strip()):
            return {"id": snippet_id, "time": float(timeout), "error": f"Lean REPL command timed out in {timeout} seconds"}
        kind, out = S.step(goals, tactic)
        if kind != "goals":  # the first error ends the block's elaboration
            messages.append({"severity": "error", "pos": pos, "endPos": {"line": line, "column": 2 + len(tactic)},
                             "data": str(out)})
            return {"id": snippet_id, "time": 0.1, "response": {"env": 0, "messages": messages}}
        goals = out
    response = {"env": 0}
    if sorries:
        response["sorries"] = sorries
    if messages:
        response["messages"] = messages
    return {"id": snippet_id, "time": 0.1, "response": response}
