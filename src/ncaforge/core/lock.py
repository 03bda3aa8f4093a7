"""One writer per run directory: a lock file holding the writer's pid and host.

A second writer is refused with a message naming the first; a lock whose process is gone (a killed run
on this host) is taken over.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ncaforge.core.atomic import alive
from ncaforge.core.errors import NcaError

LOCK_FILE = ".lock"


class LockedError(NcaError, RuntimeError):
    """Another process is writing the same run directory."""


def _holder(lock: Path) -> dict | None:
    try:
        found = json.loads(lock.read_text())
        return found if isinstance(found, dict) else None
    except (OSError, ValueError):
        return None


@contextmanager
def locked(directory: str | Path) -> Iterator[Path]:
    """Hold ``directory``'s lock for the block (``directory`` is created if needed)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    lock = directory / LOCK_FILE
    me = {"pid": os.getpid(), "host": socket.gethostname()}
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _holder(lock)
            stale = (holder is not None and holder.get("host") == me["host"]
                     and isinstance(holder.get("pid"), int) and not alive(holder["pid"]))
            if stale or (holder is None and lock.stat().st_size == 0):
                lock.unlink(missing_ok=True)  # a killed run's (or a lock cut short): take it over
                continue
            who = f"process {holder['pid']} on {holder['host']}" if holder else "another process"
            raise LockedError(f"{directory} is being written by {who} (lock file {lock}): wait for that "
                              "run to end, or choose another --out") from None
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(me))
        break
    else:
        raise LockedError(f"cannot take the lock {lock}")
    try:
        yield lock
    finally:
        if _holder(lock) == me:
            lock.unlink(missing_ok=True)
