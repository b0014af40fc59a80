"""The doorbells table: every ring the guest made, and the path that took it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from operator import itemgetter

from rich.cells import cell_len

from iofdtui.engine.model import Bus, format_addr
from iofdtui.engine.snapshot import Checkpoint, DoorbellStats, SlotStats
from iofdtui.reports import format as fmt
from iofdtui.ui.widgets.counts_table import CountsTable
from iofdtui.ui.widgets.line_table import LineTable

COLUMNS: tuple[tuple[str, str], ...] = (
    ("doorbell", "doorbell"),
    ("plan", "writes"),
    ("rings", "rings"),
    ("signals", "signals"),
    ("exits", "exits"),
    ("misses", "exits by value"),
    ("live", "live"),
    ("check", "exact"),
)
"""(column key, header) in display order."""

ENTRIES_COLUMN = ("entries", "ring entries")
"""Added after exits when any doorbell has coalesced ring entries (a zone took its writes)."""

VCPU_COLUMN = ("vcpus", "vCPU:rings/exits")
"""Added when more than one vCPU rings."""

TRACED_COLUMN = ("traced", "traced")
"""Added when the kernel's tracepoints witness the lab (ui/traced_witness.py): at the last
checkpoint, traced in-kernel writes = signals and traced exits = exits (`✗ +k/+x` the gaps)."""

FULL_SPLIT_WIDTH = 125
"""Narrower than this, two vCPUs' split shows rings only, in place of misses and exact."""

_LEFT = {"doorbell", "plan", "misses", "live", "check", "vcpus", "traced"}

_COUNTS = ("rings", "signals", "exits", "entries")
_FREE = ("plan", "misses")
"""Columns of free length (a plan's writes, the missed values): cut short with `…` to fit."""

_SOURCES = (*(k for k, _ in COLUMNS), "live_short")
"""What a row's lengths are kept for: every column, and the live check without rings in flight."""

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


@lru_cache(maxsize=8192)
def doorbell_key(bus: Bus, addr: int) -> str:
    """Row key of one doorbell."""
    return f"{bus.value}:{addr:x}"


def check_cell(checkpoint: Checkpoint | None, at_checkpoint: DoorbellStats | None) -> str:
    """✓ when the doorbell balanced at the last checkpoint, ✗ and the balance when not."""
    if checkpoint is None:
        return "…"
    if at_checkpoint is None:
        # Not rung and not registered when the checkpoint was taken: nothing to balance.
        return "·"
    return "✓" if at_checkpoint.balance == 0 else f"✗ {at_checkpoint.balance:+d}"


def live_cell(door: DoorbellStats, in_flight: bool = True) -> str:
    """✓ while rings done <= signals + exits <= rings issued, with the rings in flight.

    The in-flight count is what the host has counted and the guest has not
    yet (it counts a visit's rings after writing them); ✗ and the difference
    the moment a count is lost or invented.  `in_flight=False` (a narrow
    table) leaves the count out of a ✓, never out of a ✗.
    """
    if not door.live_ok:
        return f"✗ {door.in_flight:+d}"
    return f"✓ +{door.in_flight}" if door.in_flight and in_flight else "✓"


def cells(
    door: DoorbellStats,
    writes: Sequence[str],
    checkpoint: Checkpoint | None,
    at_checkpoint: DoorbellStats | None,
    compact: bool = False,
) -> tuple[str, ...]:
    """The row of one doorbell, as the strings shown (`writes`: what the plan rings there)."""
    misses = " ".join(f"{v:#x}:{fmt.count(n, compact)}" for _w, v, n in door.exits_by_value)
    return (
        f"{door.bus.value} {format_addr(door.bus, door.addr)}",
        " ".join(writes) or "not rung",
        fmt.count(door.rings, compact),
        fmt.count(door.signals, compact),
        fmt.count(door.exits, compact),
        misses or fmt.DASH,
        live_cell(door),
        check_cell(checkpoint, at_checkpoint),
    )


def per_vcpu_cell(door: DoorbellStats, compact: bool = False) -> str:
    """Each vCPU's rings/exits at this doorbell (signals cannot be split by vCPU).

    Compact: rings only, so the column fits an 80-column terminal.
    """
    approx = fmt.approx_count
    if compact:
        return " ".join(f"{v.vcpu}:{approx(v.rings)}" for v in door.per_vcpu)
    return " ".join(f"{v.vcpu}:{approx(v.rings)}/{approx(v.exits)}" for v in door.per_vcpu)


class DoorbellsTable(CountsTable):
    """Per doorbell: guest rings, eventfd signals, userspace exits, and the check.

    While the guest runs a visit's rings can be counted by the host before the
    guest counts them, so the live column checks the bracket rings done <=
    signals + exits <= rings issued at every reading, and the exact column is
    the equality taken at the last checkpoint, when the guest was parked.
    With coalesced zones, ring entries join the sum (a column of their own).
    """

    DEFAULT_CSS = """
    DoorbellsTable {
        height: auto;
        max-height: 10;
        & > .doorbells-table--ok {
            color: $success;
            text-style: bold;
        }
        & > .doorbells-table--broken {
            color: $error;
            text-style: bold;
        }
    }
    """

    COMPONENT_CLASSES = LineTable.COMPONENT_CLASSES | {
        "doorbells-table--ok",
        "doorbells-table--broken",
    }
    """
    | Class | Description |
    | :- | :- |
    | `doorbells-table--ok` | A live or exact check that holds (`✓`). |
    | `doorbells-table--broken` | A live or exact check that fails (`✗ -3`). |
    """

    CELL_CLASSES = ("doorbells-table--ok", "doorbells-table--broken")

    COLUMNS = COLUMNS
    LEFT = frozenset(_LEFT)
    REDRAW_ON_RESIZE = True

    _fit: Fit | None = None
    """What the last `show` chose to show at the table's width."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._last: (
            tuple[
                Sequence[DoorbellStats],
                Sequence[SlotStats],
                Checkpoint | None,
                Mapping[str, str] | None,
            ]
            | None
        )
        self._last = None
        # Each doorbell's cells by column, and their lengths, with what they
        # were made from: a doorbell whose counts, writes and checkpoint entry
        # did not change keeps its strings (and so its row).
        self._made: dict[
            str, tuple[tuple[DoorbellStats, tuple[object, ...]], dict[str, str], tuple[int, ...]]
        ] = {}
        # Each row as last shown, with the cells it was cut from (for `_fit`).
        self._shown: dict[str, tuple[dict[str, str], tuple[str, ...]]] = {}

    def cell_style(self, column_key: str, value: str) -> str | None:
        """The checks in colour: ✓ holds, ✗ broken."""
        if column_key in ("check", "live", "traced"):
            if value.startswith("✓"):
                return "doorbells-table--ok"
            if value.startswith("✗"):
                return "doorbells-table--broken"
        return None

    def _tight(self) -> bool:
        """Too narrow for the full per-vCPU split beside every other column."""
        return self.size.width < FULL_SPLIT_WIDTH

    def redraw(self) -> None:
        """Show the last doorbells again: what fits depends on the width."""
        if self._last is not None:
            self.show(*self._last)

    def show(
        self,
        doorbells: Sequence[DoorbellStats],
        slots: Sequence[SlotStats],
        checkpoint: Checkpoint | None,
        traced: Mapping[str, str] | None = None,
    ) -> None:
        """Show these doorbells; only rows whose cells changed repaint (`traced`: the
        tracepoints' verdict per row key, a column of its own when given)."""
        self._last = (doorbells, slots, checkpoint, traced)
        # One pass over slots and checkpoint each: a row per registered address
        # means ~1,000 rows with 1,000 registrations.
        vcpus = max((len(d.per_vcpu) for d in doorbells), default=1)
        zoned = any(d.entries or d.ring_full for d in doorbells)
        columns = COLUMNS + ((VCPU_COLUMN,) if vcpus > 1 else ())
        if zoned:
            at = next(i for i, c in enumerate(columns) if c[0] == "exits") + 1
            columns = (*columns[:at], ENTRIES_COLUMN, *columns[at:])
        columns += (TRACED_COLUMN,) if traced is not None else ()
        tight = vcpus > 1 and self._tight()
        if tight:
            # Too narrow for it all: the per-vCPU split (of rings) wins over the
            # misses and the per-row exact check (the border still gives its verdict).
            columns = tuple(c for c in columns if c[0] not in ("misses", "check"))
            columns = tuple(c if c[0] != "vcpus" else ("vcpus", "vCPU:rings") for c in columns)
        writes: dict[str, list[str]] = {}
        for s in slots:
            key = doorbell_key(s.spec.bus, s.spec.addr)
            write = f"{s.spec.width}B←{s.spec.value:#x}"
            if write not in writes.setdefault(key, []):  # every vCPU rings the same plan
                writes[key].append(write)
        exact = {doorbell_key(d.bus, d.addr): d for d in checkpoint.doorbells} if checkpoint else {}
        full: dict[str, dict[str, str]] = {}
        lengths: list[tuple[int, ...]] = []
        sources = _SOURCES + (("vcpus",) if vcpus > 1 else ())
        sources += ("traced",) if traced is not None else ()
        sources += ("entries",) if zoned else ()
        made, compact, has_checkpoint = self._made, self.compact, checkpoint is not None
        for d in doorbells:
            key = doorbell_key(d.bus, d.addr)
            # What its cells are made of besides `d`: the same object while a
            # quiet doorbell stays quiet, so the check is one identity test.
            seen = None if traced is None else traced.get(key, "·")
            around = (
                writes.get(key), has_checkpoint, exact.get(key), compact, vcpus, tight, seen, zoned
            )  # fmt: skip
            known = made.get(key)
            if known is not None and known[0][0] is d and known[0][1] == around:
                full[key] = known[1]
                lengths.append(known[2])
                continue
            source = (d, around)
            row = cells(d, writes.get(key, ()), checkpoint, exact.get(key), compact)
            by_key = dict(zip((k for k, _ in COLUMNS), row, strict=True))
            by_key["live_short"] = live_cell(d, in_flight=False)
            if vcpus > 1:
                by_key["vcpus"] = per_vcpu_cell(d, compact=tight)
            if seen is not None:
                by_key["traced"] = seen
            if zoned:
                by_key["entries"] = fmt.count(d.entries, compact)
            made[key] = (source, by_key, tuple(len(by_key[k]) for k in sources))
            full[key] = by_key
            lengths.append(made[key][2])
        if len(made) > len(full):
            for key in [key for key in made if key not in full]:
                del made[key]
        # Nothing scrolls sideways: at this width, drop or cut what does not fit.
        # Each column's widest cell from the kept lengths (one pass in C a column).
        widest = {k: max(map(itemgetter(i), lengths), default=0) for i, k in enumerate(sources)}
        width = self.size.width or FULL_SPLIT_WIDTH  # not laid out yet: redrawn on resize
        fit = fit_columns(columns, widest, width, self.compact)
        if fit != self._fit:
            # Columns only ever widen: a new choice starts them afresh.
            self._fit = fit
            self._shown.clear()  # rows cut for another fit
            self.set_columns(fit.columns, self.LEFT)
        keys = [k for k, _ in fit.columns]
        live = "live" if fit.in_flight else "live_short"
        rows = {}
        shown = self._shown
        for key, by_key in full.items():
            before = shown.get(key)
            if before is not None and before[0] is by_key:
                rows[key] = before[1]
                continue
            rows[key] = tuple(
                clip(by_key[live if k == "live" else k], fit.caps[k])
                if k in fit.caps
                else by_key[live if k == "live" else k]
                for k in keys
            )
            shown[key] = (by_key, rows[key])
        if len(shown) > len(rows):
            for key in [key for key in shown if key not in rows]:
                del shown[key]
        self.set_rows(rows)
