"""Progress of a ``prove`` run that suits a terminal and a log file alike.

On a terminal it is a tqdm bar redrawn in place. Written to a file or a
pipe, a redrawn bar becomes thousands of carriage-return updates, so there
it prints one plain line at most every ``interval`` seconds, and a last one
at the end::

    proving: 120/1000 theorems, 34 proved (28.3%), 0.85 theorems/s, about 17m left
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProveProgress:
    """Counts finished theorems and shows them.

    Args:
        total: theorems to prove in this run.
        done: theorems already in the output (resumed); counted as finished.
        proved: how many of ``done`` were proved.
        stream: where to write (default stderr).
        interval: seconds between plain lines when ``stream`` is not a terminal.
        force_plain: plain lines even on a terminal (tests, ``--no-progress-bar``).

    Example:
        >>> import io
        >>> out = io.StringIO()
        >>> p = ProveProgress(2, stream=out, interval=0)
        >>> p.update(proved=True); p.update(proved=False); p.close()
        >>> out.getvalue().splitlines()[-1].startswith("proving: 2/2 theorems, 1 proved")
        True
    """

    def __init__(self, total: int, done: int = 0, proved: int = 0, stream: TextIO | None = None,
                 interval: float = 30.0, force_plain: bool = False):
        self.stream = stream if stream is not None else sys.stderr
        self.total, self.start_done = total + done, done
        self.done, self.proved = done, proved
        self.interval = interval
        self._t0 = self._last = time.monotonic()
        self._bar = None
        isatty = getattr(self.stream, "isatty", lambda: False)
        if not force_plain and isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, initial=done, desc="proving", unit="thm", file=self.stream,
                             dynamic_ncols=True)
            self._bar.set_postfix(proved=proved)

    def update(self, proved: bool) -> None:
        self.done += 1
        self.proved += bool(proved)
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix(proved=self.proved)
            return
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self._line()

    def _line(self) -> None:
        elapsed = time.monotonic() - self._t0
        new = self.done - self.start_done
        rate = new / elapsed if elapsed > 0 else 0.0
        pct = self.proved / self.done if self.done else 0.0
        left = self.total - self.done
        eta = f", about {_duration(left / rate)} left" if rate > 0 and left else ""
        self.stream.write(f"proving: {self.done}/{self.total} theorems, {self.proved} proved ({pct:.1%}), "
                          f"{rate:.2f} theorems/s{eta}\n")
        self.stream.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self.done > self.start_done:
            self._line()


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"
