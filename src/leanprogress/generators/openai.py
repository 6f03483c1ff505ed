"""``openai``: any OpenAI-compatible chat-completions endpoint (vLLM, Ollama, TGI, a hosted service)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..ranking import finite_logprob
from .base import GeneratorError, GeneratorTimeout


@dataclass
class OpenAIGenerator:
    """Any OpenAI-compatible chat-completions endpoint.

    Args:
        base_url: e.g. ``http://127.0.0.1:8000/v1`` (vLLM) or ``http://127.0.0.1:11434/v1`` (Ollama).
        model: the served model's name.
        api_key_env: environment variable holding the API key (optional).
        timeout: seconds before the request counts as timed out (504).
        temperature: sampling temperature.
        system_prompt: instruction sent before the state.

    Asks for ``n`` completions with token log-probabilities; the score of a
    tactic is the sum of its token log-probabilities (0 where the server
    returns none). With a ``prefix`` the model is asked to start with it, and
    only replies that do are returned (whole tactics, prefix included).
    """

    base_url: str
    model: str
    api_key_env: str | None = None
    timeout: float = 60.0
    temperature: float = 0.7
    max_tokens: int = 256
    system_prompt: str = (
        "You are a Lean 4 prover. Given a proof state, reply with exactly one next tactic, no prose, no code fences."
    )
    kind: str = "openai"

    def _payload(self, state: str, prefix: str, n: int) -> dict:
        user = f"Proof state:\n{state}\n\nNext tactic" + (f" (it starts with `{prefix}`)" if prefix else "") + ":"
        return {
            "model": self.model,
            "messages": [{"role": "system", "content": self.system_prompt}, {"role": "user", "content": user}],
            "n": n, "temperature": self.temperature, "max_tokens": self.max_tokens, "logprobs": True,
        }

    def generate(self, state: str, prefix: str = "", n: int = 32) -> list[tuple[str, float]]:
        import httpx

        headers = {}
        if self.api_key_env:
            key = os.environ.get(self.api_key_env)
            if not key:
                raise GeneratorError(f"environment variable {self.api_key_env} (API key) is not set")
            headers["Authorization"] = f"Bearer {key}"
        url = self.base_url.rstrip("/") + "/chat/completions"
        try:
            resp = httpx.post(url, json=self._payload(state, prefix, n), headers=headers, timeout=self.timeout)
        except httpx.TimeoutException:
            raise GeneratorTimeout(f"{url} did not answer within {self.timeout:g}s") from None
        except httpx.HTTPError as exc:
            raise GeneratorError(f"{url}: {type(exc).__name__}: {exc}") from None
        if resp.status_code != 200:
            raise GeneratorError(f"{url} answered {resp.status_code}: {resp.text[:200]}")
        try:
            choices = resp.json()["choices"]
        except (ValueError, KeyError, TypeError):
            raise GeneratorError(f"{url} answered with no 'choices'") from None
        results: dict[str, float] = {}
        for choice in choices:
            tactic = _clean_completion((choice.get("message") or {}).get("content") or "")
            # A chat model may ignore the prefix it was asked to start with; such a reply is not a candidate.
            if not tactic or not tactic.startswith(prefix):
                continue
            content = (choice.get("logprobs") or {}).get("content") or []
            logprob = finite_logprob(sum(t.get("logprob", 0.0) for t in content)) if content else 0.0
            if tactic not in results or logprob > results[tactic]:
                results[tactic] = logprob
        return sorted(results.items(), key=lambda kv: -kv[1])[:n]


def _clean_completion(text: str) -> str:
    text = text.strip()
    if text.startswith("```"):
        text = text.strip("`")
        text = text.split("\n", 1)[1] if "\n" in text else ""
    return text.strip().strip("`").strip()
