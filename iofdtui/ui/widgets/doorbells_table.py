"""The doorbells table: every ring the guest made, and the path that took it."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import DataTable

from iofdtui.engine.model import Bus, format_addr
from iofdtui.engine.snapshot import Checkpoint, DoorbellStats, SlotStats
from iofdtui.ui import format as fmt

COLUMNS: tuple[tuple[str, str], ...] = (
    ("doorbell", "doorbell"),
    ("plan", "writes"),
    ("rings", "rings"),
    ("signals", "signals"),
    ("exits", "exits"),
    ("misses", "exits by value"),
    ("check", "check"),
)
"""(column key, header) in display order."""

_LEFT = {"doorbell", "plan", "misses", "check"}


def doorbell_key(bus: Bus, addr: int) -> str:
    """Row key of one doorbell."""
    return f"{bus.value}:{addr:x}"


def check_cell(checkpoint: Checkpoint | None, key: str) -> str:
    """✓ when the doorbell balanced at the last checkpoint, ✗ and the balance when not."""
    if checkpoint is None:
        return "…"
    for d in checkpoint.doorbells:
        if doorbell_key(d.bus, d.addr) == key:
            return "✓" if d.balance == 0 else f"✗ {d.balance:+d}"
    # Not rung and not registered when the checkpoint was taken: nothing to balance.
    return "·"


def cells(
    door: DoorbellStats,
    slots: Sequence[SlotStats],
    checkpoint: Checkpoint | None,
    compact: bool = False,
) -> tuple[str, ...]:
    """The row of one doorbell, as the strings shown."""
    writes = [
        f"{s.spec.width}B←{s.spec.value:#x}"
        for s in slots
        if (s.spec.bus, s.spec.addr) == (door.bus, door.addr)
    ]
    misses = " ".join(f"{v:#x}:{fmt.count(n, compact)}" for _w, v, n in door.exits_by_value)
    return (
        f"{door.bus.value} {format_addr(door.bus, door.addr)}",
        " ".join(writes) or "not rung",
        fmt.count(door.rings, compact),
        fmt.count(door.signals, compact),
        fmt.count(door.exits, compact),
        misses or fmt.DASH,
        check_cell(checkpoint, doorbell_key(door.bus, door.addr)),
    )


class DoorbellsTable(DataTable[Text]):
    """Per doorbell: guest rings, eventfd signals, userspace exits, and the check.

    The live columns move while the guest runs (a burst can be counted on one
    side before the other), so the check column is the exact one taken at the
    last checkpoint, when the guest was parked.
    """

    DEFAULT_CSS = """
    DoorbellsTable {
        height: auto;
        max-height: 10;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        # One leading space per cell instead of padding: see RegistrationsTable.
        super().__init__(id=id, cursor_type="none", zebra_stripes=True, cell_padding=0)
        self._shown: dict[str, tuple[str, ...]] = {}
        self._last: (
            tuple[Sequence[DoorbellStats], Sequence[SlotStats], Checkpoint | None] | None
        ) = None

    compact: bool = False
    """Counts past a million shortened (`1.97M`): set when under 100 columns wide."""

    def on_resize(self) -> None:
        """In a narrow terminal shorten big counts so every column stays in view."""
        compact = self.size.width < 100
        if compact != self.compact:
            self.compact = compact
            self._shown = {}
            # Columns only ever widen; start them afresh for the new format.
            self.clear(columns=True)
            self._add_columns()
            if self._last is not None:
                self.show(*self._last)  # at once, not at the next snapshot

    def _add_columns(self) -> None:
        for key, label in COLUMNS:
            self.add_column(self._cell(key, label), key=key)

    def on_mount(self) -> None:
        """Lay out the columns (unless a resize already has)."""
        if not self.columns:
            self._add_columns()

    def show(
        self,
        doorbells: Sequence[DoorbellStats],
        slots: Sequence[SlotStats],
        checkpoint: Checkpoint | None,
    ) -> None:
        """Show these doorbells, touching only the cells that changed."""
        self._last = (doorbells, slots, checkpoint)
        rows = {
            doorbell_key(d.bus, d.addr): cells(d, slots, checkpoint, self.compact)
            for d in doorbells
        }
        if list(rows) != list(self._shown):
            self.clear()
            for row_key, row in rows.items():
                self.add_row(
                    *(self._cell(k, v) for (k, _), v in zip(COLUMNS, row, strict=True)), key=row_key
                )
        else:
            for row_key, row in rows.items():
                for (col_key, _), new, prev in zip(COLUMNS, row, self._shown[row_key], strict=True):
                    if new != prev:
                        self.update_cell(
                            row_key, col_key, self._cell(col_key, new), update_width=True
                        )
        self._shown = rows

    def _cell(self, col_key: str, value: str) -> Text:
        if col_key == "check":
            # DataTable cells are Rich text, which cannot read $variables: resolve them.
            theme = self.app.theme_variables
            if value == "✓":
                return Text(" " + value, style=f"bold {theme['success']}")
            if value.startswith("✗"):
                return Text(" " + value, style=f"bold {theme['error']}")
        return Text(" " + value, justify="left" if col_key in _LEFT else "right")
