"""The registrations table: one row per eventfd, updated in place."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from itertools import compress
from operator import attrgetter, is_not

from iofdtui.engine.model import Bus, format_addr
from iofdtui.engine.snapshot import NO_SAMPLES, Latency, RegistrationStats
from iofdtui.reports import format as fmt
from iofdtui.ui.widgets.counts_table import CountsTable

COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "#"),
    ("bus", "bus"),
    ("addr", "address"),
    ("width", "len"),
    ("trigger", "trig"),
    ("eventfd", "efd"),
    ("signals", "signals"),
    ("rate", "sig/s"),
    ("p50", "p50"),
    ("p99", "p99"),
    ("base_p50", "base50"),
    ("base_p99", "base99"),
    ("ratio", "ratio"),
)
"""(column key, header) in display order; short, so all 13 fit in 80 columns."""

_LEFT = {"bus", "addr", "trigger"}

SORT_KEYS: tuple[str, ...] = ("id", "address", "signals", "signals/s", "p50", "ratio")
"""What `o` cycles through, as kvm_stat's sort toggle does."""

COLUMN_SORT: dict[str, str] = {
    "id": "id",
    "addr": "address",
    "signals": "signals",
    "rate": "signals/s",
    "p50": "p50",
    "ratio": "ratio",
}
"""The sort order a click on a column's header picks (column key -> sort key)."""


def _sort_value(stats: RegistrationStats, key: str) -> tuple[float, int]:
    # Larger-is-more-interesting columns sort descending, like kvm_stat.
    value: float
    if key == "id":
        value = float(stats.id)
    elif key == "address":
        value = float(stats.spec.addr)
    elif key == "signals":
        value = -float(stats.signals)
    elif key == "signals/s":
        value = -(stats.signals_per_s or 0.0)
    elif key == "p50":
        value = stats.latency.p50_ns if stats.latency.p50_ns is not None else float("inf")
    elif key == "ratio":
        value = -(stats.ratio or 0.0)
    else:
        raise KeyError(key)
    return (value, stats.id)


def sample_note(paced: bool) -> str:
    """What one p50/p99 sample is, for the table's title (the help says more)."""
    if paced:
        return "p50/p99 per paced write (kick)"
    return "p50/p99 over visits, each a visit's mean cost per ring"


def cells(
    stats: RegistrationStats, baseline: Latency, compact: bool = False, paced: bool = False
) -> tuple[str, ...]:
    """The row of one registration beside its baseline, as the strings shown.

    Paced, the cost columns are the single paced write's (the kick), as the
    baseline and the ratio then are: like for like.
    """
    own = own_cells(stats, compact, paced)
    return own[:_SHARED_AT] + shared_cells(baseline) + own[_SHARED_AT:]


def efd_cell(stats: RegistrationStats) -> str:
    """The eventfd, and `+msi`/`+pin` when the reader answers it with an irqfd."""
    completion = stats.completion
    return str(stats.eventfd) + (f"+{completion.route}" if completion is not None else "")


def own_cells(stats: RegistrationStats, compact: bool, paced: bool) -> tuple[str, ...]:
    """The cells from the registration's own figures (`cells` less its baseline's two)."""
    spec = stats.spec
    cost = stats.kick if paced and stats.kick is not None else stats.latency
    return (
        str(stats.id),
        spec.bus.value,
        format_addr(spec.bus, spec.addr),
        "any" if spec.width == 0 else str(spec.width),
        "any" if spec.trigger is None else f"{spec.trigger:#x}",
        efd_cell(stats),
        fmt.count(stats.signals, compact),
        fmt.rate(stats.signals_per_s),
        fmt.ns(cost.p50_ns),
        fmt.ns(cost.p99_ns),
        fmt.ratio(stats.ratio),
    )


def own_fields(stats: RegistrationStats, compact: bool, paced: bool) -> tuple[object, ...]:
    """Everything `own_cells` reads: equal fields, equal cells (checked before formatting)."""
    cost = stats.kick if paced and stats.kick is not None else stats.latency
    return (
        compact,
        paced,
        stats.id,
        stats.spec,
        stats.eventfd,
        stats.completion.route if stats.completion is not None else None,
        stats.signals,
        stats.signals_per_s,
        cost.p50_ns,
        cost.p99_ns,
        stats.ratio,
    )


SHARED: tuple[str, ...] = ("base_p50", "base_p99")
"""The baseline's columns: every registration of a bus and baseline width shows
the same, which moves at every reading while the guest exits there."""
_SHARED_AT = [key for key, _ in COLUMNS].index(SHARED[0])


@lru_cache(maxsize=64)
def shared_cells(baseline: Latency) -> tuple[str, ...]:
    """A baseline's p50 and p99, as shown (once per baseline, whatever the rows)."""
    return (fmt.ns(baseline.p50_ns), fmt.ns(baseline.p99_ns))


def matches(stats: RegistrationStats, needle: str) -> bool:
    """Whether a registration passes the address filter (`f`)."""
    if not needle:
        return True
    needle = needle.lower().removeprefix("0x")
    spec = stats.spec
    return needle in format_addr(spec.bus, spec.addr).lower() or needle in spec.bus.value


class RegistrationsTable(CountsTable):
    """One row per registered eventfd; cells change in place, the cursor stays put.

    Rows are keyed by registration id, so the cursor follows the registration
    when the sort order or the set of rows changes.
    """

    DEFAULT_CSS = """
    RegistrationsTable {
        height: auto;
        max-height: 14;
    }
    """

    COLUMNS = COLUMNS
    LEFT = frozenset(_LEFT)
    SHARED = SHARED

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row")
        self._last: (
            tuple[Sequence[RegistrationStats], Mapping[tuple[Bus, int], Latency], str, str, bool]
            | None
        ) = None
        # Each row's stats, own figures, own cells and group last made: a reading
        # that leaves a registration alone (the engine hands back the same
        # stats), or a sort or filter of the same reading, formats nothing,
        # and the table skips a row whose tuple is the one already shown.  Its
        # baseline's cells are its group's (bus, baseline width), shared by
        # every row of the group: a baseline that moves is one change.
        self._last_compact = False  # the format of the rows shown
        self._groups: set[tuple[Bus, int]] = set()  # the groups of the rows shown
        self._cells_memo: dict[
            str,
            tuple[RegistrationStats, tuple[object, ...], tuple[str, ...], tuple[Bus, int]],
        ] = {}

    @property
    def selected_id(self) -> int | None:
        """The registration under the cursor, if any."""
        key = self.cursor_key
        return int(key) if key is not None else None

    def redraw(self) -> None:
        """Show the last registrations again (in the format the width asks for)."""
        if self._last is not None:
            self.show(*self._last)

    def show(
        self,
        registrations: Sequence[RegistrationStats],
        baselines: Mapping[tuple[Bus, int], Latency],
        needle: str = "",
        sort: str = "id",
        paced: bool = False,
    ) -> None:
        """Show these registrations beside their baselines (`Snapshot.baselines`),
        filtered and sorted; only changed rows repaint.

        Paced, the cost columns show each registration's kick (one paced write).
        """
        last, compact = self._last, self.compact
        self._last = (registrations, baselines, needle, sort, paced)
        if (
            last is not None
            and (needle, sort, paced, compact) == ("", "id", last[4], self._last_compact)
            and (last[2], last[3]) == ("", "id")
            and self._update_in_place(last[0], registrations, baselines, paced)
        ):
            return
        self._last_compact = compact
        shown = (r for r in registrations if matches(r, needle)) if needle else registrations
        # By id (the default) in C; the other orders through `_sort_value`.
        by = attrgetter("id") if sort == "id" else lambda r: _sort_value(r, sort)
        visible = sorted(shown, key=by)
        rows, groups = {}, {}
        for r in visible:
            key = str(r.id)
            rows[key], groups[key] = self._row(key, r, compact, paced)
        self._groups = {*groups.values()}
        shared = {group: shared_cells(baselines.get(group, NO_SAMPLES)) for group in self._groups}
        self.set_rows(rows, groups, shared)
        memo = self._cells_memo
        if len(memo) > len(registrations):
            keep = {str(r.id) for r in registrations}
            for key in [key for key in memo if key not in keep]:
                del memo[key]

    def _row(
        self, key: str, r: RegistrationStats, compact: bool, paced: bool
    ) -> tuple[tuple[str, ...], tuple[Bus, int]]:
        """A registration's own cells and group, from the memo while its stats
        (or the figures they show) are the ones shown last."""
        memo = self._cells_memo
        made = memo.get(key)
        if made is not None and made[0] is r and made[1][0] is compact and made[1][1] is paced:
            return made[2], made[3]  # the very stats shown last time (a quiet row)
        fields = own_fields(r, compact, paced)
        # Equal figures: the very tuple shown, which the table skips at once.
        same = made is not None and made[1] == fields
        row = made[2] if same else own_cells(r, compact, paced)  # type: ignore[index]
        group = (r.spec.bus, r.baseline_width)
        memo[key] = (r, fields, row, group)
        return row, group

    def _update_in_place(
        self,
        before: Sequence[RegistrationStats],
        now: Sequence[RegistrationStats],
        baselines: Mapping[tuple[Bus, int], Latency],
        paced: bool,
    ) -> bool:
        """Show a reading of the same registrations in the same order (all of
        them, by id) by changing only the rows whose stats are new objects:
        the engine hands back the very row of a registration nothing happened
        to, so at 1,000 registrations a reading costs the few that moved.
        False (nothing done) when the set or the order changed."""
        if len(before) != len(now):
            return False
        # One identity test a row, in C; then only the new rows are looked at.
        moved = list(compress(range(len(now)), map(is_not, now, before)))
        if any(now[i].id != before[i].id for i in moved):
            return False
        rows, groups = {}, {}
        for i in moved:
            key = str(now[i].id)
            rows[key], groups[key] = self._row(key, now[i], self.compact, paced)
        self._groups |= {*groups.values()}
        shared = {group: shared_cells(baselines.get(group, NO_SAMPLES)) for group in self._groups}
        self.update_rows(rows, groups, shared)
        return True
