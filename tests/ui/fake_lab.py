"""A lab that returns one fixed snapshot: layout tests without /dev/kvm.

Every figure is a fixed number of the same shape the engine produces, so the
SVG snapshots are the same on every machine and every run.
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from iofdtui.engine.errors import KvmUnavailable, RegistrationRejected
from iofdtui.engine.model import Bus, RegistrationSpec, SlotSpec, SpecError
from iofdtui.engine.snapshot import (
    READERS,
    Checkpoint,
    DoorbellStats,
    Health,
    Latency,
    MachineFacts,
    ReaderCost,
    RegistrationStats,
    SlotStats,
    Snapshot,
    WakeLatency,
    WhyCost,
)
from iofdtui.engine.zone_stats import RingStats, ZoneSpec, ZoneStats

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

BASE_PIO = Latency(262, 6_770.0, 10_700.0, 7_012.0, 513.0)
BASE_MMIO = Latency(525, 6_870.0, 11_900.0, 7_120.0, 513.0)
LAT_PIO = Latency(263, 1_470.0, 14_500.0, 2_010.0, 513.0)
LAT_MMIO = Latency(263, 1_520.0, 11_000.0, 1_830.0, 513.0)
REGISTRATIONS = (
    RegistrationStats(1, PIO, 14, 134_919, 45_012.0, 134_919, LAT_PIO, 4.61, baseline_width=1),
    RegistrationStats(2, MMIO, 15, 134_919, 45_012.0, 134_919, LAT_MMIO, 4.52, baseline_width=4),
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
ZONE_COUNTS = (132_982, 1_424)
"""Every fake zone's ring entries and ring-full exits."""

RING = RingStats("exits", 170, 812, 132_982, 169, 781, 0, 0, 0, 0)
"""The fake coalesced ring: drained at exits, found full at most drains."""

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
    baselines={(Bus.PIO, 1): BASE_PIO, (Bus.MMIO, 4): BASE_MMIO},
)

# Net histograms in ns, as the engine gives them (each sample's timer share out).
IOEVENTFD_HIST = [(1_140.0, 40), (1_440.0, 120), (1_740.0, 60), (2_640.0, 20), (7_240.0, 23)]
USERSPACE_HIST = [(6_640.0, 150), (7_040.0, 80), (7_840.0, 22), (10_240.0, 10)]

# Per reader mode (fixed figures of the engine's shape, not expectations): the
# PIO registration's stream cost (a visit's mean per ring, 513 rings a visit),
# its kick (one paced write), and the histograms behind them.
STREAM = {
    "none": Latency(1_024, 610.0, 2_950.0, 840.0, 513.0),
    "poll": Latency(996, 690.0, 3_400.0, 930.0, 513.0),
    "epoll": LAT_PIO,
}
KICK = {
    "none": Latency(880, 2_310.0, 4_050.0, 2_480.0, 1.0),
    "poll": Latency(870, 2_460.0, 5_100.0, 2_700.0, 1.0),
    "epoll": Latency(860, 7_900.0, 19_400.0, 9_050.0, 1.0),
}
BASE_KICK = Latency(850, 8_900.0, 12_300.0, 9_300.0, 1.0)
READER_HIST = {
    "none": [(540.0, 300), (640.0, 500), (840.0, 180), (2_140.0, 30), (2_940.0, 14)],
    "poll": [(640.0, 260), (740.0, 480), (1_040.0, 200), (2_640.0, 40), (3_340.0, 16)],
    "epoll": IOEVENTFD_HIST,
}
KICK_HIST = [(2_240.0, 300), (7_840.0, 400), (9_240.0, 120), (19_240.0, 40)]
BASE_KICK_HIST = [(8_840.0, 500), (9_440.0, 300), (12_240.0, 50)]
WAKE = WakeLatency(13_037, 25_400.0, 56_400.0, 27_100.0, coalesced=186)
WAKE_HIST = [(18_000.0, 2_000), (22_000.0, 5_000), (25_000.0, 4_000), (40_000.0, 1_500)]
# Over the last interval: the registration's reader wake-ups and signals, the
# vCPU thread's preemptions, run-queue wait (ns) and rings.
WHY = {
    "none": WhyCost(0, 11_253, 3, 210_000, 55_225),
    "poll": WhyCost(2_911, 11_253, 17, 1_400_000, 55_225),
    "epoll": WhyCost(9_804, 11_253, 41, 3_120_000, 55_225),
}
PINNING = "vCPU→CPU1 · reader, UI→CPU0"

FIXED_TIME = datetime(2026, 1, 1, 12, 0, 0)


def fixed_clock() -> datetime:
    """The time every event-log line shows in layout tests."""
    return FIXED_TIME


class FakeLab:
    """Answers like `Lab`, with fixed figures; registrations are remembered."""

    machine = MACHINE
    any_length = True
    completions_note: str | None = "this lab cannot answer with interrupts"

    cpus = 2
    """CPUs the fake machine has (pinning needs two)."""

    def __init__(self, vcpus: int = 1) -> None:
        self.vcpus = vcpus
        self.closed = False
        self._reader = "epoll"
        self._pinned = False
        self.measured = {"epoll"}
        """Reader modes measured since the last reset."""
        self._pace_us: float | None = None
        self._plan = list(PLAN)
        self._shared: list[SlotSpec] | None = None
        self.regs: dict[int, RegistrationSpec] = {}
        self._next_id = 0
        self.state = "running"
        """What `pause` and `resume` last left (the fixed snapshot says running)."""
        self.readings = 0
        """Snapshots taken: each is an interval after the last, as a real lab's are."""
        self.zone_specs: dict[int, ZoneSpec] = {}
        self.removed_zones: list[ZoneStats] = []

    def start(self) -> None:
        """Nothing to start."""

    def close(self) -> None:
        """Remember that the app closed it."""
        self.closed = True

    def set_plan(self, slots: Sequence[SlotSpec], vcpu: int = 0) -> None:
        """Take the plan; an MMIO address past 32 bits fails as the old engine did.

        That failure comes half-way, with the old plan already retired (as
        the engine's cffi `OverflowError` once did), so the app must restore it.
        """
        if any(slot.addr > 0xFFFF_FFFF for slot in slots):
            self._plan = []
            raise OverflowError("integer 4294967296 does not fit '32-bit unsigned int'")
        self._plan = list(slots)

    def set_plans(self, plans: Sequence[Sequence[SlotSpec]]) -> None:
        """One plan per vCPU (the fake keeps vCPU 0's)."""
        assert len(plans) == self.vcpus
        self.set_plan(plans[0])
        self._shared = None

    def share_plan(self, plan: Sequence[SlotSpec]) -> None:
        """Every vCPU rings `plan` (the fake has no completions to split it by)."""
        self.set_plans([plan] * self.vcpus)
        self._shared = list(plan)

    @property
    def shared_plan(self) -> list[SlotSpec] | None:
        """The plan `share_plan` was given last (None: set per vCPU since)."""
        return None if self._shared is None else list(self._shared)

    def completion(self, reg_id: int) -> None:
        """The fake gives no registration a completion (see `completions_note`)."""
        return None

    @property
    def pace_us(self) -> float | None:
        """The pace last set."""
        return self._pace_us

    def set_pace(self, period_us: float | None) -> None:
        """Remember the pace; refuse it on two vCPUs as the engine does."""
        if period_us is not None and self.vcpus > 1:
            raise ValueError("paced mode (wake-up latency) runs on one vCPU: use Lab(vcpus=1)")
        self._pace_us = period_us

    def plan(self, vcpu: int = 0) -> list[SlotSpec]:
        """The plan last set (the demo plan at first)."""
        return list(self._plan)

    def add_registration(self, spec: RegistrationSpec) -> int:
        """Accept, or refuse a collision the way the engine words it."""
        for reg_id, other in self.regs.items():
            if other.collides(spec):
                raise RegistrationRejected(
                    errno.EEXIST,
                    f"EEXIST: {spec.describe()} collides with #{reg_id} ({other.describe()}); "
                    "remove it first, or use another width or a different trigger value",
                )
        self._next_id += 1  # ids are never reused, as the engine's
        self.regs[self._next_id] = spec
        return self._next_id

    def remove_registration(self, reg_id: int) -> RegistrationStats:
        """Forget it; return the fixed final figures, under its id."""
        self.regs.pop(reg_id, None)
        return replace(REGISTRATIONS[0], id=reg_id)

    def registrations(self) -> dict[int, RegistrationSpec]:
        """What was added."""
        return dict(self.regs)

    def add_zone(self, bus: Bus, addr: int, size: int) -> int:
        """Accept a zone the engine would (its checks are ZoneSpec's)."""
        spec = ZoneSpec(bus, addr, size)
        try:
            spec.validate()
        except SpecError as err:
            raise RegistrationRejected(errno.EINVAL, str(err), err.field) from None
        self._next_id += 1
        self.zone_specs[self._next_id] = spec
        return self._next_id

    ring_drain = "exits"
    """Who drains the coalesced ring (nothing is drained here: the counts are fixed)."""

    def set_ring_drain(self, mode: str) -> None:
        """Take the mode, as the engine does between epochs."""
        self.ring_drain = mode

    def zones(self) -> dict[int, ZoneSpec]:
        """The zones added and not removed."""
        return dict(self.zone_specs)

    def remove_zone(self, zone_id: int) -> ZoneStats:
        """Forget it; its final counts are the fixed ones."""
        final = ZoneStats(zone_id, self.zone_specs.pop(zone_id), *ZONE_COUNTS, removed=True)
        self.removed_zones.append(final)
        return final

    def _zoned(self, snap: Snapshot) -> Snapshot:
        """Zones as a real lab shows them: the fixed counts on every zone, and the
        doorbells they cover turned into ring entries (the ring full the rest)."""
        if not self.zone_specs and not self.removed_zones:
            return snap
        zones = tuple(ZoneStats(i, z, *ZONE_COUNTS) for i, z in self.zone_specs.items())
        doors = []
        for door in snap.doorbells:
            if any(
                z.bus is door.bus and z.covers_addr(door.addr) for z in self.zone_specs.values()
            ):
                entries, full = door.rings - ZONE_COUNTS[1], ZONE_COUNTS[1]
                door = replace(
                    door,
                    signals=0,
                    exits=full,
                    exits_by_value=((1, 0, full),),
                    entries=entries,
                    entries_by_value=((1, 0, entries),),
                    ring_full=full,
                )
            doors.append(door)
        return replace(
            snap, zones=zones + tuple(self.removed_zones), ring=RING, doorbells=tuple(doors)
        )

    def pause(self, timeout: float = 2.0) -> bool:
        """Always exact."""
        self.state = "paused"
        return True

    def resume(self) -> None:
        """Ring again (in name: the figures are fixed)."""
        self.state = "running"

    def reset_counters(self) -> None:
        """From now on only the reader in force has been measured."""
        self.measured = {self._reader}

    @property
    def reader(self) -> str:
        """The reader mode in force."""
        return self._reader

    def set_reader(self, mode: str) -> None:
        """Switch reader; it counts as measured from now on."""
        if mode not in READERS:
            raise ValueError(f"reader mode must be one of {', '.join(READERS)}, not {mode!r}")
        self._reader = mode
        self.measured.add(mode)

    consumer = reader
    set_consumer = set_reader

    @property
    def pinning(self) -> str | None:
        """Where the threads are pinned, or None."""
        return PINNING if self._pinned else None

    def set_pinning(self, on: bool) -> None:
        """Pin (or not); refused with one line below two CPUs."""
        if on and self.cpus < 2:
            raise ValueError(f"pinning needs at least 2 CPUs; this machine has {self.cpus}")
        self._pinned = on

    def checkpoint(self) -> Checkpoint:
        """The fixed checkpoint."""
        return CHECKPOINT

    def snapshot(self) -> Snapshot:
        """The fixed snapshot, under the reader, pace and pinning in force."""
        reader, paced = self._reader, self._pace_us is not None
        by_reader = tuple(
            ReaderCost(
                name,
                Latency.empty() if paced else STREAM[name],
                KICK[name] if paced else Latency.empty(),
            )
            for name in READERS
            if name in self.measured
        )
        why = WHY[reader]

        interval = {"reader_wakeups": why.reader_wakeups, "new_signals": why.signals}

        def under_reader(stats: RegistrationStats) -> RegistrationStats:
            if stats.spec != PIO:
                return replace(stats, by_reader=by_reader, **interval)
            if paced:
                kick = KICK[reader]
                return replace(
                    stats,
                    latency=kick,
                    ratio=round(BASE_KICK.p50_ns / kick.p50_ns, 2),
                    kick=kick,
                    wake=WAKE,
                    by_reader=by_reader,
                    **interval,
                )
            stream = STREAM[reader]
            return replace(
                stats,
                latency=stream,
                ratio=round(BASE_PIO.p50_ns / stream.p50_ns, 2),
                by_reader=by_reader,
                **interval,
            )

        lab_why = replace(why, reader_wakeups=2 * why.reader_wakeups, signals=2 * why.signals)
        slots = SNAPSHOT.slots
        if self.vcpus > 1:  # every vCPU rings the same plan: its slots repeat vCPU 0's
            count = len(slots)
            slots += tuple(replace(s, index=s.index + count, vcpu=1) for s in slots)
        self.readings += 1
        snap = replace(
            SNAPSHOT,
            taken_at=SNAPSHOT.taken_at + (self.readings - 1) * (SNAPSHOT.interval_s or 0.25),
            slots=slots,
            registrations=tuple(under_reader(r) for r in SNAPSHOT.registrations),
            consumer=reader,
            pace_us=self._pace_us,
            pinning=self.pinning,
            vcpus=self.vcpus,
            why=lab_why,
            baselines={**SNAPSHOT.baselines, (Bus.PIO, 1): BASE_KICK if paced else BASE_PIO},
        )
        return self._zoned(snap)

    def registration_histogram(self, reg_id: int) -> list[tuple[float, int]]:
        """Its ring cost under the reader in force (the kick's, when paced)."""
        return list(KICK_HIST if self._pace_us is not None else READER_HIST[self._reader])

    def reader_histograms(self, reg_id: int) -> dict[str, list[tuple[float, int]]]:
        """Its stream ring cost under every reader measured since reset."""
        if self._pace_us is not None:
            return {}
        return {name: list(READER_HIST[name]) for name in READERS if name in self.measured}

    def wake_histogram(self, reg_id: int) -> list[tuple[float, int]]:
        """Wake-up latency while paced."""
        return list(WAKE_HIST) if self._pace_us is not None else []

    def baseline_histogram(self, bus: Bus, width: int) -> list[tuple[float, int]]:
        """The userspace-exit path's (its kick's, when paced)."""
        return list(BASE_KICK_HIST if self._pace_us is not None else USERSPACE_HIST)


def no_kvm(vcpus: int = 1) -> FakeLab:
    """A lab factory failing as `Lab()` does without /dev/kvm."""
    raise KvmUnavailable(
        errno.ENOENT,
        "/dev/kvm does not exist: load KVM (modprobe kvm_intel or kvm_amd) "
        "or enable virtualization in the firmware or VM settings",
    )
