"""The doorbells table: every ring the guest made, and the path that took it."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from iofdtui.engine.model import Bus, format_addr
from iofdtui.engine.snapshot import Checkpoint, DoorbellStats, SlotStats
from iofdtui.ui import format as fmt
from iofdtui.ui.widgets.counts_table import CountsTable

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

VCPU_COLUMN = ("vcpus", "vCPU:rings/exits")
"""Added when more than one vCPU rings."""

FULL_SPLIT_WIDTH = 125
"""Narrower than this, two vCPUs' split shows rings only, in place of misses and exact."""

_LEFT = {"doorbell", "plan", "misses", "live", "check", "vcpus"}


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


def live_cell(door: DoorbellStats) -> str:
    """✓ while rings done <= signals + exits <= rings issued, with the rings in flight.

    The in-flight count is what the host has counted and the guest has not
    yet (it counts a visit's rings after writing them); ✗ and the difference
    the moment a count is lost or invented.
    """
    if not door.live_ok:
        return f"✗ {door.in_flight:+d}"
    return f"✓ +{door.in_flight}" if door.in_flight else "✓"


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
    """

    DEFAULT_CSS = """
    DoorbellsTable {
        height: auto;
        max-height: 10;
    }
    """

    COLUMNS = COLUMNS
    LEFT = frozenset(_LEFT)

    def _tight(self) -> bool:
        """Too narrow for the full per-vCPU split beside every other column."""
        return self.size.width < FULL_SPLIT_WIDTH

    def on_resize(self) -> None:
        """Crossing the full-split width changes the columns: redraw at once."""
        if self._last is not None and "vcpus" in dict(self.COLUMNS):
            tight = "misses" not in dict(self.COLUMNS)
            if tight != self._tight():
                self.show(*self._last)  # type: ignore[arg-type]

    def show(
        self,
        doorbells: Sequence[DoorbellStats],
        slots: Sequence[SlotStats],
        checkpoint: Checkpoint | None,
    ) -> None:
        """Show these doorbells, touching only the cells that changed."""
        self._last = (doorbells, slots, checkpoint)
        # One pass over slots and checkpoint each: a row per registered address
        # means ~1,000 rows with 1,000 registrations.
        vcpus = max((len(d.per_vcpu) for d in doorbells), default=1)
        columns = COLUMNS + ((VCPU_COLUMN,) if vcpus > 1 else ())
        tight = vcpus > 1 and self._tight()
        if tight:
            # Too narrow for it all: the per-vCPU split (of rings) wins over the
            # misses and the per-row exact check (the border still gives its verdict).
            columns = tuple(c for c in columns if c[0] not in ("misses", "check"))
            columns = tuple(c if c[0] != "vcpus" else ("vcpus", "vCPU:rings") for c in columns)
        keys = [k for k, _ in columns]
        if columns != self.COLUMNS:
            self.COLUMNS = columns  # type: ignore[misc]
            self._shown = {}
            self.clear(columns=True)
            self._add_columns()
        writes: dict[str, list[str]] = {}
        for s in slots:
            key = doorbell_key(s.spec.bus, s.spec.addr)
            write = f"{s.spec.width}B←{s.spec.value:#x}"
            if write not in writes.setdefault(key, []):  # every vCPU rings the same plan
                writes[key].append(write)
        exact = {doorbell_key(d.bus, d.addr): d for d in checkpoint.doorbells} if checkpoint else {}
        rows = {}
        for d in doorbells:
            key = doorbell_key(d.bus, d.addr)
            row = cells(d, writes.get(key, ()), checkpoint, exact.get(key), self.compact)
            by_key = dict(zip((k for k, _ in COLUMNS), row, strict=True))
            if vcpus > 1:
                by_key["vcpus"] = per_vcpu_cell(d, compact=tight)
            rows[key] = tuple(by_key[k] for k in keys)
        if list(rows) != list(self._shown):
            self.clear()
            for row_key, row in rows.items():
                self.add_row(
                    *(self._cell(k, v) for (k, _), v in zip(columns, row, strict=True)), key=row_key
                )
        else:
            self._update_cells(rows)
        self._shown = rows

    def _cell(self, col_key: str, value: str) -> Text:
        if col_key in ("check", "live"):
            # DataTable cells are Rich text, which cannot read $variables: resolve them.
            theme = self.app.theme_variables
            if value.startswith("✓"):
                return Text(" " + value, style=f"bold {theme['success']}")
            if value.startswith("✗"):
                return Text(" " + value, style=f"bold {theme['error']}")
        return super()._cell(col_key, value)
