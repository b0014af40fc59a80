"""A lab that returns one fixed snapshot: layout tests without /dev/kvm.

Every figure is a fixed number of the same shape the engine produces, so the
SVG snapshots are the same on every machine and every run.
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from datetime import datetime

from iofdtui.engine.errors import KvmUnavailable, RegistrationRejected
from iofdtui.engine.model import Bus, RegistrationSpec, SlotSpec
from iofdtui.engine.snapshot import (
    Checkpoint,
    DoorbellStats,
    Health,
    Latency,
    MachineFacts,
    RegistrationStats,
    SlotStats,
    Snapshot,
)

MACHINE = MachineFacts(
    kernel="6.18.44-fc-v669",
    kvm_module="kvm_pvm",
    emulated=True,
    emulation_note="kvm_pvm emulates every guest instruction: figures are the emulator's, "
    "not VM-exit costs",
    tsc_khz=2_596_132,
    api_version=12,
    capabilities=("KVM_CAP_IOEVENTFD", "KVM_CAP_IOEVENTFD_ANY_LENGTH"),
)

PIO = RegistrationSpec(Bus.PIO, 0x03F8, 1)
MMIO = RegistrationSpec(Bus.MMIO, 0xFE00_0000, 4, 0x1)
PLAN = (
    SlotSpec(Bus.PIO, 0x03F8, 1, 0x42, 32),
    SlotSpec(Bus.MMIO, 0xFE00_0000, 4, 0x1, 32),
    SlotSpec(Bus.MMIO, 0xFE00_0000, 4, 0x2, 32),
    SlotSpec(Bus.PIO, 0x0600, 1, 0x00, 32),
    SlotSpec(Bus.MMIO, 0xFE0F_F000, 4, 0x0, 32),
)

BASE_PIO = Latency(262, 6_770.0, 10_700.0, 7_012.0)
BASE_MMIO = Latency(525, 6_870.0, 11_900.0, 7_120.0)
LAT_PIO = Latency(263, 1_470.0, 14_500.0, 2_010.0)
LAT_MMIO = Latency(263, 1_520.0, 11_000.0, 1_830.0)
REGISTRATIONS = (
    RegistrationStats(1, PIO, 14, 134_919, 45_012.0, 134_919, LAT_PIO, BASE_PIO, 4.61),
    RegistrationStats(2, MMIO, 15, 134_919, 45_012.0, 134_919, LAT_MMIO, BASE_MMIO, 4.52),
)
DOORBELLS = (
    DoorbellStats(Bus.MMIO, 0xFE00_0000, 269_838, 134_919, 134_919, ((4, 2, 134_919),)),
    DoorbellStats(Bus.MMIO, 0xFE0F_F000, 134_406, 0, 134_406, ((4, 0, 134_406),)),
    DoorbellStats(Bus.PIO, 0x03F8, 134_919, 134_919, 0, ()),
    DoorbellStats(Bus.PIO, 0x0600, 134_406, 0, 134_406, ((1, 0, 134_406),)),
)
CHECKPOINT = Checkpoint(
    number=4, taken_at=0.0, exact=True, doorbells=DOORBELLS, attribution_ok=True
)
SNAPSHOT = Snapshot(
    taken_at=100.0,
    interval_s=0.25,
    state="running",
    fault=None,
    machine=MACHINE,
    timer_overhead_ns=1_760.0,
    total_rings=673_569,
    ring_rate=220_900.0,
    registrations=REGISTRATIONS,
    removed=(),
    slots=tuple(
        SlotStats(i, spec, rings, exits, served, Latency.empty())
        for i, (spec, rings, exits, served) in enumerate(
            [
                (PLAN[0], 134_919, 0, 1),
                (PLAN[1], 134_919, 0, 2),
                (PLAN[2], 134_919, 134_919, None),
                (PLAN[3], 134_406, 134_406, None),
                (PLAN[4], 134_406, 134_406, None),
            ]
        )
    ),
    doorbells=DOORBELLS,
    checkpoint=CHECKPOINT,
    health=Health(0, None, 0, 0, 0),
)

# Raw guest-cycle histograms in ns (the overhead of 1,760 ns is still in them).
IOEVENTFD_HIST = [(2_900.0, 40), (3_200.0, 120), (3_500.0, 60), (4_400.0, 20), (9_000.0, 23)]
USERSPACE_HIST = [(8_400.0, 150), (8_800.0, 80), (9_600.0, 22), (12_000.0, 10)]

FIXED_TIME = datetime(2026, 1, 1, 12, 0, 0)


def fixed_clock() -> datetime:
    """The time every event-log line shows in layout tests."""
    return FIXED_TIME


class FakeLab:
    """Answers like `Lab`, with fixed figures; registrations are remembered."""

    machine = MACHINE
    any_length = True

    def __init__(self, vcpus: int = 1) -> None:
        self.vcpus = vcpus
        self.closed = False
        self._consumer = "epoll"
        self._pace_us: float | None = None
        self.regs: dict[int, RegistrationSpec] = {}
        self.state = "running"
        """What `pause` and `resume` last left (the fixed snapshot says running)."""

    def start(self) -> None:
        """Nothing to start."""

    def close(self) -> None:
        """Remember that the app closed it."""
        self.closed = True

    def set_plan(self, slots: Sequence[SlotSpec], vcpu: int = 0) -> None:
        """Accept any plan."""

    def set_plans(self, plans: Sequence[Sequence[SlotSpec]]) -> None:
        """Accept one plan per vCPU."""
        assert len(plans) == self.vcpus

    @property
    def pace_us(self) -> float | None:
        """The pace last set."""
        return self._pace_us

    def set_pace(self, period_us: float | None) -> None:
        """Remember the pace; the figures stay fixed."""
        self._pace_us = period_us

    def plan(self) -> list[SlotSpec]:
        """The demo plan."""
        return list(PLAN)

    def add_registration(self, spec: RegistrationSpec) -> int:
        """Accept, or refuse a collision the way the engine words it."""
        for reg_id, other in self.regs.items():
            if other.collides(spec):
                raise RegistrationRejected(
                    errno.EEXIST,
                    f"EEXIST: {spec.describe()} collides with #{reg_id} ({other.describe()}); "
                    "remove it first, or use another width or a different trigger value",
                )
        reg_id = len(self.regs) + 1
        self.regs[reg_id] = spec
        return reg_id

    def remove_registration(self, reg_id: int) -> RegistrationStats:
        """Forget it; return the fixed final figures."""
        self.regs.pop(reg_id, None)
        return REGISTRATIONS[0]

    def registrations(self) -> dict[int, RegistrationSpec]:
        """What was added."""
        return dict(self.regs)

    def pause(self, timeout: float = 2.0) -> bool:
        """Always exact."""
        self.state = "paused"
        return True

    def resume(self) -> None:
        """Ring again (in name: the figures are fixed)."""
        self.state = "running"

    def reset_counters(self) -> None:
        """The figures are fixed."""

    @property
    def consumer(self) -> str:
        """The fake consumer's mode."""
        return self._consumer

    def set_consumer(self, mode: str) -> None:
        """Remember the mode; the figures stay fixed."""
        self._consumer = mode

    def checkpoint(self) -> Checkpoint:
        """The fixed checkpoint."""
        return CHECKPOINT

    def snapshot(self) -> Snapshot:
        """The fixed snapshot."""
        return SNAPSHOT

    def registration_histogram(self, reg_id: int) -> list[tuple[float, int]]:
        """A fixed ioeventfd histogram."""
        return list(IOEVENTFD_HIST)

    def wake_histogram(self, reg_id: int) -> list[tuple[float, int]]:
        """No paced rings in the fixed figures."""
        return []

    def baseline_histogram(self, bus: Bus, width: int) -> list[tuple[float, int]]:
        """A fixed userspace-exit histogram."""
        return list(USERSPACE_HIST)


def no_kvm(vcpus: int = 1) -> FakeLab:
    """A lab factory failing as `Lab()` does without /dev/kvm."""
    raise KvmUnavailable(
        errno.ENOENT,
        "/dev/kvm does not exist: load KVM (modprobe kvm_intel or kvm_amd) "
        "or enable virtualization in the firmware or VM settings",
    )
