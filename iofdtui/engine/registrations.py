"""The lab's ioeventfd registrations: the live ones by id, the decoys, and the
final counts of those removed since the last reset.

Every method takes the native handle from `Lab`, which holds its lock, has
checked it is open and has paused the guest where a change needs it.
"""

from __future__ import annotations

import errno as E
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from iofdtui.engine.errors import RegistrationRejected, rejection
from iofdtui.engine.model import Bus, RegistrationSpec, SpecError
from iofdtui.engine.native import check, ffi, lib
from iofdtui.engine.native_reads import RegBuffers
from iofdtui.engine.snapshot import RegistrationStats


@dataclass
class Registration:
    """One live registration and what the previous reading left of it."""

    id: int
    spec: RegistrationSpec
    native_id: int
    eventfd: int
    last_signals: int = 0  # its signals at the previous snapshot
    last_reads: int = 0  # the reader's reads of it at the previous snapshot
    completion: str | None = None  # its completion's route (completions.py), None: none


class Registrations:
    """Live registrations (id -> Registration), decoys and removed ones."""

    def __init__(self) -> None:
        self.live: dict[int, Registration] = {}
        self.decoys: list[int] = []  # native ids
        self.removed: list[RegistrationStats] = []  # since the last reset, final counts
        self._next_id = 1
        # Bumped whenever the live set, its ids or what the last reading left
        # of them (a reset) changes: a reading keeps what it built from them
        # (`LiveSet`, rows, doorbells) while it holds.
        self.generation = 0

    def specs(self) -> dict[int, RegistrationSpec]:
        """The live registrations' specs by id."""
        return {rid: reg.spec for rid, reg in self.live.items()}

    def add(self, handle: object, spec: RegistrationSpec) -> int:
        """KVM_IOEVENTFD assign `spec`; returns its id or raises RegistrationRejected."""
        native_id, efd = self._assign(handle, spec)
        reg_id = self._next_id
        self._next_id += 1
        self.live[reg_id] = Registration(reg_id, spec, native_id, efd)
        self.generation += 1
        return reg_id

    def _assign(self, handle: object, spec: RegistrationSpec) -> tuple[int, int]:
        """Assign through the core: (native id, eventfd) or the kernel's refusal, explained."""
        rid, efd, stage = ffi.new("int *"), ffi.new("int *"), ffi.new("int *")
        rc = lib.lab_assign(
            handle,
            1 if spec.bus is Bus.PIO else 0,
            spec.addr,
            spec.width,
            0 if spec.trigger is None else 1,
            spec.trigger or 0,
            rid,
            efd,
            stage,
        )

        def refused(code: int, what: str) -> RegistrationRejected:
            clash = next(
                ((i, reg.spec) for i, reg in self.live.items() if reg.spec.collides(spec)), None
            )
            return rejection(spec, code, stage[0], len(self.live) + len(self.decoys), clash)

        check(rc, f"registering {spec.describe()}", raising=refused)
        return rid[0], efd[0]

    def deassign(self, handle: object, reg_id: int) -> tuple[Registration, int, int, int]:
        """Deassign and drain #reg_id: (it, final signals, final rings, rc).

        It leaves the live set whatever the kernel says (rc < 0: it refused);
        the drain after deassign may add its last few signals.
        """
        reg = self.live.pop(reg_id)
        self.generation += 1
        final = ffi.new("struct lab_path_stats *")
        rc = lib.lab_deassign(handle, reg.native_id, final)
        return reg, final.signals, final.rings, rc

    def add_decoys(
        self,
        handle: object,
        specs: Sequence[RegistrationSpec],
        rings_at: set[tuple[Bus, int]],
        any_length: bool,
    ) -> None:
        """Register each of `specs` as a decoy, stopping at the first refusal."""
        for spec in specs:
            if (spec.bus, spec.addr) in rings_at:
                raise RegistrationRejected(
                    E.EINVAL, f"decoy {spec.describe()} sits on a doorbell the guest rings"
                )
            try:
                spec.validate(any_length_supported=any_length)
            except SpecError as err:
                raise RegistrationRejected(E.EINVAL, str(err), err.field) from None
            try:
                native_id, _efd = self._assign(handle, spec)
            except RegistrationRejected as err:
                raise RegistrationRejected(
                    err.errno or E.EIO, f"{err} (after {len(self.decoys)} decoys)"
                ) from None
            self.decoys.append(native_id)

    def remove_decoys(self, handle: object) -> None:
        """Deassign every decoy."""
        for native in self.decoys:
            lib.lab_deassign(handle, native, ffi.NULL)
        self.decoys.clear()

    def reset(self) -> None:
        """Counters were zeroed: forget the removed and what the last reading saw."""
        self.removed.clear()
        for reg in self.live.values():
            reg.last_signals = 0
            reg.last_reads = 0
        self.generation += 1


class LiveSet(NamedTuple):
    """The live registrations as a reading sees them, in id order: built once
    per `key`, so rows and doorbells keep what they derive from it while it is
    the same object (`Readings.live_set` builds it)."""

    key: tuple[int, int]  # (Registrations.generation, RingPlan.layout) it holds for
    regs: list[Registration]
    native_ids: list[int]
    buffers: RegBuffers  # the C arrays the bulk reads of `native_ids` fill

    @classmethod
    def build(cls, registrations: Registrations, layout: int) -> LiveSet:
        """The live set of `registrations` under the ring plan's `layout`."""
        regs = list(registrations.live.values())
        native_ids = [reg.native_id for reg in regs]
        return cls((registrations.generation, layout), regs, native_ids, RegBuffers(native_ids))


NO_LIVE_SET = LiveSet((-1, -1), [], [], RegBuffers([]))
"""Before the first reading: matches no key."""
