import socket
import threading
import time

import httpx
import uvicorn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RunningServer:
    """A real uvicorn server on a free loopback port, in a thread."""

    def __init__(self, app):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                httpx.get(self.url + "/health", timeout=1)
                return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("server did not start")

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=10)


async def openrlhf_post_async(url, data, try_max_times=5, sleep_s=1.0):
    """OpenRLHF's _post_request (openrlhf/utils/agent.py at 3c3be623, SingleTurnAgentExecutor._fetch_rewards_via_http):
    aiohttp, 180 s in all per try, raise_for_status, ``try_max_times`` tries 1 s apart (Retry-After ignored), then an
    error: the sample's reward stays None."""
    import asyncio

    import aiohttp

    timeout = aiohttp.ClientTimeout(total=180)
    for _ in range(try_max_times):
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session:
                async with session.post(url, json=data) as response:
                    response.raise_for_status()
                    return await response.json()
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(sleep_s)
    raise RuntimeError(f"Request error for {try_max_times} times, returning None. Please check the API server.")


def openrlhf_post(url, data, try_max_times=5):
    """:func:`openrlhf_post_async`, run to its end."""
    import asyncio

    return asyncio.run(openrlhf_post_async(url, data, try_max_times))
