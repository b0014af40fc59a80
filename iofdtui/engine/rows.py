"""Each registration's row of a reading (`RegistrationStats`): its ring cost
net of the timer, its ratio to its kind's baseline, its wake-up figures and
its reader wake-ups.  A quiet registration (never rung, read or signalled:
most of 1,000) keeps its row, the same object, from one reading to the next.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, make_dataclass

from iofdtui.engine import figures
from iofdtui.engine.figures import NO_SAMPLES, net_latency
from iofdtui.engine.model import Bus, RegistrationSpec
from iofdtui.engine.native_reads import MODES, QUIET_PATHS, Path, Timer
from iofdtui.engine.registrations import NO_LIVE_SET, LiveSet, Registration
from iofdtui.engine.ring_plan import RingPlan
from iofdtui.engine.snapshot import Latency, RegistrationStats, WakeLatency

_NO_QUANTILES = [(-1.0, -1.0)] * MODES

# A frozen dataclass's __init__ stores each field through object.__setattr__,
# which was most of a snapshot's time with 1,000 quiet registrations when their
# rows were rebuilt; they are built once now, but a removal or a new plan builds
# them all again.  A quiet row is filled in a mutable twin with the same slots
# (plain stores), then becomes a RegistrationStats: `__class__` assignment
# between classes of one layout.  test_snapshot_rows.py checks the result is
# the RegistrationStats the dataclass builds.
_Draft = make_dataclass("_Draft", [(f.name, f.type) for f in fields(RegistrationStats)], slots=True)
# quiet_row passes the fields by position (keywords take four times as long), in
# the dataclass's order, which is this:
_QUIET_ROW_ORDER = (
    "id", "spec", "eventfd", "signals", "signals_per_s", "rings", "latency", "ratio", "removed",
    "wake", "kick", "by_reader", "baseline_width", "reader_wakeups", "new_signals", "completion",
)  # fmt: skip
# Checked at import, not by assert (python -O drops those): a changed field
# would otherwise make quiet rows with values in the wrong slots.
if (
    getattr(RegistrationStats, "__slots__", None) != _Draft.__slots__
    or tuple(f.name for f in fields(RegistrationStats)) != _QUIET_ROW_ORDER
):
    raise TypeError(
        "RegistrationStats's fields no longer match rows.py's quiet_row: update its "
        "positional call and _QUIET_ROW_ORDER (the class must keep slots=True)"
    )


def quiet_row(
    rid: int, spec: RegistrationSpec, eventfd: int, measured: bool, width: int
) -> RegistrationStats:
    """The row of a registration never rung nor read, with no signals, over an
    interval (`measured`) or at a first reading: `RegistrationStats(rid, spec,
    eventfd, 0, zero, 0, NO_SAMPLES, None, False, None, None, (), width, zero,
    zero, None)` where zero is 0 (0.0 for the rate), or None when not `measured`."""
    rate, zero = (0.0, 0) if measured else (None, None)
    # Positional, in _QUIET_ROW_ORDER (the dataclass's field order).
    row = _Draft(
        rid, spec, eventfd, 0, rate, 0, NO_SAMPLES, None, False, None, None, (), width, zero, zero,
        None,
    )  # fmt: skip
    row.__class__ = RegistrationStats  # type: ignore[assignment]
    return row  # type: ignore[return-value]


def registration_row(
    reg: Registration,
    paths: list[Path],
    q_by_mode: list[tuple[float, float]],
    timers: dict[int, Timer | None],
    baselines: Mapping[tuple[Bus, int], Latency],
    plan: RingPlan,
    mode: int,
    reader: str,
    tsc_khz: int,
    signals: int,
    rate: float | None = None,
    wake: WakeLatency | None = None,
    reader_wakeups: int | None = None,
    new_signals: int | None = None,
) -> RegistrationStats:
    """One registration's row from its paths in every mode (`read_regs`) and
    their quantiles, under `mode` and `reader` in force; `signals` as read
    (live, with the wake-up figures and the interval's counts)."""
    width = plan.baseline_width(reg.spec)
    baseline = baselines.get((reg.spec.bus, width), NO_SAMPLES)
    if paths is QUIET_PATHS or not any(p.samples for p in paths):
        # Never rung: no cost to compute.
        latency, by_reader, kick = NO_SAMPLES, (), None
    else:
        # Like for like: both figures under the reader in force, both streams
        # (or both kicks when paced), each net of its own mode's timer overhead.
        latency = net_latency(paths[mode], q_by_mode[mode], timers[mode], tsc_khz)
        by_reader = figures.reader_costs(paths, q_by_mode, timers, tsc_khz)
        kick = next((c.kick for c in by_reader if c.reader == reader), None)
        if kick is not None and not kick.samples:
            kick = None
    return RegistrationStats(
        id=reg.id,
        spec=reg.spec,
        eventfd=reg.eventfd,
        signals=signals,
        signals_per_s=rate,
        rings=sum(p.rings for p in paths),  # every mode's: they add up to the signals
        latency=latency,
        ratio=figures.ratio(latency, baseline),
        wake=wake,
        kick=kick,
        by_reader=by_reader,
        baseline_width=width,
        reader_wakeups=reader_wakeups,
        new_signals=new_signals,
    )


class RegistrationRows:
    """Every live registration's row at each reading, aligned with the live
    set while it is the same object (`LiveSet`); a quiet row is built once."""

    def __init__(self, tsc_khz: int) -> None:
        self.tsc_khz = tsc_khz
        self.live_set = NO_LIVE_SET
        self.rows: list[RegistrationStats | None] = []
        self.unquiet: set[int] = set()  # rows not (yet) the quiet row, as `measured` says
        self.measured = False  # the quiet rows are over an interval
        self.active: set[int] = set()  # registrations with signals or reads at the last reading

    def follow(self, live_set: LiveSet) -> None:
        """Start over when the live set is a new one (the registrations or the plan changed)."""
        if live_set is self.live_set:
            return
        self.live_set = live_set
        live = live_set.regs
        self.rows = [None] * len(live)
        self.unquiet = set(range(len(live)))
        self.active = {i for i, reg in enumerate(live) if reg.last_signals or reg.last_reads}

    def new_signals(self, live: list[Registration], signals: list[int]) -> int:
        """Signals since the last reading, every registration (after `follow`)."""
        # Registrations outside `active` had no signals at the last reading.
        return sum(signals) - sum(live[i].last_signals for i in self.active)

    def build(
        self,
        live: list[Registration],
        all_paths: dict[int, list[Path]],
        signals: list[int],
        q_of: dict[int, list[tuple[float, float]]],
        wakes: dict[int, WakeLatency | None],
        timers: dict[int, Timer | None],
        baselines: Mapping[tuple[Bus, int], Latency],
        plan: RingPlan,
        mode: int,
        reader: str,
        interval: float | None,
    ) -> list[RegistrationStats]:
        """Every live registration's row, in id order (after `follow`).

        `all_paths`, `q_of` and `wakes` hold, by index in `live`, the paths,
        quantiles and wake-up figures of those with any; the others are quiet,
        and keep the row they had unless they were active until now or the
        first interval began.
        """
        measured = bool(interval)
        # Counted now, or their last signals or reads were not zero.
        active = set(all_paths).union(wakes, self.active)
        rows = self.rows
        for i in active:
            reg, paths, sig = live[i], all_paths.get(i, QUIET_PATHS), signals[i]
            reads = figures.reads(paths)
            rate = wakeups = new = None
            if interval:
                rate = (sig - reg.last_signals) / interval
                wakeups, new = reads - reg.last_reads, sig - reg.last_signals
            reg.last_reads, reg.last_signals = reads, sig
            rows[i] = registration_row(
                reg, paths, q_of.get(i, _NO_QUANTILES), timers, baselines, plan, mode, reader,
                self.tsc_khz, sig, rate, wakes.get(i), wakeups, new,
            )  # fmt: skip
        self.active = {i for i in active if live[i].last_signals or live[i].last_reads}
        if measured != self.measured:
            self.measured, self.unquiet = measured, set(range(len(live)))
        for i in self.unquiet - active:
            reg = live[i]
            rows[i] = quiet_row(
                reg.id, reg.spec, reg.eventfd, measured, plan.baseline_width(reg.spec)
            )
        self.unquiet = active
        return rows  # type: ignore[return-value]
