"""Readings of the lab: the live snapshot and the exact checkpoint, and what
one reading leaves for the next (interval start, wake-ups, rows to reuse).

`Lab` calls these with its lock held, its native handle open, and its
registrations and ring plan; nothing here changes what the guest does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from iofdtui.engine import figures, native_reads, threads, zones
from iofdtui.engine.doorbells import DoorbellTally
from iofdtui.engine.figures import NO_SAMPLES, cycles_to_ns, net_latency
from iofdtui.engine.kernel_counters import KernelSample, OurCounts, compare, read_sample
from iofdtui.engine.kvm_stats import StatsReader
from iofdtui.engine.model import KIND_NAMES, MAX_SLOTS, Bus
from iofdtui.engine.native import lib
from iofdtui.engine.native_reads import (
    CURRENT,
    MODES,
    QUIET_PATHS,
    Timer,
    WakeCounts,
)
from iofdtui.engine.registrations import NO_LIVE_SET, LiveSet, Registration, Registrations
from iofdtui.engine.ring_plan import RingPlan
from iofdtui.engine.rows import RegistrationRows, registration_row
from iofdtui.engine.snapshot import (
    Checkpoint,
    Latency,
    MachineFacts,
    RegistrationStats,
    SlotStats,
    Snapshot,
    WakeLatency,
    WhyCost,
)


@dataclass(frozen=True)
class Settings:
    """What the lab is set to at a reading (its reader, pacing, pinning)."""

    reader: str
    pace_us: float | None
    pinning: str | None
    wake_note: str | None

    @property
    def mode(self) -> int:
        """The engine's figure set in force (enum lab_mode)."""
        return native_reads.mode_of(self.reader, self.pace_us is not None)


class Readings:
    """Takes snapshots and checkpoints, keeping what the next reading needs."""

    def __init__(
        self, machine: MachineFacts, kernel_stats: list[StatsReader] | None = None
    ) -> None:
        self.machine = machine
        self.vcpus = machine.vcpus
        self.tsc_khz = machine.tsc_khz
        self.checkpoint: Checkpoint | None = None
        self._checkpoints = 0
        self._kernel_stats = kernel_stats  # one per vCPU: the relations sum over them
        self._kernel_sample: KernelSample | None = None
        self._sched = threads.SchedWatch()
        self._last_wakeups = 0
        self._why_cut = False
        self._last_total: tuple[float, int] | None = None
        # Baselines reused while equal, so an unchanged one stays the same object.
        self._baselines: dict[tuple[Bus, int], Latency] = {}
        self._rows = RegistrationRows(self.tsc_khz)
        self._live_set = NO_LIVE_SET
        self._doorbells = DoorbellTally(self.vcpus)  # a snapshot's
        self.zones: zones.Zones | None = None  # the lab's coalesced zones, read with each snapshot
        self._checkpoint_doorbells = DoorbellTally(self.vcpus)

    def reset(self) -> None:
        """Counters were zeroed: rates, the why and the kernel baseline start again."""
        self._last_wakeups = 0
        self._sched.reset()
        self._last_total = None
        # A fresh baseline: our counts are zero now, the kernel's are not.
        self._kernel_sample = None

    def cut_why(self) -> None:
        """The next interval straddles a change of reader: give no why for it."""
        self._why_cut = True

    # ------------------------------------------------------------ figures

    def latencies(
        self, handle: object, kind: int, ids: list[int], timer: Timer | None, mode: int
    ) -> list[Latency]:
        """Net ring cost in `mode` of paths `ids` of one kind (NO_SAMPLES for one
        without samples), their quantiles read in one engine call."""
        paths = [native_reads.read_path(handle, kind, ident, mode) for ident in ids]
        timed = [i for i, path in enumerate(paths) if path is not None and path.samples]
        grid = native_reads.quantiles_grid(handle, kind, [ids[i] for i in timed], [mode])
        out = [NO_SAMPLES] * len(ids)
        for i, row in zip(timed, grid, strict=True):
            out[i] = net_latency(paths[i], row[0], timer, self.tsc_khz)
        return out

    def histogram(
        self, handle: object, kind: int, ident: int, mode: int
    ) -> list[tuple[float, int]]:
        """A path's raw histogram: (bucket lower bound in ns, count), non-empty buckets."""
        return [
            (cycles_to_ns(native_reads.bucket_cycles(b), self.tsc_khz), n)
            for b, n in native_reads.read_hist(handle, kind, ident, mode)
        ]

    def cost_histogram(
        self, handle: object, kind: int, ident: int, mode: int
    ) -> list[tuple[float, int]]:
        """A ring-cost path's histogram net of the timer's share (`figures.shifted_histogram`)."""
        hist = self.histogram(handle, kind, ident, mode)
        if not hist:
            return hist
        timer = native_reads.read_timer(handle, mode)
        path = native_reads.read_path(handle, kind, ident, mode)
        return figures.shifted_histogram(hist, path, timer, self.tsc_khz)

    def _read_baselines(
        self, handle: object, timers: dict[int, Timer | None], mode: int
    ) -> dict[tuple[Bus, int], Latency]:
        """The userspace-exit path of each (bus, width) in `mode`; an unchanged
        one is the previous reading's object."""
        kinds = list(KIND_NAMES)
        out = {}
        for kind, latency in zip(
            kinds,
            self.latencies(handle, lib.LAB_PATH_USER, kinds, timers[mode], mode),
            strict=True,
        ):
            key = KIND_NAMES[kind]
            previous = self._baselines.get(key)
            out[key] = previous if previous == latency else latency
        self._baselines = out
        return out

    def _why(self, handle: object, rings: int | None, signals: int) -> WhyCost | None:
        """Lab-wide: the reader's wake-ups and the vCPU threads' scheduling since
        the previous snapshot (None on the first, or when /proc cannot tell)."""
        reader_wakeups, tids = native_reads.read_threads(handle, self.vcpus)
        sched = self._sched.delta(tids)
        wakeups = reader_wakeups - self._last_wakeups
        self._last_wakeups = reader_wakeups
        cut, self._why_cut = self._why_cut, False
        if sched is None or rings is None or wakeups < 0 or cut:
            return None
        return WhyCost(
            reader_wakeups=wakeups,
            signals=signals,
            preemptions=sched[0],
            runqueue_wait_ns=sched[1],
            rings=rings,
        )

    # --------------------------------------------------------------- rows

    def final_row(
        self, handle: object, reg: Registration, plan: RingPlan, settings: Settings
    ) -> RegistrationStats:
        """A registration's row just before it is removed (no rate, wake-up or why)."""
        bufs = native_reads.RegBuffers([reg.native_id])
        paths = native_reads.read_regs(handle, bufs).get(0, QUIET_PATHS)
        timers = native_reads.read_timers(handle)
        q_by_mode = native_reads.quantiles_grid(
            handle, lib.LAB_PATH_REG, [reg.native_id], range(MODES)
        )[0]
        baselines = self._read_baselines(handle, timers, settings.mode)
        signals = paths[settings.mode].signals
        return registration_row(
            reg, paths, q_by_mode, timers, baselines, plan, settings.mode, settings.reader,
            self.tsc_khz, signals,
        )  # fmt: skip

    def _wakes(
        self,
        handle: object,
        regs: list[Registration],
        wakes: dict[int, WakeCounts],
        note: str | None,
    ) -> dict[int, WakeLatency | None]:
        """The wake-up figures of the registrations with wake-up counts (by index);
        timings only where they may be shown."""
        timed = [i for i, st in wakes.items() if st.samples and note is None and not st.negative]
        grid = native_reads.quantiles_grid(
            handle, lib.LAB_PATH_WAKE, [regs[i].native_id for i in timed], [CURRENT]
        )
        q_at = {i: row[0] for i, row in zip(timed, grid, strict=True)}
        out = {}
        for i, st in wakes.items():
            path = None
            if i in q_at:
                path = native_reads.read_path(handle, lib.LAB_PATH_WAKE, regs[i].native_id, CURRENT)
            out[i] = figures.wake_latency(st, path, q_at.get(i), self.tsc_khz)
        return out

    # ---------------------------------------------------------- readings

    def live_set(self, plan: RingPlan, regs: Registrations) -> LiveSet:
        """The live registrations, their native ids and the C arrays to read them:
        the previous reading's object while neither the registrations (their
        generation) nor the ring plan (its layout) changed."""
        if self._live_set.key != (regs.generation, plan.layout):
            self._live_set = LiveSet.build(regs, plan.layout)
        return self._live_set

    def snapshot(
        self, handle: object, regs: Registrations, plan: RingPlan, settings: Settings
    ) -> Snapshot:
        """Read every counter without stopping the guest."""
        now = time.monotonic()
        live_set = self.live_set(plan, regs)
        live, natives, ids = live_set.regs, live_set.native_ids, live_set.buffers
        slot_stats, signals, wakes = native_reads.read_live(handle, self.vcpus * MAX_SLOTS, ids)
        total = plan.rings_since_reset(slot_stats)
        interval = ring_rate = rings_delta = None
        if self._last_total is not None:
            interval = now - self._last_total[0]
            rings_delta = total - self._last_total[1]
            if interval > 0:
                ring_rate = rings_delta / interval
        self._last_total = (now, total)
        timers = native_reads.read_timers(handle)
        mode = settings.mode
        overhead = timers[mode]
        self._rows.follow(live_set)
        why = self._why(handle, rings_delta, self._rows.new_signals(live, signals))
        all_paths = native_reads.read_regs(handle, ids)
        rung = [i for i, paths in all_paths.items() if any(p.samples for p in paths)]
        grid = native_reads.quantiles_grid(
            handle, lib.LAB_PATH_REG, [natives[i] for i in rung], range(MODES)
        )
        baselines = self._read_baselines(handle, timers, mode)
        rows = self._rows.build(
            live,
            all_paths,
            signals,
            dict(zip(rung, grid, strict=True)),
            self._wakes(handle, live, wakes, settings.wake_note),
            timers,
            baselines,
            plan,
            mode,
            settings.reader,
            interval,
        )
        rung_slots = [(vcpu, index) for vcpu, order in enumerate(plan.order) for index in order]
        slot_costs = self.latencies(
            handle, lib.LAB_PATH_SLOT, [index for _, index in rung_slots], overhead, CURRENT
        )
        slots = [
            SlotStats(
                index=index,
                spec=plan.slots[index],
                rings=slot_stats[index].rings,
                exits=slot_stats[index].exits,
                served_by=plan.routes.get(index),
                latency=cost,
                vcpu=vcpu,
            )
            for (vcpu, index), cost in zip(rung_slots, slot_costs, strict=True)
        ]
        doorbells = self._doorbells.rows(plan, live_set, signals, slot_stats)
        zone_stats, ring = self.zones.read(handle, self.tsc_khz) if self.zones else ((), None)
        health = native_reads.read_health(handle)
        state = native_reads.STATES.get(health.state, "unknown")
        overhead_ns = None if overhead is None else cycles_to_ns(overhead.p50, self.tsc_khz)
        return Snapshot(
            taken_at=now,
            interval_s=interval,
            state=state,
            fault=native_reads.read_fault(handle) if state == "faulted" else None,
            machine=self.machine,
            timer_overhead_ns=overhead_ns,
            total_rings=total,
            ring_rate=ring_rate,
            registrations=tuple(rows),  # by id: ids only grow, and dicts keep their order
            removed=tuple(regs.removed),
            slots=tuple(slots),
            doorbells=doorbells,
            checkpoint=self.checkpoint,
            health=figures.health(health),
            consumer=settings.reader,
            pace_us=settings.pace_us,
            wake_note=settings.wake_note,
            vcpus=self.vcpus,
            pinning=settings.pinning,
            why=why,
            baselines=baselines,
            zones=zone_stats,
            ring=ring,
        )

    def take_checkpoint(
        self, handle: object, regs: Registrations, plan: RingPlan, exact: bool
    ) -> Checkpoint:
        """Record the exact accounting at a pause (`exact`: parked by handshake)."""
        slot_stats = native_reads.read_slots(handle, self.vcpus * MAX_SLOTS)
        live_set = self.live_set(plan, regs)
        by_index = native_reads.read_regs(handle, live_set.buffers)
        paths = [
            (sum(p.rings for p in modes), modes[0].signals)
            for modes in (by_index.get(i, QUIET_PATHS) for i in range(len(live_set.regs)))
        ]
        overflow = plan.overflow_regs  # their signals include a full zone's overflow
        routed = [p for p, reg in zip(paths, live_set.regs, strict=True) if reg.id not in overflow]
        doorbells = self._checkpoint_doorbells.rows(
            plan, live_set, [p[1] for p in paths], slot_stats
        )
        kernel = None
        if self._kernel_stats is not None:
            health = native_reads.read_health(handle)

            def by_bus(bus: Bus, attr: str) -> int:
                return sum(getattr(d, attr) for d in doorbells if d.bus is bus)

            ours = OurCounts(
                rings=sum(d.rings for d in doorbells),
                pio_signals=by_bus(Bus.PIO, "signals"),
                pio_exits=by_bus(Bus.PIO, "exits"),
                mmio_signals=by_bus(Bus.MMIO, "signals"),
                mmio_exits=by_bus(Bus.MMIO, "exits"),
                control_outs=health.control_outs,
            )
            sample = read_sample(self._kernel_stats, ours)
            if self._kernel_sample is not None and exact:
                kernel = compare(self._kernel_sample, sample, self.machine.kvm_module)
            self._kernel_sample = sample if exact else None
        self._checkpoints += 1
        self.checkpoint = Checkpoint(
            number=self._checkpoints,
            taken_at=time.time(),
            exact=exact,
            doorbells=doorbells,
            attribution_ok=figures.attribution_ok(plan.slots, slot_stats, routed)
            and zones.zoned_attribution_ok(plan.slots, plan.zoned, plan.overflowed, slot_stats),
            kernel=kernel,
        )
        return self.checkpoint
