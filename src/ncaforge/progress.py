"""Progress bars: tqdm, shown on a terminal when asked for, silent in logs and tests."""

from __future__ import annotations

from typing import Any

from tqdm import tqdm


def bar(iterable: Any = None, show: bool = True, **kwargs: Any) -> tqdm:
    """A tqdm bar; with ``show`` it appears only when output is a terminal."""
    return tqdm(iterable, disable=None if show else True, dynamic_ncols=True, **kwargs)
