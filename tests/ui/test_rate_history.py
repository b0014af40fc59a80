"""The detail pane's signals/s history: per registration, from whole readings."""

from __future__ import annotations

from dataclasses import replace

from iofdtui.ui.rate_history import RateHistory
from tests.ui.fake_lab import SNAPSHOT
from tests.ui.test_scale_fake import ThousandLab


def test_each_registration_has_its_rates_in_the_window_oldest_first() -> None:
    history = RateHistory(window_s=1.0)
    base = ThousandLab.snap
    for t in range(5):
        regs = tuple(
            replace(r, signals_per_s=None if t == 0 else float(t * r.id))
            for r in base.registrations
        )
        history.add(replace(base, taken_at=100.0 + 0.4 * t, registrations=regs))
    # Readings at 100.0 .. 101.6: the window keeps 100.8 onwards; the first had no rate.
    assert history.rates(7) == [14.0, 21.0, 28.0]
    assert history.rates(1000) == [2000.0, 3000.0, 4000.0]
    assert history.rates(5000) == []  # never seen


def test_a_removed_registration_keeps_the_rates_it_had_and_a_reset_forgets() -> None:
    history = RateHistory(window_s=60.0)
    history.add(SNAPSHOT)
    history.add(
        replace(SNAPSHOT, taken_at=SNAPSHOT.taken_at + 1, registrations=SNAPSHOT.registrations[1:])
    )
    first = SNAPSHOT.registrations[0]
    assert history.rates(first.id) == [first.signals_per_s]
    assert history.rates(2) == [SNAPSHOT.registrations[1].signals_per_s] * 2
    history.clear()
    assert history.rates(2) == []


def test_a_reading_shown_again_adds_nothing_and_an_earlier_one_starts_again() -> None:
    history = RateHistory(window_s=60.0)
    later = replace(SNAPSHOT, taken_at=SNAPSHOT.taken_at + 1)
    for snap in (SNAPSHOT, SNAPSHOT, later, later):
        history.add(snap)
    rate = SNAPSHOT.registrations[0].signals_per_s
    assert history.rates(1) == [rate, rate]
    history.add(replace(SNAPSHOT, taken_at=SNAPSHOT.taken_at - 5))  # a replay seeking back
    assert history.rates(1) == [rate]


def test_a_non_finite_rate_from_a_recording_is_no_point() -> None:
    # A replayed file may say NaN or infinity; the sparkline cannot scale either.
    history = RateHistory(window_s=60.0)
    first = SNAPSHOT.registrations[0]
    for t, rate in enumerate((float("nan"), 5.0, float("inf"), float("-inf"), 7.0)):
        regs = (replace(first, signals_per_s=rate), *SNAPSHOT.registrations[1:])
        history.add(replace(SNAPSHOT, taken_at=SNAPSHOT.taken_at + t, registrations=regs))
    assert history.rates(first.id) == [5.0, 7.0]
