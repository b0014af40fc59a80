"""What the lab's view says about conservation: the doorbells table's verdict line
from the last checkpoint, and a loud line the first time a doorbell's live
bracket breaks (a count lost or invented)."""

from __future__ import annotations

from iofdtui.engine.model import Bus, format_addr
from iofdtui.engine.snapshot import Snapshot


def check_summary(snap: Snapshot) -> str:
    """The doorbells table's subtitle: the last checkpoint's verdict."""
    cp = snap.checkpoint
    if cp is None:
        return "check rings = signals + exits: waiting for the first checkpoint"
    verdict = "✓ all balance" if cp.conserved else "✗ MISMATCH"
    exact = "exact" if cp.exact else "guest kicked, ±1 in flight"
    terms = "signals + exits + ring entries" if snap.zones else "signals + exits"
    return f"check rings = {terms} at checkpoint #{cp.number} ({exact}): {verdict}"


class BrokenBrackets:
    """The doorbells whose live bracket is broken, to say each once when it breaks."""

    def __init__(self) -> None:
        self._broken: set[tuple[Bus, int]] = set()

    def newly_broken(self, snap: Snapshot) -> list[str]:
        """A line for each doorbell whose bracket broke since the last reading."""
        broken = {(d.bus, d.addr): d for d in snap.doorbells if not d.live_ok}
        lines = []
        for key, door in broken.items():
            if key not in self._broken:
                where = f"{door.bus.value} {format_addr(door.bus, door.addr)}"
                lines.append(
                    f"conservation broken at {where}: rings {door.rings:,}, signals "
                    f"{door.signals:,} + exits {door.exits:,}"
                    + (f" + ring entries {door.entries:,}" if door.entries else "")
                    + f" ({door.in_flight:+,})"
                )
        self._broken = set(broken)
        return lines
