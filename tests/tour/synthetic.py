"""Readings made up for the tour's tests: the engine's own dataclasses, counts chosen.

Built by `dataclasses.replace` on the fake lab's fixed snapshot, naming only
the counts the tour reads, so they follow any other change to those classes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from iofdtui.engine.model import Bus, RegistrationSpec
from iofdtui.engine.snapshot import Checkpoint, DoorbellStats, Snapshot
from tests.ui.fake_lab import DOORBELLS, REGISTRATIONS, SNAPSHOT

PIO_600 = (Bus.PIO, 0x0600)
MMIO_FF = (Bus.MMIO, 0xFE0F_F000)
DOOR = RegistrationSpec(Bus.PIO, 0x0600, 1)


def doorbell(key: tuple[Bus, int], rings: int, signals: int, exits: int) -> DoorbellStats:
    """One doorbell's counts."""
    bus, addr = key
    misses = ((1 if bus is Bus.PIO else 4, 0, exits),) if exits else ()  # the guest writes 0x0
    return replace(
        DOORBELLS[0],
        bus=bus,
        addr=addr,
        rings=rings,
        signals=signals,
        exits=exits,
        exits_by_value=misses,
        issued=None,
    )


def reading(
    taken_at: float,
    doors: Mapping[tuple[Bus, int], tuple[int, int, int]] | None = None,
    regs: Mapping[int, int] | None = None,
    *,
    removed: Mapping[int, int] | None = None,
    total: int = 0,
    state: str = "running",
    reader: str = "epoll",
    checkpoint: Checkpoint | None = None,
) -> Snapshot:
    """A reading at `taken_at`: doors {key: (rings, signals, exits)}, regs {id: signals}."""

    def reg(reg_id: int, signals: int, gone: bool = False):  # type: ignore[no-untyped-def]
        return replace(
            REGISTRATIONS[0], id=reg_id, spec=DOOR, signals=signals, rings=signals, removed=gone
        )

    return replace(
        SNAPSHOT,
        taken_at=taken_at,
        doorbells=tuple(doorbell(k, *v) for k, v in (doors or {}).items()),
        registrations=tuple(reg(i, s) for i, s in (regs or {}).items()),
        removed=tuple(reg(i, s, True) for i, s in (removed or {}).items()),
        total_rings=total,
        state=state,
        consumer=reader,
        checkpoint=checkpoint,
    )


def checkpoint(number: int, balance: int = 0, exact: bool = True) -> Checkpoint:
    """A checkpoint over the two baseline doorbells; `balance` unaccounted rings at 0x0600."""
    doors = (doorbell(PIO_600, 1000 + balance, 400, 600), doorbell(MMIO_FF, 500, 0, 500))
    return Checkpoint(
        number=number, taken_at=0.0, exact=exact, doorbells=doors, attribution_ok=True
    )
