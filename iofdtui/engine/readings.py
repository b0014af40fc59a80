"""Readings of the lab: the live snapshot and the exact checkpoint, and what
one reading leaves for the next (interval start, wake-ups, rows to reuse).

`Lab` calls these with its lock held, its native handle open, and its
registrations and ring plan; nothing here changes what the guest does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields, make_dataclass

from iofdtui.engine import figures, native_reads, threads
from iofdtui.engine.doorbells import DoorbellTally
from iofdtui.engine.figures import NO_SAMPLES, cycles_to_ns, net_latency
from iofdtui.engine.kernel_counters import KernelSample, OurCounts, compare, read_sample
from iofdtui.engine.kvm_stats import StatsReader
from iofdtui.engine.model import KIND_NAMES, KINDS, MAX_SLOTS, Bus, RegistrationSpec
from iofdtui.engine.native import lib
from iofdtui.engine.native_reads import (
    CURRENT,
    MODES,
    QUIET_PATHS,
    Path,
    Timer,
    WakeCounts,
)
from iofdtui.engine.registrations import Registration, Registrations
from iofdtui.engine.ring_plan import RingPlan
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

_NO_QUANTILES = [(-1.0, -1.0)] * MODES

# A frozen dataclass's __init__ stores each field through object.__setattr__,
# which is most of a snapshot's time with 1,000 quiet registrations (their rows
# are new at each reading while the guest rings: their kind's baseline and the
# lab's why move).  A quiet row is filled in a mutable twin with the same slots
# (plain stores), then becomes a RegistrationStats: `__class__` assignment
# between classes of one layout.  test_snapshot_rows.py checks the result is
# the RegistrationStats the dataclass builds.
_Draft = make_dataclass("_Draft", [(f.name, f.type) for f in fields(RegistrationStats)], slots=True)


def _quiet_row(
    rid: int,
    spec: RegistrationSpec,
    eventfd: int,
    rate: float | None,
    baseline: Latency,
    why: WhyCost | None,
    width: int,
) -> RegistrationStats:
    """The row of a registration never rung nor read, with no signals:
    `RegistrationStats(rid, spec, eventfd, 0, rate, 0, NO_SAMPLES, baseline,
    None, False, None, None, (), why, width)`."""
    row = _Draft(
        rid, spec, eventfd, 0, rate, 0, NO_SAMPLES, baseline, None, False, None, None, (), why,
        width,
    )  # fmt: skip
    row.__class__ = RegistrationStats  # type: ignore[assignment]
    return row  # type: ignore[return-value]


class _RowCache:
    """The previous reading's rows, aligned with the live registrations while
    the plan's layout holds, and what the quiet ones were built from."""

    def __init__(self) -> None:
        self.layout = (-1, -1)
        self.rows: list[RegistrationStats | None] = []
        self.quiet: list[bool] = []  # rows[i] is a quiet row, built from the below
        self.widths: list[int] = []  # each registration's baseline width
        self.by_kind: dict[int | None, list[int]] = {}  # baseline kind -> registrations
        self.baselines: dict[int | None, Latency] = {}
        self.zero_rate: float | None = None
        self.active: set[int] = set()  # registrations with signals or reads at the last reading

    def plan(self, plan: RingPlan, live: list[Registration]) -> None:
        """Start over for a new set of registrations or plan."""
        self.layout = (plan.layout, len(live))
        self.rows = [None] * len(live)
        self.quiet = [False] * len(live)
        self.widths = [plan.baseline_width(reg.spec) for reg in live]
        self.by_kind = {}
        for i, reg in enumerate(live):
            kind = KINDS.get((reg.spec.bus, self.widths[i]))
            self.by_kind.setdefault(kind, []).append(i)
        self.baselines = {}
        self.active = {i for i, reg in enumerate(live) if reg.last_signals or reg.last_reads}


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
        return figures.mode_of(self.reader, self.pace_us is not None)


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
        # Rows reused while equal, so unchanged registrations' rows stay the same objects.
        self._baselines: dict[int, Latency] = {}
        self._quiet_why: WhyCost | None = None
        self._row_cache = _RowCache()
        self._live: tuple[int, list[Registration], list[int], native_reads.RegBuffers] = (
            -1,
            [],
            [],
            native_reads.RegBuffers([]),
        )
        self._doorbells = DoorbellTally(self.vcpus)  # a snapshot's
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

    def latency(
        self, handle: object, kind: int, ident: int, timer: Timer | None, mode: int
    ) -> Latency:
        """One path's net ring cost in `mode` (NO_SAMPLES when it has none)."""
        path = native_reads.read_path(handle, kind, ident, mode)
        if path is None or not path.samples:
            return NO_SAMPLES
        q = native_reads.quantiles(handle, kind, ident, mode)
        return net_latency(path, (q[0], q[1]), timer, self.tsc_khz)

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
    ) -> dict[int, Latency]:
        """The userspace-exit path of each kind in `mode`; an unchanged one is the
        previous reading's object."""
        out = {}
        for kind in KIND_NAMES:
            latency = self.latency(handle, lib.LAB_PATH_USER, kind, timers[mode], mode)
            previous = self._baselines.get(kind)
            out[kind] = previous if previous == latency else latency
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

    def row(
        self,
        rid: int,
        reg: Registration,
        paths: list[Path],
        q_by_mode: list[tuple[float, float]],
        timers: dict[int, Timer | None],
        baselines: dict[int, Latency],
        plan: RingPlan,
        settings: Settings,
        signals: int,
        rate: float | None = None,
        wake: WakeLatency | None = None,
        why: WhyCost | None = None,
    ) -> RegistrationStats:
        """One registration's row from its paths in every mode (`read_regs`) and
        their quantiles; `signals` as read (live, with the wake-up figures)."""
        width = plan.baseline_width(reg.spec)
        kind = KINDS.get((reg.spec.bus, width))
        baseline = baselines.get(kind, NO_SAMPLES) if kind is not None else NO_SAMPLES
        if paths is QUIET_PATHS or not any(p.samples for p in paths):
            # Never rung (most of 1,000 registrations): no cost to compute.
            latency, by_reader, kick = NO_SAMPLES, (), None
        else:
            mode = settings.mode
            # Like for like: both figures under the reader in force, both streams
            # (or both kicks when paced), each net of its own mode's timer overhead.
            latency = net_latency(paths[mode], q_by_mode[mode], timers[mode], self.tsc_khz)
            by_reader = figures.reader_costs(paths, q_by_mode, timers, self.tsc_khz)
            kick = next((c.kick for c in by_reader if c.reader == settings.reader), None)
            if kick is not None and not kick.samples:
                kick = None
        return RegistrationStats(
            id=rid,
            spec=reg.spec,
            eventfd=reg.eventfd,
            signals=signals,
            signals_per_s=rate,
            rings=sum(p.rings for p in paths),  # every mode's: they add up to the signals
            latency=latency,
            baseline=baseline,
            ratio=figures.ratio(latency, baseline),
            wake=wake,
            kick=kick,
            by_reader=by_reader,
            why=why,
            baseline_width=width,
        )

    def final_row(
        self, handle: object, rid: int, reg: Registration, plan: RingPlan, settings: Settings
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
        return self.row(rid, reg, paths, q_by_mode, timers, baselines, plan, settings, signals)

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

    def _registrations(
        self, plan: RingPlan, regs: Registrations
    ) -> tuple[list[Registration], list[int], native_reads.RegBuffers]:
        """The live registrations, their native ids and the C arrays to read them, kept
        while the plan's layout (bumped by any change of registrations) holds."""
        if self._live[0] != plan.layout or len(self._live[1]) != len(regs.live):
            live = list(regs.live.values())
            natives = [reg.native_id for reg in live]
            self._live = (plan.layout, live, natives, native_reads.RegBuffers(natives))
        return self._live[1], self._live[2], self._live[3]

    def snapshot(
        self, handle: object, regs: Registrations, plan: RingPlan, settings: Settings
    ) -> Snapshot:
        """Read every counter without stopping the guest."""
        now = time.monotonic()
        live, natives, ids = self._registrations(plan, regs)
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
        cache = self._row_cache
        if cache.layout != (plan.layout, len(live)):
            cache.plan(plan, live)
        # Registrations outside `cache.active` had no signals at the last reading.
        new_signals = sum(signals) - sum(live[i].last_signals for i in cache.active)
        why = self._why(handle, rings_delta, new_signals)
        all_paths = native_reads.read_regs(handle, ids)
        rung = [i for i, paths in all_paths.items() if any(p.samples for p in paths)]
        grid = native_reads.quantiles_grid(
            handle, lib.LAB_PATH_REG, [natives[i] for i in rung], range(MODES)
        )
        rows = self._rows(
            live,
            all_paths,
            signals,
            dict(zip(rung, grid, strict=True)),
            self._wakes(handle, live, wakes, settings.wake_note),
            timers,
            self._read_baselines(handle, timers, mode),
            plan,
            settings,
            interval,
            why,
        )
        slots = []
        for vcpu, order in enumerate(plan.order):
            for index in order:
                spec = plan.slots[index]
                st = slot_stats[index]
                slots.append(
                    SlotStats(
                        index=index,
                        spec=spec,
                        rings=st.rings,
                        exits=st.exits,
                        served_by=plan.routes.get(index),
                        latency=self.latency(handle, lib.LAB_PATH_SLOT, index, overhead, CURRENT),
                        vcpu=vcpu,
                    )
                )
        doorbells = self._doorbells.rows(plan, live, signals, slot_stats)
        health = native_reads.read_health(handle)
        state = figures.STATES.get(health.state, "unknown")
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
        )

    def _rows(
        self,
        live: list[Registration],
        all_paths: dict[int, list[Path]],
        signals: list[int],
        q_of: dict[int, list[tuple[float, float]]],
        wakes: dict[int, WakeLatency | None],
        timers: dict[int, Timer | None],
        baselines: dict[int, Latency],
        plan: RingPlan,
        settings: Settings,
        interval: float | None,
        why: WhyCost | None,
    ) -> list[RegistrationStats]:
        """Every live registration's row, in id order.

        A quiet one (never rung, never read, no signals: most of 1,000) differs
        from its previous row only in its kind's baseline and the lab's why,
        which stay the previous objects while equal; its row is rebuilt only
        when one of them changed.
        """
        quiet_why = None
        if why is not None:
            quiet_why = WhyCost(0, 0, why.preemptions, why.runqueue_wait_ns, why.rings)
            if quiet_why == self._quiet_why:
                quiet_why = self._quiet_why
        zero_rate = 0.0 if interval else None
        cache = self._row_cache
        shared_changed = quiet_why is not self._quiet_why or zero_rate != cache.zero_rate
        self._quiet_why, cache.zero_rate = quiet_why, zero_rate
        # Counted now, or their last signals or reads were not zero.
        active = set(all_paths).union(wakes, cache.active)
        rows, quiet = cache.rows, cache.quiet
        for i in active:
            reg, paths, sig = live[i], all_paths.get(i, QUIET_PATHS), signals[i]
            reads = figures.reads(paths)
            reg_why = None
            if why is not None:
                reg_why = WhyCost(
                    reads - reg.last_reads,
                    sig - reg.last_signals,
                    why.preemptions,
                    why.runqueue_wait_ns,
                    why.rings,
                )
            rate = (sig - reg.last_signals) / interval if interval else None
            reg.last_reads, reg.last_signals = reads, sig
            q_by_mode = q_of.get(i, _NO_QUANTILES)
            rows[i] = self.row(
                reg.id, reg, paths, q_by_mode, timers, baselines, plan, settings, sig, rate,
                wakes.get(i), reg_why,
            )  # fmt: skip
            quiet[i] = False
        cache.active = {i for i in active if live[i].last_signals or live[i].last_reads}
        for kind, members in cache.by_kind.items():
            baseline = baselines.get(kind, NO_SAMPLES)  # type: ignore[arg-type]
            rebuild = shared_changed or baseline is not cache.baselines.get(kind)
            cache.baselines[kind] = baseline
            for i in members:
                if i in active or (quiet[i] and not rebuild):
                    continue
                reg = live[i]
                rows[i] = _quiet_row(
                    reg.id, reg.spec, reg.eventfd, zero_rate, baseline, quiet_why, cache.widths[i]
                )
                quiet[i] = True
        return rows  # type: ignore[return-value]

    def take_checkpoint(
        self, handle: object, regs: Registrations, plan: RingPlan, exact: bool
    ) -> Checkpoint:
        """Record the exact accounting at a pause (`exact`: parked by handshake)."""
        slot_stats = native_reads.read_slots(handle, self.vcpus * MAX_SLOTS)
        live, _, ids = self._registrations(plan, regs)
        by_index = native_reads.read_regs(handle, ids)
        paths = [
            (sum(p.rings for p in modes), modes[0].signals)
            for modes in (by_index.get(i, QUIET_PATHS) for i in range(len(live)))
        ]
        doorbells = self._checkpoint_doorbells.rows(plan, live, [p[1] for p in paths], slot_stats)
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
            attribution_ok=figures.attribution_ok(plan.slots, slot_stats, paths),
            kernel=kernel,
        )
        return self.checkpoint
