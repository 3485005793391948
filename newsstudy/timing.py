"""Wall time of a notebook's parts, as its results file records it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


class Timings(dict):
    """Part name -> seconds (``"<part>_seconds"``), filled by :meth:`part`.

    >>> timings = Timings()
    >>> with timings.part("eval"):
    ...     pass
    >>> list(timings)
    ['eval_seconds']
    """

    @contextmanager
    def part(self, name: str) -> Iterator[None]:
        """Time the block and record it as ``"<name>_seconds"`` (also when it raises)."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self[f"{name}_seconds"] = time.perf_counter() - started
