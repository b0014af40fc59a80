"""The coalesced zones: one row per zone, its ring entries and its writes that
found the ring full; the ring itself in the border (drain mode, occupancy)."""

from __future__ import annotations

from collections.abc import Sequence

from iofdtui.engine.model import format_addr
from iofdtui.engine.zone_stats import RingStats, ZoneStats
from iofdtui.reports import format as fmt
from iofdtui.ui.widgets.counts_table import CountsTable

COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "zone"),
    ("zone", "covers"),
    ("entries", "ring entries"),
    ("full", "ring full"),
    ("per_k", "full /1k"),
    ("state", ""),
)
"""(column key, header) in display order."""


def zone_cells(zone: ZoneStats, compact: bool = False) -> tuple[str, ...]:
    """One zone's row: where it is, its entries, its ring-full exits (and per 1,000 writes)."""
    spec = zone.spec
    end = spec.addr + spec.size - 1
    where = f"{spec.bus.value} {format_addr(spec.bus, spec.addr)}–{format_addr(spec.bus, end)}"
    writes = zone.entries + zone.ring_full
    per_k = fmt.fixed(1000 * zone.ring_full / writes, 1) if writes else fmt.DASH
    return (
        f"z{zone.id}",  # zones number apart from registrations
        where,
        fmt.count(zone.entries, compact),
        fmt.count(zone.ring_full, compact),
        per_k,
        "removed" if zone.removed else "",
    )


def ring_summary(ring: RingStats | None) -> str:
    """The ring in one line: who drains it, how full a drain finds it, what went wrong."""
    if ring is None:
        return ""
    drained = "at exits" if ring.mode == "exits" else "by a thread (100 µs)"
    parts = [f"ring {ring.capacity} entries, drained {drained}"]
    if ring.mean_found is not None:
        parts.append(f"{ring.mean_found:.0f} a drain (max {ring.found_max})")
    if ring.delay_p50_ns is not None and ring.delay_p99_ns is not None:
        parts.append(
            f"delay p50 {fmt.ns(ring.delay_p50_ns)} p99 {fmt.ns(ring.delay_p99_ns)} "
            f"({ring.delay_samples:,} timed, {ring.delay_untimed:,} not)"
        )
    for count, what in (
        (ring.stray, "stray"),
        (ring.bad, "bad"),
    ):
        if count:
            parts.append(f"{count:,} {what}")
    if ring.scribbled or ring.repaired:
        # `first` is put back at the drain that finds it moved; `last` only while parked.
        parts.append(f"{ring.scribbled:,} scribbled, {ring.repaired:,} put back at a pause")
    return " · ".join(parts)


class ZonesTable(CountsTable):
    """One row per coalesced zone (live, then removed since reset); `d` removes
    the one under the cursor."""

    DEFAULT_CSS = """
    ZonesTable {
        height: auto;
        max-height: 8;
        border: round $primary 50%;
        border-title-color: $accent;
        border-subtitle-color: $text-muted;
        scrollbar-size-vertical: 1;
    }
    ZonesTable:focus {
        border: round $accent;
    }
    """

    COLUMNS = COLUMNS
    LEFT = frozenset({"id", "zone", "state"})

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row")
        self._last: tuple[Sequence[ZoneStats], RingStats | None] | None = None

    @property
    def selected_id(self) -> int | None:
        """The live zone under the cursor, if any."""
        key = self.cursor_key
        if key is None or self._last is None:
            return None
        zone_id = int(key)
        live = any(z.id == zone_id and not z.removed for z in self._last[0])
        return zone_id if live else None

    def redraw(self) -> None:
        """Show the last zones again (in the format the width asks for)."""
        if self._last is not None:
            self.show(*self._last)

    def show(self, zones: Sequence[ZoneStats], ring: RingStats | None) -> None:
        """Show these zones; the ring's figures go in the border."""
        self._last = (zones, ring)
        if not self.columns:
            # A reading may reach a table just mounted, before its on_mount.
            self.set_columns(self.COLUMNS, self.LEFT, self.SHARED)
        self.border_title = "Coalesced zones"
        self.border_subtitle = ring_summary(ring)
        rows = {str(z.id): zone_cells(z, self.compact) for z in zones}  # ids are never reused
        self.set_rows(rows)
