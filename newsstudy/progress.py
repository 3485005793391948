"""Progress lines on the terminal that runs a notebook: the step, in its own units (users,
steps, lists), and the time left.

A notebook's cell output goes into the executed notebook, not to the terminal of
``newsstudy run`` or ``reproduce``, whose papermill bar counts cells and so sits still
through a ten-minute training cell. Long steps therefore also write a line to the
process's own standard error (the terminal; a kernel's training workers share it), each
prefixed with the notebook that runs it (``NEWSSTUDY_NOTEBOOK``, set by the runner), at
most about every tenth of the way.
"""

from __future__ import annotations

import os
import sys
import time

NOTEBOOK_VARIABLE = "NEWSSTUDY_NOTEBOOK"


def duration(seconds: float | None) -> str:
    """Seconds as ``42s``, ``3m12s`` or ``1h04m``; ``?`` if unknown."""
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def terminal(text: str) -> None:
    """Write one line to the terminal (the process's real standard error), prefixed with
    the running notebook's name when the runner set it."""
    stream = sys.__stderr__ or sys.stderr
    if stream is None:
        return
    label = os.environ.get(NOTEBOOK_VARIABLE)
    try:
        print(f"[{label}] {text}" if label else text, file=stream, flush=True)
    except (OSError, ValueError):  # a closed terminal never stops the work
        pass


class Progress:
    """``what: done/total unit, elapsed, about T left`` at every tenth of ``total``.

    >>> progress = Progress("SFT", 100, "steps", out=print)
    >>> progress.update(50)  # doctest: +ELLIPSIS
    SFT: 50/100 steps, 0s so far, about 0s left
    """

    def __init__(self, what: str, total: int, unit: str, every: float = 0.1, out=terminal):
        self.what, self.total, self.unit, self.out = what, max(1, int(total)), unit, out
        self.step = max(1, int(round(self.total * every)))
        self.started = time.perf_counter()
        self.next = self.step

    def update(self, done: int) -> None:
        """Report ``done`` if it reached the next tenth (or the end)."""
        if done < self.next and done < self.total:
            return
        self.next = (done // self.step + 1) * self.step
        elapsed = time.perf_counter() - self.started
        left = elapsed / done * (self.total - done) if done else None
        self.out(f"{self.what}: {done}/{self.total} {self.unit}, {duration(elapsed)} so far"
                 + (f", about {duration(left)} left" if done < self.total else ""))
