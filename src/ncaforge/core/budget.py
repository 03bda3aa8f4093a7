"""Costs known before they are paid: work far beyond this machine is refused up front, with the estimate.

A run is refused when it would need more than half the machine's memory, or more cell updates than
hours of computing at the CPU's speed (``--force`` runs it anyway where a command offers it).
"""

from __future__ import annotations

import os

from ncaforge.core.errors import NcaError

MEMORY_SHARE = 0.5
MAX_CELL_UPDATES = 5e11  # about an hour and a half at 1e8 cell updates per second (a fast CPU path)


class BudgetError(NcaError, ValueError):
    """The work asked for would not fit this machine's memory or finish in reasonable time."""


def total_memory() -> int:
    """Physical memory in bytes (16 GiB where the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 16 << 30


def check(what: str, *, memory_bytes: float = 0, cell_updates: float = 0, force: bool = False,
          hint: str = "") -> None:
    """Refuse ``what`` when its estimated memory or cell updates are far beyond this machine."""
    if force:
        return
    limit = MEMORY_SHARE * total_memory()
    if memory_bytes > limit:
        raise BudgetError(f"{what} would need about {memory_bytes / 2**30:.1f} GiB of memory, more than half "
                          f"of this machine's {total_memory() / 2**30:.0f} GiB{hint}")
    if cell_updates > MAX_CELL_UPDATES:
        raise BudgetError(f"{what} would take about {cell_updates:.1e} cell updates (hours at 1e8 a second)"
                          f"{hint}")
