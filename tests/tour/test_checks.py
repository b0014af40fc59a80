"""Each check of the tour's vocabulary on made-up readings: it holds, it does not, and why."""

from __future__ import annotations

from iofdtui.engine.model import Bus
from iofdtui.tour.checks import Verdict, Windows, evaluate
from iofdtui.tour.schema import (
    AtDoorbell,
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
from tests.tour.synthetic import MMIO_FF, PIO_600, checkpoint, reading

EXITS_600 = Series("exits", AtDoorbell(Bus.PIO, 0x0600))
SIGNALS_600 = Series("signals", AtDoorbell(Bus.PIO, 0x0600))
RINGS_600 = Series("rings", AtDoorbell(Bus.PIO, 0x0600))
DOOR = Series("signals", OnRegistration("door"))
IDS = {"door": 4}


def exits_then_signals() -> Windows:
    """0x0600 exits at 40k/s for 2 s, then (registered as #4) signals at 41k/s."""
    before = [
        reading(10.0, {PIO_600: (0, 0, 0)}),
        reading(11.0, {PIO_600: (40_000, 0, 40_000)}),
        reading(12.0, {PIO_600: (80_000, 0, 80_000)}),
    ]
    after = [
        reading(12.5, {PIO_600: (100_000, 20_000, 80_000)}, {4: 20_000}),
        reading(13.5, {PIO_600: (141_000, 61_000, 80_000)}, {4: 61_000}),
        reading(14.5, {PIO_600: (182_000, 102_000, 80_000)}, {4: 102_000}),
    ]
    return Windows(before, after, IDS, checkpoint=None)


def check(c, w: Windows = None) -> Verdict:  # type: ignore[no-untyped-def, assignment]
    return evaluate(c, w or exits_then_signals())


def test_grows_and_flat_say_the_growth_with_its_rate() -> None:
    grew = check(Grows(DOOR))
    assert grew == Verdict(True, "signals on 'door' (#4) grew +82,000 over 2.0 s (41.0k/s)")
    flat = check(Flat(Series("exits", AtDoorbell(Bus.PIO, 0x0600))))
    assert flat == Verdict(True, "exits at pio 0x0600 stayed at 80,000 (+0 over 2.0 s)")


def test_grows_fails_saying_what_it_stayed_at() -> None:
    stayed = check(Grows(EXITS_600))
    assert not stayed.ok
    assert stayed.text == (
        "expected exits at pio 0x0600 to grow; they stayed at 80,000 (+0 over 2.0 s)"
    )
    short = check(Grows(DOOR, least=100_000))
    assert not short.ok and "to grow by 100,000 at least; +82,000 over 2.0 s" in short.text
    moved = check(Flat(DOOR))
    assert not moved.ok and moved.text.endswith(
        "to stay flat; they grew +82,000 over 2.0 s (41.0k/s)"
    )


def test_stops_needs_growth_before_and_none_after() -> None:
    assert check(Stops(EXITS_600)) == Verdict(
        True, "exits at pio 0x0600 stopped growing (+0 over 2.0 s; 40.0k/s before)"
    )
    still = check(Stops(RINGS_600))
    assert (
        not still.ok
        and "still grew +82,000 over 2.0 s (41.0k/s), against 40.0k/s before" in still.text
    )
    never = check(Stops(SIGNALS_600))
    assert not never.ok and "they were not growing before (+0 over 2.0 s)" in never.text


def test_rate_close_against_the_rate_before_and_the_same_rings_after() -> None:
    before = RateClose(DOOR, Series("exits", AtDoorbell(Bus.PIO, 0x0600), "before"), 0.05)
    assert check(before) == Verdict(
        True,
        "signals on 'door' (#4) grow at 41.0k/s, the rate exits at pio 0x0600 had before "
        "(40.0k/s; 2% apart, within 5%)",
    )
    same = check(RateClose(DOOR, RINGS_600, 0.01))
    assert same.ok and "the rate of rings at pio 0x0600 (41.0k/s; 0% apart" in same.text
    tight = check(RateClose(DOOR, Series("exits", AtDoorbell(Bus.PIO, 0x0600), "before"), 0.01))
    assert not tight.ok
    assert tight.text.endswith("(40.0k/s, within 1%); they grew at 41.0k/s (2% apart)")
    nothing = check(RateClose(DOOR, EXITS_600, 0.5))
    assert not nothing.ok and "but those did not grow (+0 over 2.0 s)" in nothing.text


def test_exact_wants_a_new_checkpoint_that_balances() -> None:
    def windows(cp_after, seen_before):  # type: ignore[no-untyped-def]
        after = [reading(1.0, checkpoint=cp_after), reading(3.0, checkpoint=cp_after)]
        return Windows([], after, {}, seen_before)

    held = check(Exact(), windows(checkpoint(8), 7))
    assert held == Verdict(
        True,
        "checkpoint #8 (exact pause): rings = signals + exits at all 2 doorbells (1,500 rings)",
    )
    stale = check(Exact(), windows(checkpoint(7), 7))
    assert not stale.ok and "none was taken since the action" in stale.text
    off = check(Exact(), windows(checkpoint(8, balance=3), 7))
    assert not off.ok and off.text.endswith("pio 0x0600 off by +3")


def test_state_and_reader() -> None:
    w = Windows([], [reading(1.0, state="paused", reader="poll")], {})
    assert evaluate(StateIs("paused"), w) == Verdict(True, "the guest is paused")
    assert evaluate(StateIs("running"), w) == Verdict(
        False, "expected the guest to be running; it is paused"
    )
    assert evaluate(ReaderIs("poll"), w).ok
    assert evaluate(ReaderIs("none"), w).text == (
        "expected the eventfd reader to be none; it is poll"
    )


def test_a_count_the_readings_lack_fails_and_says_why() -> None:
    unrung = check(Grows(Series("exits", AtDoorbell(Bus.MMIO, 0xFE00_1000))))
    assert unrung == Verdict(
        False,
        "exits at mmio 0xfe001000: the guest's ring plan does not ring that doorbell",
    )
    never = check(Grows(Series("signals", OnRegistration("other"))))
    assert not never.ok and "'other' was never registered" in never.text
    one = Windows([], [reading(1.0)], {})
    assert "fewer than two readings after the action" in evaluate(Grows(DOOR), one).text


def test_a_reset_inside_the_window_counts_from_zero() -> None:
    after = [
        reading(1.0, total=900_000),
        reading(2.0, total=950_000),
        reading(3.0, total=20_000),  # reset between: 20,000 rings since
    ]
    grew = evaluate(Grows(Series("rings", WholeLab())), Windows([], after, {}))
    assert grew == Verdict(True, "rings of the guest grew +70,000 over 2.0 s (35.0k/s)")


def test_a_removed_registration_keeps_its_final_count() -> None:
    after = [reading(1.0, {MMIO_FF: (1, 0, 1)}, removed={4: 500}), reading(3.0, removed={4: 500})]
    assert evaluate(Flat(DOOR), Windows([], after, IDS)) == Verdict(
        True, "signals on 'door' (#4) stayed at 500 (+0 over 2.0 s)"
    )


def test_share_close_compares_shares_of_the_guests_rings_across_the_action() -> None:
    """0x0600 takes a fifth of the rings, exiting at 40k/s, then signalling at 10k/s
    (the machine got busy): the rates are far apart, the shares are not."""
    before = [
        reading(1.0, {PIO_600: (0, 0, 0)}, total=0),
        reading(3.0, {PIO_600: (80_000, 0, 80_000)}, total=400_000),
    ]
    after = [
        reading(4.0, {PIO_600: (80_000, 0, 80_000)}, {4: 0}, total=400_000),
        reading(6.0, {PIO_600: (100_000, 20_000, 80_000)}, {4: 20_000}, total=501_000),
    ]
    w = Windows(before, after, IDS)
    was = Series("exits", AtDoorbell(Bus.PIO, 0x0600), "before")
    assert evaluate(ShareClose(DOOR, was, 0.05), w) == Verdict(
        True,
        "signals on 'door' (#4) take 19.8% of the guest's rings, the share exits at pio "
        "0x0600 had before (20.0%; within 5%)",
    )
    assert not evaluate(RateClose(DOOR, was, 0.5), w).ok
    other = Series("exits", AtDoorbell(Bus.MMIO, 0xFE0F_F000), "before")
    w2 = Windows([*before[:1], reading(3.0, {MMIO_FF: (1, 0, 1)}, total=400_000)], after, IDS)
    missing = evaluate(ShareClose(DOOR, other, 0.05), w2)
    assert not missing.ok and "does not ring that doorbell" in missing.text
    idle = Windows([reading(1.0, total=5), reading(3.0, total=5)], after, IDS)
    assert (
        "the guest rang nothing before the action"
        in evaluate(ShareClose(DOOR, was, 0.1), idle).text
    )


def test_rate_close_allows_what_is_in_flight_at_the_two_ends() -> None:
    """At 500 rings/s, 400 rings in flight are 40 %: one visit (513) at each end bounds it."""
    after = [
        reading(1.0, {PIO_600: (1_000, 1_400, 0)}, {4: 1_400}),
        reading(3.0, {PIO_600: (2_000, 2_000, 0)}, {4: 2_000}),
    ]
    held = evaluate(RateClose(DOOR, RINGS_600, 0.05), Windows([], after, IDS))
    assert held == Verdict(
        True,
        "signals on 'door' (#4) grow at 300/s, the rate of rings at pio 0x0600 (500/s; 40% "
        "apart, within the 1,026 rings in flight at the two ends)",
    )
    after[1] = reading(3.0, {PIO_600: (5_000, 2_000, 0)}, {4: 2_000})
    assert not evaluate(RateClose(DOOR, RINGS_600, 0.05), Windows([], after, IDS)).ok
