"""What the doorbells table shows at a width: which columns, cut how short, so
nothing ever scrolls sideways (pure arithmetic on the cells' lengths)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from rich.cells import cell_len

_COUNTS = ("rings", "signals", "exits", "entries")
_FREE = ("plan", "misses")
"""Columns of free length (a plan's writes, the missed values): cut short with `…` to fit."""

_MIN_FREE = 8
"""The narrowest a cut column gets, with its leading space (`4B←0x1…`)."""

_COUNT_CHARS = {True: 7, False: 9}
"""The widest a count gets, compact (`999,999`) or not (`9,999,999`): room is kept for it."""

_LIVE_CHARS = 7
"""Room kept for the live check with its rings in flight (`✓ +9999`)."""


@dataclass(frozen=True)
class Fit:
    """What the table shows at its width: columns (with headers), cut lengths, live form."""

    columns: tuple[tuple[str, str], ...]
    caps: dict[str, int] = field(default_factory=dict)
    in_flight: bool = True


def clip(text: str, cells: int) -> str:
    """`text` in at most `cells` cells, ending in `…` when cut."""
    if cell_len(text) <= cells:
        return text
    while text and cell_len(text) > cells - 1:
        text = text[:-1]
    return text.rstrip() + "…"


def fit_columns(
    columns: tuple[tuple[str, str], ...],
    widest: Mapping[str, int],
    width: int,
    compact: bool,
) -> Fit:
    """Choose what a table `width` cells wide shows, so nothing scrolls sideways.

    `widest` is each column's widest cell in `len` (every character these
    cells use, digits, hex, ✓ ✗ ← — …, is one cell wide), and `live_short`
    the live check's without the rings in flight.  In order, until the row
    fits: `exits by value` is headed `misses`; the live check drops its rings
    in flight; the plan's writes and the missed values are cut short; the
    per-row exact check goes (the border still gives the checkpoint's
    verdict); the misses go.  Counts and the live check are measured at the
    widest they get, so a reading whose counts gain a digit does not change
    the choice.
    """

    def widths(cols: tuple[tuple[str, str], ...], in_flight: bool) -> dict[str, int]:
        out = {}
        for key, header in cols:
            source = "live_short" if key == "live" and not in_flight else key
            cells = max(cell_len(header), widest.get(source, 0))
            if key in _COUNTS:
                cells = max(cells, _COUNT_CHARS[compact])
            elif key == "live" and in_flight:
                cells = max(cells, _LIVE_CHARS)
            out[key] = cells + 1  # each cell's leading space
        return out

    room = width - 1  # a vertical scrollbar may take one
    renamed = tuple((k, "misses") if k == "misses" else (k, h) for k, h in columns)
    for cols, in_flight in ((columns, True), (renamed, True), (renamed, False)):
        if sum(widths(cols, in_flight).values()) <= room:
            return Fit(cols, {}, in_flight)
    cols = renamed
    for drop in ((), ("check",), ("check", "misses"), ("check", "misses", "traced")):
        cols = tuple(c for c in renamed if c[0] not in drop)
        sizes = widths(cols, False)
        free = [k for k, _ in cols if k in _FREE]
        budget = room - sum(w for k, w in sizes.items() if k not in _FREE)
        if budget >= _MIN_FREE * len(free):
            break
    # Share what is left among the free columns, the shortest served first.
    caps: dict[str, int] = {}
    budget = max(budget, _MIN_FREE * len(free))
    for n, key in enumerate(sorted(free, key=sizes.__getitem__)):
        share = min(sizes[key], budget // (len(free) - n))
        budget -= share
        if share < sizes[key]:
            caps[key] = share - 1
    return Fit(cols, caps, False)
