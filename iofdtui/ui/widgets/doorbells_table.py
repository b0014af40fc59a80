"""The doorbells table: every ring the guest made, and the path that took it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import compress
from operator import is_not, itemgetter

from iofdtui.engine.model import Bus, format_addr
from iofdtui.engine.snapshot import Checkpoint, DoorbellStats, SlotStats
from iofdtui.reports import format as fmt
from iofdtui.ui.widgets.counts_table import CountsTable
from iofdtui.ui.widgets.doorbell_fit import Fit, clip, fit_columns
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

_SOURCES = (*(k for k, _ in COLUMNS), "live_short")
"""What a row's lengths are kept for: every column, and the live check without rings in flight."""

_Shown = tuple[
    Sequence[DoorbellStats], Sequence[SlotStats], Checkpoint | None, Mapping[str, str] | None
]
"""What `show` was given: the doorbells, the slots, the checkpoint, the traced verdicts."""


@dataclass(frozen=True)
class _Drawn:
    """What the whole table was last shown with, besides the doorbells themselves."""

    columns: tuple[tuple[str, str], ...]
    sources: tuple[str, ...]
    compact: bool
    vcpus: int
    tight: bool
    width: int
    zoned: bool = False  # a ring entries column (some doorbell has coalesced entries)

    @property
    def form(self) -> tuple[bool, int, bool, bool]:
        """What every row's cells depend on (their format, split and columns)."""
        return (self.compact, self.vcpus, self.tight, self.zoned)


@lru_cache(maxsize=8192)
def doorbell_key(bus: Bus, addr: int) -> str:
    """Row key of one doorbell."""
    return f"{bus.value}:{addr:x}"


def plan_writes(slots: Sequence[SlotStats]) -> dict[str, list[str]]:
    """What the plan rings at each doorbell (row key -> `4B←0x1`...), in plan order."""
    writes: dict[str, list[str]] = {}
    for s in slots:
        key = doorbell_key(s.spec.bus, s.spec.addr)
        write = f"{s.spec.width}B←{s.spec.value:#x}"
        if write not in writes.setdefault(key, []):  # every vCPU rings the same plan
            writes[key].append(write)
    return writes


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
        self._last: _Shown | None = None
        # Each doorbell's cells by column, and their lengths, with what they
        # were made from: a doorbell whose counts, writes and checkpoint entry
        # did not change keeps its strings (and so its row).
        self._made: dict[
            str, tuple[tuple[DoorbellStats, tuple[object, ...]], dict[str, str], tuple[int, ...]]
        ] = {}
        # Each row as last shown, with the cells it was cut from (for `_fit`).
        self._shown: dict[str, tuple[dict[str, str], tuple[str, ...]]] = {}
        # What the rows were last made from: the plan's writes and the
        # checkpoint's doorbells by row key, the form, and per column how many
        # rows have each length (its widest decides what fits).
        self._writes: dict[str, list[str]] = {}
        self._exact: dict[str, DoorbellStats] = {}
        self._drawn: _Drawn | None = None
        self._lengths: list[Counter[int]] = []

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
        last, self._last = self._last, (doorbells, slots, checkpoint, traced)
        writes = plan_writes(slots)
        if last is not None and self._update_in_place(last, writes):
            return
        self._writes = writes
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
        self._exact = (
            {doorbell_key(d.bus, d.addr): d for d in checkpoint.doorbells} if checkpoint else {}
        )
        sources = _SOURCES + (("vcpus",) if vcpus > 1 else ())
        sources += ("traced",) if traced is not None else ()
        sources += ("entries",) if zoned else ()
        self._drawn = _Drawn(columns, sources, self.compact, vcpus, tight, self.size.width, zoned)
        full: dict[str, dict[str, str]] = {}
        lengths: list[tuple[int, ...]] = []
        made = self._made
        for d in doorbells:
            key = doorbell_key(d.bus, d.addr)
            by_key, kept = self._cells_of(key, d, checkpoint, traced)
            full[key] = by_key
            lengths.append(kept)
        if len(made) > len(full):
            for key in [key for key in made if key not in full]:
                del made[key]
        # Nothing scrolls sideways: at this width, drop or cut what does not fit.
        # How many rows have each length, per column (one pass in C a column):
        # the widest stays known when a few rows change (`_update_in_place`).
        self._lengths = [Counter(map(itemgetter(i), lengths)) for i in range(len(sources))]
        fit = self._fit_now()
        if fit != self._fit:
            # Columns only ever widen: a new choice starts them afresh.
            self._fit = fit
            self._shown.clear()  # rows cut for another fit
            self.set_columns(fit.columns, self.LEFT)
        rows = {}
        shown = self._shown
        for key, by_key in full.items():
            before = shown.get(key)
            fresh = before is None or before[0] is not by_key
            rows[key] = self._cut(key, by_key, fit) if fresh else before[1]  # type: ignore[index]
        if len(shown) > len(rows):
            for key in [key for key in shown if key not in rows]:
                del shown[key]
        self.set_rows(rows)

    def _update_in_place(
        self,
        last: _Shown,
        writes: dict[str, list[str]],
    ) -> bool:
        """Show a reading of the same doorbells in the same order by changing only
        the rows whose stats are new objects: the engine hands back the very row
        of a doorbell nothing happened to, so at 1,000 doorbells a reading costs
        the few that moved.  False (the whole table to be shown) when anything
        else changed: the doorbells, the plan, the checkpoint, the tracing, the
        width or format, or what fits."""
        doorbells, _slots, checkpoint, traced = self._last  # type: ignore[misc]
        before = last[0]
        drawn = self._drawn
        if (
            len(doorbells) != len(before)
            or checkpoint is not last[2]
            or traced is not None
            or last[3] is not None
            or writes != self._writes
            or drawn is None
            or drawn.compact is not self.compact
            or drawn.width != self.size.width
            # A zone's first entries add their column; a reset after its removal drops it.
            or drawn.zoned != any(d.entries or d.ring_full for d in doorbells)
        ):
            return False
        # One identity test a row, in C; then only the new rows are looked at.
        moved = list(compress(range(len(doorbells)), map(is_not, doorbells, before)))
        for i in moved:
            d, was = doorbells[i], before[i]
            if d.bus is not was.bus or d.addr != was.addr or len(d.per_vcpu) != len(was.per_vcpu):
                return False
        changed: dict[str, dict[str, str]] = {}
        for i in moved:
            d = doorbells[i]
            key = doorbell_key(d.bus, d.addr)
            old = self._made[key][2]
            by_key, kept = self._cells_of(key, d, checkpoint, traced)
            if kept is not old:
                for counts, was_len, now_len in zip(self._lengths, old, kept, strict=True):
                    if was_len != now_len:
                        counts[was_len] -= 1
                        if not counts[was_len]:
                            del counts[was_len]
                        counts[now_len] += 1
            changed[key] = by_key
        fit = self._fit_now()
        if fit != self._fit:
            return False  # the whole table, cut for the new choice
        rows = {key: self._cut(key, by_key, fit) for key, by_key in changed.items()}
        self.update_rows(rows)
        return True

    def _cells_of(
        self,
        key: str,
        d: DoorbellStats,
        checkpoint: Checkpoint | None,
        traced: Mapping[str, str] | None,
    ) -> tuple[dict[str, str], tuple[int, ...]]:
        """A doorbell's cells by column and their lengths, from the memo while
        what they are made of is what it was."""
        drawn = self._drawn
        assert drawn is not None
        # What its cells are made of besides `d`: the same object while a
        # quiet doorbell stays quiet, so the check is one identity test.
        seen = None if traced is None else traced.get(key, "·")
        at_checkpoint = self._exact.get(key)
        where = self._writes.get(key)
        around = (where, checkpoint is not None, at_checkpoint, *drawn.form, seen)
        known = self._made.get(key)
        if known is not None and known[0][0] is d and known[0][1] == around:
            return known[1], known[2]
        row = cells(d, where or (), checkpoint, at_checkpoint, drawn.compact)
        by_key = dict(zip((k for k, _ in COLUMNS), row, strict=True))
        by_key["live_short"] = live_cell(d, in_flight=False)
        if drawn.vcpus > 1:
            by_key["vcpus"] = per_vcpu_cell(d, compact=drawn.tight)
        if seen is not None:
            by_key["traced"] = seen
        if drawn.zoned:
            by_key["entries"] = fmt.count(d.entries, drawn.compact)
        kept = tuple(len(by_key[k]) for k in drawn.sources)
        self._made[key] = ((d, around), by_key, kept)
        return by_key, kept

    def _fit_now(self) -> Fit:
        """What fits the width, from each column's widest cell (the kept lengths)."""
        drawn = self._drawn
        assert drawn is not None
        widest = {k: max(c, default=0) for k, c in zip(drawn.sources, self._lengths, strict=True)}
        width = self.size.width or FULL_SPLIT_WIDTH  # not laid out yet: redrawn on resize
        return fit_columns(drawn.columns, widest, width, drawn.compact)

    def _cut(self, key: str, by_key: dict[str, str], fit: Fit) -> tuple[str, ...]:
        """A row's cells in the fit's columns, cut to its lengths (kept for the next reading)."""
        live = "live" if fit.in_flight else "live_short"
        caps = fit.caps
        row = tuple(
            clip(by_key[live if k == "live" else k], caps[k])
            if k in caps
            else by_key[live if k == "live" else k]
            for k, _ in fit.columns
        )
        self._shown[key] = (by_key, row)
        return row
