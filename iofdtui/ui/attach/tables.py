"""The attached VM's tables: doorbells, and the selected one's values and threads."""

from __future__ import annotations

from typing import ClassVar

from iofdtui.engine.attach.snapshot import TracedDoorbell
from iofdtui.engine.model import format_addr
from iofdtui.reports import format as fmt
from iofdtui.ui.widgets.counts_table import CountsTable


def doorbell_key(door: TracedDoorbell) -> str:
    """A doorbell's row key: bus and address."""
    return f"{door.bus}:{door.addr:x}"


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else fmt.DASH


class TracedDoorbellsTable(CountsTable):
    """Every doorbell the attached VM wrote: writes, served in the kernel, exits."""

    COLUMNS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("doorbell", "doorbell"),
        ("writes", "writes"),
        ("rate", "writes/s"),
        ("kernel", "in kernel"),
        ("exits", "exits"),
        ("share", "in kernel %"),
        ("undecided", "undecided"),
        ("values", "values"),
    )
    LEFT: ClassVar[frozenset[str]] = frozenset({"doorbell"})
    NARROW: ClassVar[frozenset[str]] = frozenset({"share", "values"})
    """Left out under 100 columns, so nothing scrolls sideways (the values have their table)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row")
        self._last: tuple[tuple[TracedDoorbell, ...], dict[str, float | None]] | None = None
        self._shown_compact: bool | None = None

    def redraw(self) -> None:
        """Show the last doorbells again (in the format the width asks for)."""
        if self._last is not None:
            self.show(*self._last)

    def show(self, doors: tuple[TracedDoorbell, ...], rates: dict[str, float | None]) -> None:
        """Show these doorbells with their writes/s (`rates`, by row key)."""
        self._last = (doors, rates)
        c = self.compact
        if c != self._shown_compact:
            self._shown_compact = c
            columns = [col for col in self.COLUMNS if not (c and col[0] in self.NARROW)]
            self.set_columns(columns, self.LEFT)
        rows = {}
        for d in doors:
            key = doorbell_key(d)
            rows[key] = (
                f"{d.bus} {format_addr(d.bus, d.addr)}",
                fmt.count(d.writes, c),
                fmt.rate(rates.get(key)),
                fmt.count(d.in_kernel, c),
                fmt.count(d.exits, c),
                _share(d.in_kernel, d.writes - d.undecided),
                fmt.count(d.undecided, c),
                str(len(d.by_value)),
            )
            if c:
                rows[key] = rows[key][:5] + rows[key][6:7]
        self.set_rows(rows)


class TracedValuesTable(CountsTable):
    """The selected doorbell's writes by width and value."""

    COLUMNS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("value", "value"),
        ("width", "width"),
        ("writes", "writes"),
        ("kernel", "in kernel"),
        ("exits", "exits"),
    )
    LEFT: ClassVar[frozenset[str]] = frozenset({"value"})

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._last: TracedDoorbell | None = None

    def redraw(self) -> None:
        """Show the last doorbell's values again."""
        self.show(self._last)

    def show(self, door: TracedDoorbell | None) -> None:
        """Show `door`'s values (none: no doorbell selected)."""
        self._last = door
        c = self.compact
        rows = {}
        for v in door.by_value if door else ():
            key = f"{v.width}:{v.value}"
            rows[key] = (
                "any (fast path)" if v.value is None else f"{v.value:#x}",
                f"{v.width}B" if v.width else "?",
                fmt.count(v.writes, c),
                fmt.count(v.in_kernel, c),
                fmt.count(v.exits, c),
            )
        self.set_rows(rows)


class TracedThreadsTable(CountsTable):
    """The selected doorbell's writes by vCPU thread."""

    COLUMNS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("tid", "vCPU thread"),
        ("writes", "writes"),
        ("exits", "exits"),
    )
    LEFT: ClassVar[frozenset[str]] = frozenset({"tid"})

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._last: TracedDoorbell | None = None

    def redraw(self) -> None:
        """Show the last doorbell's threads again."""
        self.show(self._last)

    def show(self, door: TracedDoorbell | None) -> None:
        """Show `door`'s writes per thread (none: no doorbell selected)."""
        self._last = door
        c = self.compact
        rows = {}
        for t in door.by_thread if door else ():
            rows[str(t.tid)] = (
                str(t.tid),
                fmt.count(t.writes, c),
                fmt.count(t.exits, c),
            )
        self.set_rows(rows)
