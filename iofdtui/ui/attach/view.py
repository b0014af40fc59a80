"""Which doorbells the attached app shows, and in what order (its `f` and `o`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from iofdtui.engine.attach.snapshot import TracedDoorbell
from iofdtui.engine.model import format_addr
from iofdtui.ui.attach.tables import doorbell_key

SORT_KEYS = ("address", "writes", "writes/s", "exits", "in kernel %")
"""The orders `o` cycles through; every one but address puts the biggest first."""


def matches(door: TracedDoorbell, text: str) -> bool:
    """Whether `door`'s bus or address (as shown, or in plain hex) contains `text`."""
    needle = text.strip().lower()
    if not needle:
        return True
    shown = f"{door.bus} {format_addr(door.bus, door.addr)} {door.addr:x}".lower()
    return needle.removeprefix("0x") in shown or needle in shown


def _share(door: TracedDoorbell) -> float:
    decided = door.writes - door.undecided
    return door.in_kernel / decided if decided else -1.0


def arranged(
    doors: Iterable[TracedDoorbell], rates: dict[str, float | None], text: str, sort: str
) -> tuple[TracedDoorbell, ...]:
    """The doorbells that match `text`, in `sort` order (ties by bus and address)."""
    keys: dict[str, Callable[[TracedDoorbell], float]] = {
        "writes": lambda d: d.writes,
        "writes/s": lambda d: rates.get(doorbell_key(d)) or 0.0,
        "exits": lambda d: d.exits,
        "in kernel %": _share,
    }
    shown = sorted((d for d in doors if matches(d, text)), key=lambda d: (str(d.bus), d.addr))
    if sort in keys:
        shown.sort(key=keys[sort], reverse=True)  # stable: ties keep address order
    return tuple(shown)
