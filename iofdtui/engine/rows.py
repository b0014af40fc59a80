"""Each registration's row of a reading (`RegistrationStats`): its ring cost
net of the timer, beside its kind's baseline, with its wake-up figures and
its share of the why.  A quiet registration (never rung, read or signalled:
most of 1,000) keeps its row from one reading to the next while nothing in it
changed.
"""

from __future__ import annotations

from dataclasses import fields, make_dataclass

from iofdtui.engine import figures
from iofdtui.engine.figures import NO_SAMPLES, net_latency
from iofdtui.engine.model import KINDS, RegistrationSpec
from iofdtui.engine.native_reads import MODES, QUIET_PATHS, Path, Timer
from iofdtui.engine.registrations import NO_LIVE_SET, LiveSet, Registration
from iofdtui.engine.ring_plan import RingPlan
from iofdtui.engine.snapshot import Latency, RegistrationStats, WakeLatency, WhyCost

_NO_QUANTILES = [(-1.0, -1.0)] * MODES

# A frozen dataclass's __init__ stores each field through object.__setattr__,
# which is most of a snapshot's time with 1,000 quiet registrations (their rows
# are new at each reading while the guest rings: their kind's baseline and the
# lab's why move).  A quiet row is filled in a mutable twin with the same slots
# (plain stores), then becomes a RegistrationStats: `__class__` assignment
# between classes of one layout.  test_snapshot_rows.py checks the result is
# the RegistrationStats the dataclass builds.
_Draft = make_dataclass("_Draft", [(f.name, f.type) for f in fields(RegistrationStats)], slots=True)
# quiet_row passes the fields by position (keywords take four times as long), in
# the dataclass's order, which is this:
_QUIET_ROW_ORDER = (
    "id", "spec", "eventfd", "signals", "signals_per_s", "rings", "latency", "baseline", "ratio",
    "removed", "wake", "kick", "by_reader", "why", "baseline_width",
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
    # Positional, in _QUIET_ROW_ORDER (the dataclass's field order).
    row = _Draft(
        rid, spec, eventfd, 0, rate, 0, NO_SAMPLES, baseline, None, False, None, None, (), why,
        width,
    )  # fmt: skip
    row.__class__ = RegistrationStats  # type: ignore[assignment]
    return row  # type: ignore[return-value]


def registration_row(
    reg: Registration,
    paths: list[Path],
    q_by_mode: list[tuple[float, float]],
    timers: dict[int, Timer | None],
    baselines: dict[int, Latency],
    plan: RingPlan,
    mode: int,
    reader: str,
    tsc_khz: int,
    signals: int,
    rate: float | None = None,
    wake: WakeLatency | None = None,
    why: WhyCost | None = None,
) -> RegistrationStats:
    """One registration's row from its paths in every mode (`read_regs`) and
    their quantiles, under `mode` and `reader` in force; `signals` as read
    (live, with the wake-up figures)."""
    width = plan.baseline_width(reg.spec)
    kind = KINDS.get((reg.spec.bus, width))
    baseline = baselines.get(kind, NO_SAMPLES) if kind is not None else NO_SAMPLES
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
        baseline=baseline,
        ratio=figures.ratio(latency, baseline),
        wake=wake,
        kick=kick,
        by_reader=by_reader,
        why=why,
        baseline_width=width,
    )


class RegistrationRows:
    """Every live registration's row at each reading, aligned with the live
    set while it is the same object (`LiveSet`), with what the quiet ones
    were built from."""

    def __init__(self, tsc_khz: int) -> None:
        self.tsc_khz = tsc_khz
        self.live_set = NO_LIVE_SET
        self.rows: list[RegistrationStats | None] = []
        self.quiet: list[bool] = []  # rows[i] is a quiet row, built from the below
        self.widths: list[int] = []  # each registration's baseline width
        self.by_kind: dict[int | None, list[int]] = {}  # baseline kind -> registrations
        self.baselines: dict[int | None, Latency] = {}
        self.zero_rate: float | None = None
        self.quiet_why: WhyCost | None = None
        self.active: set[int] = set()  # registrations with signals or reads at the last reading

    def follow(self, plan: RingPlan, live_set: LiveSet) -> None:
        """Start over when the live set is a new one (the registrations or the plan changed)."""
        if live_set is self.live_set:
            return
        self.live_set = live_set
        live = live_set.regs
        self.rows = [None] * len(live)
        self.quiet = [False] * len(live)
        self.widths = [plan.baseline_width(reg.spec) for reg in live]
        self.by_kind = {}
        for i, reg in enumerate(live):
            kind = KINDS.get((reg.spec.bus, self.widths[i]))
            self.by_kind.setdefault(kind, []).append(i)
        self.baselines = {}
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
        baselines: dict[int, Latency],
        plan: RingPlan,
        mode: int,
        reader: str,
        interval: float | None,
        why: WhyCost | None,
    ) -> list[RegistrationStats]:
        """Every live registration's row, in id order (after `follow`).

        `all_paths`, `q_of` and `wakes` hold, by index in `live`, the paths,
        quantiles and wake-up figures of those with any; the others are quiet.
        A quiet row differs from its previous one only in its kind's baseline
        and the lab's why, which are the previous objects while equal; it is
        rebuilt only when one of them changed.
        """
        quiet_why = None
        if why is not None:
            quiet_why = WhyCost(0, 0, why.preemptions, why.runqueue_wait_ns, why.rings)
            if quiet_why == self.quiet_why:
                quiet_why = self.quiet_why
        zero_rate = 0.0 if interval else None
        shared_changed = quiet_why is not self.quiet_why or zero_rate != self.zero_rate
        self.quiet_why, self.zero_rate = quiet_why, zero_rate
        # Counted now, or their last signals or reads were not zero.
        active = set(all_paths).union(wakes, self.active)
        rows, quiet = self.rows, self.quiet
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
            rows[i] = registration_row(
                reg, paths, q_of.get(i, _NO_QUANTILES), timers, baselines, plan, mode, reader,
                self.tsc_khz, sig, rate, wakes.get(i), reg_why,
            )  # fmt: skip
            quiet[i] = False
        self.active = {i for i in active if live[i].last_signals or live[i].last_reads}
        for kind, members in self.by_kind.items():
            baseline = baselines.get(kind, NO_SAMPLES)  # type: ignore[arg-type]
            rebuild = shared_changed or baseline is not self.baselines.get(kind)
            self.baselines[kind] = baseline
            for i in members:
                if i in active or (quiet[i] and not rebuild):
                    continue
                reg = live[i]
                rows[i] = quiet_row(
                    reg.id, reg.spec, reg.eventfd, zero_rate, baseline, quiet_why, self.widths[i]
                )
                quiet[i] = True
        return rows  # type: ignore[return-value]
