"""Walking a tour on made-up readings: when it acts, which readings it judges, what it says."""

from __future__ import annotations

from iofdtui.tour import parse_tour
from iofdtui.tour.run import ActionDone, Request, StepResult, TourRun
from iofdtui.tour.schema import Add, Pause, Remove
from tests.tour.synthetic import PIO_600, reading

TOUR = """
[tour]
title = "two steps"
seconds = 2.0
settle = 0.5

[[step]]
title = "register"
text = "A wildcard at 0x0600."
action = { do = "add", bus = "pio", addr = 0x0600, width = 1, name = "door" }

[[step.check]]
expect = "stops"
count = "exits"
doorbell = "pio 0x0600"

[[step.check]]
expect = "grows"
count = "signals"
registration = "door"

[[step]]
title = "remove"
text = "And away."
action = { do = "remove", name = "door" }

[[step.check]]
expect = "grows"
count = "exits"
doorbell = "pio 0x0600"
"""


def exits(t: float, n: int):  # type: ignore[no-untyped-def]
    """0x0600 with only exits so far."""
    return reading(t, {PIO_600: (n, 0, n)})


def signals(t: float, exits: int, n: int):  # type: ignore[no-untyped-def]
    """0x0600 registered as #3 with `n` signals."""
    return reading(t, {PIO_600: (exits + n, n, exits)}, {3: n})


def test_a_step_waits_for_its_window_before_acting_then_judges_only_later_readings() -> None:
    run = TourRun(parse_tour(TOUR), clock=lambda: 0.0)
    assert run.go() is None and run.phase == "before"  # no reading yet
    assert run.reading(exits(10.0, 0)) is None
    assert run.reading(exits(11.0, 40_000)) is None  # 1 s of the 2 s window
    request = run.reading(exits(12.0, 80_000))
    assert isinstance(request, Request) and isinstance(request.action, Add)
    assert run.phase == "acting"
    # Taken while the call ran: neither before nor after.
    assert run.reading(exits(12.2, 88_000)) is None
    assert run.action_done(ActionDone(True, "registered #3", done_at=12.3, reg_id=3)) is None
    assert run.phase == "watching" and run.ids == {"door": 3}
    assert run.reading(signals(12.6, 88_000, 0)) is None  # inside the settle time
    assert run.reading(signals(13.0, 88_000, 10_000)) is None
    assert run.reading(signals(14.0, 88_000, 50_000)) is None
    result = run.reading(signals(15.0, 88_000, 90_000))
    assert isinstance(result, StepResult) and result.ok and run.phase == "done"
    assert result.line(2) == (
        "tour 1/2 ✓ register: exits at pio 0x0600 stopped growing (+0 over 2.0 s; 40.0k/s "
        "before); signals on 'door' (#3) grew +80,000 over 2.0 s (40.0k/s)"
    )
    # Next: the remove names the id the add got.
    assert run.go() is None and run.phase == "ready" and run.current == 1
    assert run.go() == Request(1, Remove("door"), reg_id=3)


def test_an_effect_that_did_not_happen_is_said_with_its_numbers() -> None:
    run = TourRun(parse_tour(TOUR))
    for t in (10.0, 11.0, 12.0):
        run.reading(exits(t, int(t - 10) * 40_000))
    assert isinstance(run.go(), Request)
    run.action_done(ActionDone(True, "registered #3", done_at=12.1, reg_id=3))
    result = None
    for t in (13.0, 14.0, 15.0):  # the exits go on: the registration took nothing
        result = run.reading(reading(t, {PIO_600: (int(t) * 40_000,) * 3}, {3: 0}))
    assert isinstance(result, StepResult) and not result.ok
    assert result.line(2) == (
        "tour 1/2 ✗ register: did not happen: expected exits at pio 0x0600 to stop growing; "
        "they still grew +80,000 over 2.0 s (40.0k/s), against 40.0k/s before; "
        "expected signals on 'door' (#3) to grow; they stayed at 0 (+0 over 2.0 s)"
    )


def test_a_refused_action_ends_the_step_and_what_needed_it_says_so() -> None:
    run = TourRun(parse_tour(TOUR), clock=lambda: 20.0)
    for t in (10.0, 11.0, 12.0):
        run.reading(exits(t, int(t - 10) * 40_000))
    run.go()
    refused = run.action_done(ActionDone(False, "registering pio 0x0600/1 refused: EEXIST", 12.1))
    assert isinstance(refused, StepResult) and not refused.ok
    assert refused.line(2) == (
        "tour 1/2 ✗ register: did not happen: registering pio 0x0600/1 refused: EEXIST"
    )
    run.go()
    # Nothing to remove: no engine call is asked for, and the step says why.
    gone = run.go()
    assert isinstance(gone, StepResult) and not gone.ok
    assert "'door' was never registered" in gone.action_text
    assert run.go() is None and run.phase == "finished"
    assert run.summary() == (
        "tour over: 0 of 2 steps did what they said; not steps 1 (register), 2 (remove)"
    )


def test_back_shows_earlier_steps_and_forward_returns_to_the_current_one() -> None:
    run = TourRun(parse_tour(TOUR))
    for t in (10.0, 11.0, 12.0):
        run.reading(exits(t, int(t - 10) * 40_000))
    run.go()
    run.action_done(ActionDone(False, "refused", 12.1))
    run.go()
    assert (run.current, run.shown) == (1, 1)
    run.back()
    run.back()
    assert run.shown == 0
    assert run.go() is None and (run.current, run.shown, run.phase) == (1, 1, "ready")


def test_a_late_report_and_a_renumbering() -> None:
    run = TourRun(parse_tour(TOUR))
    assert run.action_done(ActionDone(True, "stray", 1.0)) is None  # nothing was asked
    run.ids = {"door": 3}
    run.renumber({3: 1})
    assert run.ids == {"door": 1}


def test_a_step_without_a_before_check_acts_at_once() -> None:
    tour = parse_tour(
        '[tour]\ntitle = "p"\n[[step]]\ntitle = "pause"\ntext = "x"\naction = { do = "pause" }\n'
        '[[step.check]]\nexpect = "state"\nis = "paused"\n'
    )
    run = TourRun(tour)
    run.reading(reading(1.0))
    assert run.go() == Request(0, Pause())
    run.action_done(ActionDone(True, "paused", 1.1))
    assert run.reading(reading(1.5, state="paused")) is None
    assert run.watched() == 0.0
    assert run.reading(reading(2.5, state="paused")) is None
    assert run.watched() == 1.0
    result = run.reading(reading(3.5, state="paused"))
    assert isinstance(result, StepResult) and result.ok
    assert result.line(1) == "tour 1/1 ✓ pause: the guest is paused"
