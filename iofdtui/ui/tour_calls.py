"""The engine call each tour action makes, and what it did as the tour reads it.

Every action is one of the app's own engine calls (`ui/engine_calls.py`, or
the two settings below that `c` and `w` only cycle through), run by the
session's worker like a key's: the event log and the tables see it as they
see any other.  `tour_call` wraps it so the tour also learns, from the same
worker, what it did and when it returned (`ActionDone`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

from iofdtui.tour.run import ActionDone, Request
from iofdtui.tour.schema import (
    Add,
    Pace,
    Pause,
    Plan,
    Reader,
    Remove,
    Reset,
    Resume,
    describe_action,
)
from iofdtui.ui import engine_calls as calls
from iofdtui.ui.engine_calls import ENGINE_ERRORS, PACE_US, EngineCall, one_line
from iofdtui.ui.lab_port import LabPort
from iofdtui.ui.messages import (
    Outcome,
    PaceChanged,
    PlanChanged,
    PlanRejected,
    ReaderChanged,
    RegistrationAdded,
    RegistrationRefused,
    RegistrationRemoved,
)


def set_reader(lab: LabPort, mode: str) -> Outcome | None:
    """The eventfd reader `mode` (None: it already was)."""
    if lab.reader == mode:
        return None
    lab.set_reader(mode)
    return ReaderChanged(mode)


def set_pace(lab: LabPort, on: bool) -> Outcome | None:
    """Paced as `w` paces (or flat out); counters restart as with `w` (None: it already was)."""
    if (lab.pace_us is not None) == on:
        return None
    return calls.toggle_pace(lab)


def engine_call(request: Request) -> EngineCall:
    """The engine call for a tour's request."""
    match request.action:
        case Add(spec):
            return partial(calls.add_registration, spec=spec)
        case Remove() if request.reg_id is not None:
            return partial(calls.remove_registration, reg_id=request.reg_id)
        case Pause():
            return calls.pause
        case Resume():
            return calls.resume
        case Reset():
            return calls.reset
        case Reader(mode):
            return partial(set_reader, mode=mode)
        case Pace(on):
            return partial(set_pace, on=on)
        case Plan(slots):
            return partial(calls.set_plan, plan=list(slots))
    raise ValueError(f"no engine call for {request.action!r}")


def done(outcome: Outcome | None, request: Request, done_at: float) -> ActionDone:
    """What the call did, as the tour reads it: refusals are failures too."""
    match outcome:
        case RegistrationAdded(reg_id, spec):
            return ActionDone(True, f"registered #{reg_id} {spec.describe()}", done_at, reg_id)
        case RegistrationRefused(spec, message):
            return ActionDone(False, f"registering {spec.describe()} refused: {message}", done_at)
        case RegistrationRemoved(final):
            text = f"removed #{final.id} {final.spec.describe()}: {final.signals:,} signals in all"
            return ActionDone(True, text, done_at)
        case PlanRejected(message):
            return ActionDone(False, f"ring plan rejected: {message}", done_at)
        case PlanChanged(plan):
            which = (
                "the demo plan"
                if isinstance(request.action, Plan) and request.action.demo
                else "a plan"
            )
            return ActionDone(True, f"the guest rings {which} ({len(plan)} writes)", done_at)
        case ReaderChanged(mode):
            return ActionDone(True, f"reader {mode}", done_at)
        case PaceChanged(pace_us):
            text = "ringing flat out" if pace_us is None else f"paced every {PACE_US:g} µs"
            return ActionDone(True, f"{text} (counters reset)", done_at)
        case None:
            return ActionDone(True, f"nothing to do: {_already(request)}", done_at)
    return ActionDone(True, describe_action(request.action), done_at)


def _already(request: Request) -> str:
    match request.action:
        case Pause():
            return "the guest was paused already"
        case Resume():
            return "the guest was running already"
        case Reader(mode):
            return f"the reader was {mode} already"
        case Pace(on):
            return "the plan was paced already" if on else "the plan rang flat out already"
    return "it was done already"


def tour_call(request: Request, report: Callable[[ActionDone], None]) -> EngineCall:
    """The request's engine call, reporting to the tour what it did and when it returned.

    `report` is called in the session's worker (it must be thread-safe: a
    `post_message`); the call's outcome or error still goes to the session,
    which reports it as it does every other.
    """
    run = engine_call(request)

    def call(lab: LabPort) -> Outcome | None:
        try:
            outcome = run(lab)
        except ENGINE_ERRORS as err:
            what = describe_action(request.action)
            report(ActionDone(False, f"{what} failed: {one_line(err)}", time.monotonic()))
            raise
        except BaseException as err:
            report(ActionDone(False, f"unexpected error: {one_line(err)}", time.monotonic()))
            raise
        report(done(outcome, request, time.monotonic()))
        return outcome

    return call
