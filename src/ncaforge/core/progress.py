"""Progress: a tqdm bar on a terminal; off a terminal (nohup, a cluster job) plain log lines, or silence.

tqdm stays silent when its output is not a terminal, so a long job's log shows nothing
between its first and last line. ``bar(..., log_every=30)`` then gives a :class:`LogLines`
instead: the same calls (iterate, ``update``, ``set_postfix``, ``close``), written as one
plain line every 30 seconds and one at the end.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sized
from typing import Any, TextIO

from tqdm import tqdm


def is_terminal(stream: TextIO | None) -> bool:
    """Whether ``stream`` is an open terminal (a closed or file-less stream is not)."""
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError):
        return False


def bar(iterable: Any = None, show: bool = True, log_every: float = 0, **kwargs: Any) -> tqdm | LogLines:
    """A tqdm bar; with ``show`` it appears only when output is a terminal.

    With ``log_every`` > 0 and output that is not a terminal (stderr, or ``file``), a
    :class:`LogLines` writes a plain line every ``log_every`` seconds instead.
    """
    if show and log_every > 0 and not is_terminal(kwargs.get("file") or sys.stderr):
        return LogLines(iterable, every=log_every, **kwargs)
    return tqdm(iterable, disable=None if show else True, dynamic_ncols=True, **kwargs)


class LogLines:
    """The part of tqdm a loop uses, as a plain line to ``file`` every ``every`` seconds and one at the end.

    A line reads ``desc: n/total unit, key value, ..., s/unit, elapsed``; the rate and the
    elapsed time are this session's (from ``initial``). ``clock`` is for tests. tqdm's
    display options (``leave``, ...) mean nothing in a log and are ignored.
    """

    def __init__(self, iterable: Iterable[Any] | None = None, every: float = 30.0, total: int | None = None,
                 initial: int = 0, unit: str = "it", desc: str | None = None, file: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic, **display: Any) -> None:
        if total is None and isinstance(iterable, Sized):
            total = len(iterable)
        self.iterable, self.every, self.total, self.unit, self.desc = iterable, every, total, unit, desc
        self.file, self.clock = file, clock
        self.n = self.start_n = self.logged_n = initial
        self.start = self.last = clock()
        self.postfix: dict[str, str] = {}
        self.closed = False

    def __iter__(self) -> Iterator[Any]:
        for item in self.iterable or ():
            yield item
            self.update(1)

    def __enter__(self) -> LogLines:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def set_postfix(self, refresh: bool = True, **values: Any) -> None:
        """Values shown at the end of the next line (``refresh`` is tqdm's, unused)."""
        self.postfix = {k: str(v) for k, v in values.items()}

    def update(self, n: int = 1) -> None:
        """Count ``n`` more; write a line when ``every`` seconds have passed since the last."""
        self.n += n
        now = self.clock()
        if now - self.last >= self.every:
            self._write(now)

    def close(self) -> None:
        """Write a last line if anything happened since the previous one."""
        if not self.closed and self.n != self.logged_n:
            self._write(self.clock())
        self.closed = True

    def line(self, now: float) -> str:
        """The progress line at time ``now``."""
        elapsed, done = now - self.start, self.n - self.start_n
        count = f"{self.n}/{self.total}" if self.total is not None else str(self.n)
        parts = [f"{count} {self.unit}", *(f"{k} {v}" for k, v in self.postfix.items()),
                 f"{elapsed / done:.3g} s/{self.unit}" if done else f"? s/{self.unit}",
                 f"elapsed {tqdm.format_interval(elapsed)}"]
        return (f"{self.desc}: " if self.desc else "") + ", ".join(parts)

    def _write(self, now: float) -> None:
        stream = self.file or sys.stderr  # looked up now: a replaced sys.stderr (pytest, a logger) gets it
        stream.write(self.line(now) + "\n")
        stream.flush()
        self.last, self.logged_n = now, self.n
