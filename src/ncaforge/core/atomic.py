"""Atomic writes: a reader sees the old file or directory, or the new one, never half.

Temporary names carry the writing process's id (``.NAME.tmp-PID-XXXX``), so two processes never share
one, and the leftovers of a killed writer (its process gone) are removed by the next write beside them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _prefix(path: Path) -> str:
    return f".{path.name}.tmp-"


def alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def sweep(path: str | Path) -> list[Path]:
    """Remove the temporary files and folders that killed writers of ``path`` left beside it."""
    path = Path(path)
    removed = []
    if not path.parent.is_dir():
        return removed
    for leftover in path.parent.glob(_prefix(path) + "*"):
        pid = leftover.name[len(_prefix(path)):].split("-")[0]
        if pid.isdigit() and int(pid) != os.getpid() and not alive(int(pid)):
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
            removed.append(leftover)
    return removed


@contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` that replaces it, synced, when the block succeeds.

    The temporary name ends in ``path``'s suffix, so writers that pick a format by suffix pick right.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep(path)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f"{_prefix(path)}{os.getpid()}-", suffix=path.suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and an atomic rename."""
    with atomic_file(path) as tmp:
        tmp.write_text(text)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: str | Path, obj: object) -> None:
    write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


@contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a fresh temporary directory that replaces ``path`` when the block succeeds.

    The old directory is moved to ``path.old`` first and removed last, so a crash at
    any moment leaves either ``path`` or ``path.old`` complete (see ``recover_dir``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep(path)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f"{_prefix(path)}{os.getpid()}-"))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = path.with_name(path.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if path.exists():
        os.replace(path, old)
    os.replace(tmp, path)
    shutil.rmtree(old, ignore_errors=True)


def recover_dir(path: str | Path) -> Path:
    """Return ``path``, or its ``.old`` copy when a crash interrupted ``atomic_dir``."""
    path = Path(path)
    old = path.with_name(path.name + ".old")
    if not path.exists() and old.exists():
        os.replace(old, path)
    return path


@contextmanager
def uninterrupted() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the block is done, then deliver them: a save (checkpoint, plot) is
    never cut in the middle, where a third-party library may print a traceback of its half-built state.

    Only the main thread takes signals; elsewhere the block runs as is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, lambda signum, frame: caught.append(signum)) for s in held}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        for s in dict.fromkeys(caught):  # each once, in the order they came, to their own handlers
            signal.raise_signal(s)

