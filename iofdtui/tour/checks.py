"""Evaluate a step's checks on the snapshots taken before and after its action.

Only immutable snapshots are read (`Snapshot`, its `DoorbellStats` and
`RegistrationStats`): the counts the tables show, so a verdict can be checked
against the screen.  Each check gives a `Verdict`: whether it held, and one
sentence with the numbers either way ("exits at pio 0x0600 stopped growing
(+0 over 2.0 s; 45.3k/s before)", "expected signals on 'door' (#4) to grow;
they stayed at 0 (+0 over 2.0 s)").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

from iofdtui.engine.model import format_addr
from iofdtui.engine.snapshot import RegistrationStats, Snapshot
from iofdtui.reports import format as fmt
from iofdtui.tour.schema import (
    AtDoorbell,
    Check,
    Exact,
    Flat,
    Grows,
    OnRegistration,
    RateClose,
    ReaderIs,
    Series,
    ShareClose,
    StateIs,
    Stops,
    WholeLab,
)


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether one check held, and the sentence that says so with its numbers."""

    ok: bool
    text: str


@dataclass(frozen=True, slots=True)
class Windows:
    """What the checks of one step read.

    Attributes:
        before: readings before the action (oldest first).
        after: readings after the action and its settling time (oldest first).
        ids: registration id of each name the tour's `add` steps gave.
        checkpoint: the number of the last checkpoint seen before the action.
    """

    before: Sequence[Snapshot]
    after: Sequence[Snapshot]
    ids: Mapping[str, int]
    checkpoint: int | None = None


@dataclass(frozen=True, slots=True)
class Growth:
    """How much a count grew over a window of readings."""

    delta: int
    seconds: float
    last: int

    @property
    def rate(self) -> float | None:
        """Per second over the window (None: the window spans no time)."""
        return self.delta / self.seconds if self.seconds > 0 else None

    def describe(self) -> str:
        """`+81,234 over 2.0 s (40.6k/s)`."""
        per_s = f" ({fmt.rate(self.rate)}/s)" if self.delta and self.rate is not None else ""
        return f"+{fmt.count(self.delta)} over {self.seconds:.1f} s{per_s}"


class Missing(Exception):
    """The readings do not hold the count: the sentence says why."""


def evaluate(check: Check, windows: Windows) -> Verdict:
    """One check on a step's readings; a count the readings lack fails it, saying why."""
    try:
        return _evaluate(check, windows)
    except Missing as gone:
        return Verdict(False, str(gone))


def _evaluate(check: Check, w: Windows) -> Verdict:
    match check:
        case Grows(series, least):
            grew = growth(series, w)
            what = describe(series, w.ids)
            if grew.delta >= least:
                return Verdict(True, f"{what} grew {grew.describe()}")
            if grew.delta == 0:
                stayed = f"they stayed at {fmt.count(grew.last)} ({grew.describe()})"
                return Verdict(False, f"expected {what} to grow; {stayed}")
            return Verdict(
                False, f"expected {what} to grow by {least:,} at least; {grew.describe()}"
            )
        case Flat(series):
            grew = growth(series, w)
            what = describe(series, w.ids)
            if grew.delta == 0:
                return Verdict(True, f"{what} stayed at {fmt.count(grew.last)} ({grew.describe()})")
            return Verdict(False, f"expected {what} to stay flat; they grew {grew.describe()}")
        case Stops(series):
            return _stops(series, w)
        case RateClose(series, like, tolerance):
            return _rate_close(series, like, tolerance, w)
        case ShareClose(series, like, tolerance):
            return _share_close(series, like, tolerance, w)
        case Exact():
            return _exact(w)
        case StateIs(state):
            now = _last(w.after).state
            if now == state:
                return Verdict(True, f"the guest is {state}")
            return Verdict(False, f"expected the guest to be {state}; it is {now}")
        case ReaderIs(reader):
            now = _last(w.after).consumer
            if now == reader:
                return Verdict(True, f"the eventfd reader is {reader}")
            return Verdict(False, f"expected the eventfd reader to be {reader}; it is {now}")
    raise TypeError(f"not a check: {check!r}")


def _stops(series: Series, w: Windows) -> Verdict:
    before = growth(Series(series.count, series.target, "before"), w)
    after = growth(series, w)
    what = describe(series, w.ids)
    had = f"{fmt.rate(before.rate)}/s before"
    if before.delta == 0:
        return Verdict(
            False,
            f"expected {what} to stop growing, but they were not growing before "
            f"({before.describe()})",
        )
    if after.delta == 0:
        return Verdict(True, f"{what} stopped growing ({after.describe()}; {had})")
    return Verdict(
        False, f"expected {what} to stop growing; they still grew {after.describe()}, against {had}"
    )


def _rate_close(series: Series, like: Series, tolerance: float, w: Windows) -> Verdict:
    grew, other = growth(series, w), growth(like, w)
    what, whom = describe(series, w.ids), describe(like, w.ids)
    rate, ref = grew.rate, other.rate
    if rate is None or ref is None:
        return Verdict(False, f"expected {what} to grow at the rate of {whom}; no time elapsed")
    # "the rate exits at pio 0x0600 had before", or "the rate of rings at pio 0x0600".
    rate_of = f"the rate {whom} had before" if like.window == "before" else f"the rate of {whom}"
    if series.window == "before":
        rate_of = f"the rate {whom} had after" if like.window == "after" else rate_of
    if ref == 0:
        return Verdict(
            False,
            f"expected {what} to grow at {rate_of}, but those did not grow ({other.describe()})",
        )
    gap = abs(rate - ref) / max(rate, ref)
    within = f"within {tolerance:.0%}"
    # Over the same readings, two counts of the same rings differ by at most what
    # was in flight at each end (a visit per vCPU): at low rates that is the bound.
    slack = _in_flight(w.after if series.window == "after" else w.before)
    if gap > tolerance and series.window == like.window and abs(grew.delta - other.delta) <= slack:
        within = f"within the {slack:,} rings in flight at the two ends"
    elif gap > tolerance:
        within = ""
    if within:
        return Verdict(
            True,
            f"{what} grow at {fmt.rate(rate)}/s, {rate_of} ({fmt.rate(ref)}/s; "
            f"{gap:.0%} apart, {within})",
        )
    return Verdict(
        False,
        f"expected {what} to grow at {rate_of} ({fmt.rate(ref)}/s, within {tolerance:.0%}); "
        f"they grew at {fmt.rate(rate)}/s ({gap:.0%} apart)",
    )


def _in_flight(readings: Sequence[Snapshot]) -> int:
    """Rings a reading may count on one side and not yet on the other, at both ends of a
    window: one visit of the plan's largest slot per vCPU, twice."""
    if not readings:
        return 0
    last = readings[-1]
    visit = max((slot.spec.rings_per_visit for slot in last.slots), default=0)
    return 2 * visit * max(last.vcpus, 1)


def _share_close(series: Series, like: Series, tolerance: float, w: Windows) -> Verdict:
    share, ref = _share(series, w), _share(like, w)
    what, whom = describe(series, w.ids), describe(like, w.ids)
    had = f"the share {whom} had before" if like.window == "before" else f"the share of {whom}"
    if ref == 0:
        return Verdict(False, f"expected {what} to take {had}, but those took none")
    gap = abs(share - ref) / max(share, ref)
    if gap <= tolerance:
        return Verdict(
            True,
            f"{what} take {share:.1%} of the guest's rings, {had} ({ref:.1%}; "
            f"within {tolerance:.0%})",
        )
    return Verdict(
        False,
        f"expected {what} to take {had} of the guest's rings ({ref:.1%}, within "
        f"{tolerance:.0%}); they took {share:.1%}",
    )


def _share(series: Series, w: Windows) -> float:
    """The series' growth as a fraction of the guest's rings over the same window."""
    whole = growth(Series("rings", WholeLab(), series.window), w)
    if whole.delta == 0:
        raise Missing(f"the guest rang nothing {series.window} the action: no share to compare")
    return growth(series, w).delta / whole.delta


def _exact(w: Windows) -> Verdict:
    cp = _last(w.after).checkpoint
    if cp is None or (w.checkpoint is not None and cp.number <= w.checkpoint):
        return Verdict(False, "expected a new exact checkpoint; none was taken since the action")
    doors = len(cp.doorbells)
    rings = sum(d.rings for d in cp.doorbells)
    how = "exact pause" if cp.exact else "the guest was kicked: a ring may have been in flight"
    if cp.holds:
        return Verdict(
            True,
            f"checkpoint #{cp.number} ({how}): rings = signals + exits at all {doors} "
            f"doorbells ({fmt.count(rings)} rings)",
        )
    off = [
        f"{d.bus.value} {format_addr(d.bus, d.addr)} off by {d.balance:+,}"
        for d in cp.doorbells
        if d.balance != 0
    ]
    why = "; ".join(off) or ("not parked by handshake" if not cp.exact else "rings on wrong paths")
    return Verdict(
        False, f"expected rings = signals + exits at checkpoint #{cp.number} ({how}); {why}"
    )


# ------------------------------------------------------------------ counts


def growth(series: Series, w: Windows) -> Growth:
    """How much the series' count grew over its window (raises `Missing`)."""
    readings = w.before if series.window == "before" else w.after
    if len(readings) < 2:
        raise Missing(f"fewer than two readings {series.window} the action: nothing to compare")
    values = [(snap.taken_at, count_of(snap, series, w.ids)) for snap in readings]
    present = [(t, v) for t, v in values if v is not None]
    if len(present) < 2:
        raise Missing(f"{describe(series, w.ids)}: {_absence(series, readings[-1], w.ids)}")
    delta = 0
    for (_, a), (_, b) in pairwise(present):
        # A count that went down was reset (r, a plan, a new VM): it counts from zero.
        delta += b - a if b >= a else b
    return Growth(delta, present[-1][0] - present[0][0], present[-1][1])


def count_of(snap: Snapshot, series: Series, ids: Mapping[str, int]) -> int | None:
    """The series' count in one reading (None: the target is not in it)."""
    target = series.target
    match target:
        case WholeLab():
            return snap.total_rings
        case AtDoorbell(bus, addr):
            door = next((d for d in snap.doorbells if d.bus is bus and d.addr == addr), None)
            if door is None:
                return None
            return {"signals": door.signals, "exits": door.exits, "rings": door.rings}[series.count]
        case OnRegistration(name):
            reg = _registration(snap, ids.get(name))
            if reg is None:
                return None
            return reg.signals if series.count == "signals" else reg.rings
    return None


def _registration(snap: Snapshot, reg_id: int | None) -> RegistrationStats | None:
    if reg_id is None:
        return None
    for reg in (*snap.registrations, *snap.removed):
        if reg.id == reg_id:
            return reg
    return None


def _absence(series: Series, snap: Snapshot, ids: Mapping[str, int]) -> str:
    target = series.target
    if isinstance(target, OnRegistration):
        if target.name not in ids:
            return f"'{target.name}' was never registered (its step's action did not run)"
        return f"registration #{ids[target.name]} is not in the readings"
    return "the guest's ring plan does not ring that doorbell"


def describe(series: Series, ids: Mapping[str, int]) -> str:
    """The series as a verdict names it, with the registration's id once it has one."""
    text = series.describe()
    if isinstance(series.target, OnRegistration) and series.target.name in ids:
        text += f" (#{ids[series.target.name]})"
    return text


def _last(readings: Sequence[Snapshot]) -> Snapshot:
    if not readings:
        raise Missing("no reading after the action")
    return readings[-1]
