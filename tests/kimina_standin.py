"""A stand-in Kimina Lean Server: ``POST /api/check`` answered as the Kimina server answers it, over the Lean
stand-in's theorems and tactics (tests/lean_standin.py).

Read from project-numina/kimina-lean-server at commit fb2393de: server/routers/check.py (a ``CheckResponse`` of one
``ReplResponse`` per snippet: ``response`` is the REPL's answer, positions counted in the whole snippet; a timeout
is ``error: "Lean REPL command timed out in N seconds"``), server/auth.py (``Authorization: Bearer KEY``; 401
"Missing API key" / "Invalid API key"). REPL answers as in leanprover-community/repl's test/*.expected.out:
``messages`` with severity/pos/endPos/data, ``sorries`` with proofState/pos/goal/endPos, "declaration uses `sorry`"
as a warning; the first error of a tactic block ends its elaboration. The snippet's header (imports) is part of the
snippet: positions count from its first line, as the server reports them after adding the header's lines back
(server/routers/check.py ``_apply_header_offset``).
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
    """One snippet's ``ReplResponse``: the REPL's answer to the snippet (tests/lean_standin.py's ``elaborate``:
    messages, sorries, ``#print axioms``), or the server's time-out error for a ``sleep`` longer than ``timeout``."""
    for m in re.finditer(r"^\s+sleep (\d+)\s*$", code, re.M):
        if int(m.group(1)) / 1000 > timeout:
            return {"id": snippet_id, "time": float(timeout), "error": f"Lean REPL command timed out in {timeout} seconds"}
    return {"id": snippet_id, "time": 0.1, "response": {"env": 0, **S.elaborate(code)}}
