"""Numbers and tables as plain text: a format that fits each magnitude, columns that line up."""

from __future__ import annotations

import math
import numbers
import textwrap
from collections.abc import Sequence

SCIENTIFIC_BELOW = 1e-4  # smaller magnitudes in scientific notation, as %g does
SCIENTIFIC_FROM = 1e6  # and these larger ones, so that a diverged value stays short


def number(value: object, digits: int = 4) -> str:
    """``value`` in a format that fits its magnitude, so that neither 2.1e-7 nor 1e35 reads wrongly.

    Floats get ``digits`` significant digits, in scientific notation below 1e-4 and from 1e6
    (4.41e-05 -> "4.41e-05", 1e35 -> "1e+35"); from 10**(digits - 1) up to 1e6 they keep every
    integer digit and one decimal (1234.5 -> "1234.5"); trailing zeros are dropped (0.5 -> "0.5").
    Integers and bools are unchanged, nan and inf read "nan", "inf", "-inf"; anything else is ``str``.
    """
    if isinstance(value, numbers.Integral) or not isinstance(value, numbers.Real):  # bools are Integral
        return str(value)
    v = float(value)
    if not math.isfinite(v):
        return str(v)
    if v == 0:
        return "0"
    magnitude = abs(v)
    if magnitude < SCIENTIFIC_BELOW or magnitude >= SCIENTIFIC_FROM:
        return f"{v:.{digits}g}"
    exponent = math.floor(math.log10(magnitude))
    return f"{v:.{max(digits, exponent + 2)}g}"


def _is_number(cell: object) -> bool:
    """Whether ``cell`` is a number, which tables right-align."""
    return isinstance(cell, numbers.Number)


def table(rows: Sequence[Sequence[object]], header: Sequence[str] | None = None, gap: int = 2,
          max_width: int | None = None, digits: int = 4) -> str:
    """Rows as aligned plain-text columns: numbers (formatted by ``number``) right, text left.

    A ``header`` is underlined with dashes and aligned like its column. With ``max_width``, the
    widest text columns are shortened (ending in "...") until every line fits, where that is possible.
    """
    width = max([len(header or ())] + [len(r) for r in rows])
    cells = [[number(c, digits) for c in r] + [""] * (width - len(r)) for r in rows]
    right = [bool(rows) and all(_is_number(r[i]) for r in rows if i < len(r)) for i in range(width)]
    head = [list(header) + [""] * (width - len(header))] if header is not None else []
    widths = [max(len(r[i]) for r in head + cells) if head + cells else 0 for i in range(width)]
    if max_width is not None:
        text_columns = [i for i in range(width) if not right[i]]
        while text_columns and sum(widths) + gap * (width - 1) > max_width:
            i = max(text_columns, key=lambda j: widths[j])
            floor = max(len(h[i]) for h in head) if head else 0
            excess = sum(widths) + gap * (width - 1) - max_width
            new = max(widths[i] - excess, floor, 4)
            if new >= widths[i]:
                text_columns.remove(i)
                continue
            for r in cells:
                if len(r[i]) > new:
                    r[i] = textwrap.shorten(r[i], new, placeholder="...")
            widths[i] = max(len(r[i]) for r in head + cells)

    def line(r: list[str]) -> str:
        return (" " * gap).join(c.rjust(w) if right[i] else c.ljust(w)
                                for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip()

    rule = [["-" * w for w in widths]] if head else []
    return "\n".join(line(r) for r in head + rule + cells)


def blown_up(figures: dict[str, object], limit: float = 1e6) -> list[str]:
    """The keys of figures that are not finite or beyond ``limit``: a model that diverged."""
    return [k for k, v in figures.items()
            if isinstance(v, float) and not (math.isfinite(v) and abs(v) < limit)]
