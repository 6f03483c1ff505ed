"""Whether a remote service can be reached: asked once, quickly, before a library that would retry.

The libraries LeanProgress downloads through (``huggingface_hub`` for models, GitPython and PyGithub for the Lean
backends) retry a request that cannot connect with growing pauses: tens of seconds and dozens of log lines on a
machine without the network, before the error that says so. Commands ask :func:`unreachable` first and fail at
once in one line when a download is needed and cannot happen.

Example:
    >>> unreachable("http://127.0.0.1:9")  # the discard port: nothing answers  # doctest: +SKIP
    'http://127.0.0.1:9 cannot be reached from here (ConnectError)'
"""

from __future__ import annotations

import functools


@functools.lru_cache(maxsize=None)
def unreachable(url: str, timeout: float = 5.0) -> str | None:
    """Why ``url`` cannot be reached from here (one request, no retries, proxies from the environment), or None
    if it answers at all (any HTTP status: the host is there).

    Args:
        url: an http(s) URL; its answer is remembered for the life of the process.
        timeout: seconds to wait for the connection and the answer.
    """
    import httpx

    try:
        httpx.head(url, timeout=timeout)
    except httpx.HTTPError as exc:
        return f"{url} cannot be reached from here ({type(exc).__name__})"
    return None
