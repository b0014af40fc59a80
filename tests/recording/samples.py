"""Recordings and snapshots to test with: every field filled, nothing from /dev/kvm."""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Mapping
from typing import Any

from iofdtui.engine import snapshot as snapshot_module
from iofdtui.engine.kernel_counters import KernelCounters, OurCounts, Relation
from iofdtui.engine.model import Bus, RegistrationSpec, SlotSpec
from iofdtui.engine.snapshot import Snapshot, VcpuCounts, WhyCost
from iofdtui.recording.frames import Event, Histograms
from tests.ui.fake_lab import (
    IOEVENTFD_HIST,
    KICK,
    MACHINE,
    READER_HIST,
    SNAPSHOT,
    STREAM,
    USERSPACE_HIST,
    WAKE,
    WAKE_HIST,
)

# Values a generated instance takes, by type; awkward on purpose (a float
# with no short decimal form, a u64 at its top, text beyond ASCII).
_SCALARS: dict[Any, Any] = {
    int: 0xFFFF_FFFF_FFFF_FFFF,
    float: 0.1 + 0.2,
    bool: True,
    str: 'vCPU→CPU1 · "quoted"\nnewline',
}
_MODEL: dict[Any, Any] = {
    RegistrationSpec: RegistrationSpec(Bus.MMIO, 0xFE00_0000, 4, 0x1),
    SlotSpec: SlotSpec(Bus.PIO, 0x3F8, 1, 0x42, 32),
}


def generated(hint: Any) -> Any:
    """An instance of `hint` with every field set (optional ones not None).

    Driven by type hints alone, so a field added to a snapshot dataclass is
    covered by the round-trip tests with no change here.
    """
    if hint in _SCALARS:
        return _SCALARS[hint]
    if hint in _MODEL:
        return _MODEL[hint]
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Union or origin is types.UnionType:
        return generated(next(a for a in args if a is not type(None)))
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return (generated(args[0]), generated(args[0]))
        return tuple(generated(a) for a in args)
    if isinstance(origin, type) and issubclass(origin, Mapping):
        return {generated(args[0]): generated(args[1])}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return list(hint)[-1]
    if dataclasses.is_dataclass(hint):
        hints = typing.get_type_hints(hint)
        values = {f.name: generated(hints[f.name]) for f in dataclasses.fields(hint) if f.init}
        return hint(**values)
    raise TypeError(f"no sample for {hint!r}")


def snapshot_dataclasses() -> list[type]:
    """Every dataclass the snapshot module defines."""
    return [
        obj
        for obj in vars(snapshot_module).values()
        if isinstance(obj, type)
        and dataclasses.is_dataclass(obj)
        and obj.__module__ == snapshot_module.__name__
    ]


def rich_snapshot(taken_at: float = 100.0) -> Snapshot:
    """The fake lab's snapshot with the optional parts filled in as a paced, pinned,
    two-vCPU reading would have them."""
    regs = tuple(
        dataclasses.replace(
            r,
            wake=WAKE,
            kick=KICK["epoll"],
            by_reader=tuple(
                snapshot_module.ReaderCost(m, STREAM[m], KICK[m]) for m in ("none", "epoll")
            ),
        )
        for r in SNAPSHOT.registrations
    )
    doorbells = tuple(
        dataclasses.replace(
            d,
            issued=d.rings + 17,
            per_vcpu=(VcpuCounts(0, d.rings, d.exits, d.rings + 17), VcpuCounts(1, 0, 0)),
        )
        for d in SNAPSHOT.doorbells
    )
    ours = OurCounts(673_569, 134_919, 0, 134_919, 403_731, 12)
    kernel = KernelCounters(
        {"exits": 404_000, "mmio_exits": 403_731, "io_exits": 0},
        ours,
        (Relation("mmio_exits", "MMIO userspace exits", 403_731, 403_731),),
    )
    checkpoint = dataclasses.replace(SNAPSHOT.checkpoint, doorbells=doorbells, kernel=kernel)
    return dataclasses.replace(
        SNAPSHOT,
        taken_at=taken_at,
        registrations=regs,
        removed=(dataclasses.replace(regs[0], id=7, removed=True),),
        doorbells=doorbells,
        checkpoint=checkpoint,
        pace_us=100.0,
        wake_note=None,
        vcpus=2,
        pinning="vCPU→CPU1 · reader, UI→CPU0",
        why=WhyCost(9_804, 11_253, 41, 3_120_000, 55_225),
        ring_rate=float("inf"),  # never from the engine: proves non-finite floats survive
    )


def histograms() -> Histograms:
    """Histograms of the shape the detail pane draws."""
    return Histograms(
        registrations={1: tuple(IOEVENTFD_HIST)},
        wakes={1: tuple(WAKE_HIST)},
        baselines={(Bus.PIO, 1): tuple(USERSPACE_HIST)},
        readers={1: {m: tuple(h) for m, h in READER_HIST.items()}},
    )


EVENTS = (
    Event(0.5, "registered #1 pio 0x03f8/1 any value", "information"),
    Event(0.75, "checkpoint ✗: 1 ring unaccounted", "error"),
)

__all__ = ["EVENTS", "MACHINE", "generated", "histograms", "rich_snapshot", "snapshot_dataclasses"]
