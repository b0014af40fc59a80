"""Walk a tour: which step is on, what it asks the engine to do, and when it can be judged.

`TourRun` is driven from outside and does no I/O: the UI hands it every
reading (`reading`), the user's keys (`go`, `back`), and what each engine
call did (`action_done`); it answers with a `Request` (make this engine call
now) or a `StepResult` (the step's verdict).  A step goes

    ready --go--> [before] --> acting --action_done--> watching --> done --go--> next

`before` waits until the readings since the previous action span the step's
window, when a check compares with the time before the action; `watching`
until the readings taken `settle` seconds after the action span it.  Times
are `time.monotonic()`, the clock `Snapshot.taken_at` is on, so a reading
counts as "after" only if it was taken after the engine call returned.

`back` only changes which step is shown (steps that ran keep their verdicts);
going forward again shows them until the first step not yet run.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from iofdtui.engine.snapshot import Snapshot
from iofdtui.tour.checks import Verdict, Windows, evaluate
from iofdtui.tour.schema import Action, Add, Remove, Step, Tour, Watch

Phase = Literal["ready", "before", "acting", "watching", "done", "finished"]

SLACK_S = 1e-6
"""Float noise allowed when a window's span is compared with the step's seconds."""

MAX_READINGS = 2000
"""Readings kept: a minute at the fastest refresh, far more than any window needs."""


@dataclass(frozen=True, slots=True)
class Request:
    """Make this engine call for step `index` (0-based); `reg_id` is the id `Remove` names."""

    index: int
    action: Action
    reg_id: int | None = None


@dataclass(frozen=True, slots=True)
class ActionDone:
    """What the engine call did.

    Attributes:
        ok: it did what the step asked (False: refused or failed).
        text: one line: what it did, or why it did not.
        done_at: time.monotonic() when the call returned.
        reg_id: the id an `add` was given.
    """

    ok: bool
    text: str
    done_at: float
    reg_id: int | None = None


@dataclass(frozen=True, slots=True)
class StepResult:
    """A step's verdict: what its action did and what each check found."""

    index: int
    title: str
    action_ok: bool
    action_text: str
    verdicts: tuple[Verdict, ...]

    @property
    def ok(self) -> bool:
        """The action ran and every check held."""
        return self.action_ok and all(v.ok for v in self.verdicts)

    def line(self, total: int) -> str:
        """The event log's line for it (a recording keeps it)."""
        head = f"tour {self.index + 1}/{total} {'✓' if self.ok else '✗'} {self.title}"
        if not self.action_ok:
            return f"{head}: did not happen: {self.action_text}"
        if self.ok:
            return f"{head}: " + "; ".join(v.text for v in self.verdicts)
        return f"{head}: did not happen: " + "; ".join(v.text for v in self.verdicts if not v.ok)


class TourRun:
    """One walk through a tour (see the module's docstring for the steps' phases)."""

    def __init__(self, tour: Tour, clock: Callable[[], float] = time.monotonic) -> None:
        """Start at the first step, ready to run.

        Args:
            tour: the validated tour.
            clock: the readings' clock (`time.monotonic`; a test's fake time).
        """
        self.tour = tour
        self.current = 0
        """The first step not yet judged (0-based)."""
        self.shown = 0
        """The step on screen (`back` moves it behind `current`)."""
        self.phase: Phase = "ready"
        self.results: dict[int, StepResult] = {}
        self.action: ActionDone | None = None
        """What the current step's engine call did, once it returned."""
        self.ids: dict[str, int] = {}
        """The id of each registration the tour added, by name."""
        self._clock = clock
        self._readings: deque[Snapshot] = deque(maxlen=MAX_READINGS)
        self._boundary = float("-inf")  # readings from here on follow the last action
        self._before: list[Snapshot] = []
        self._checkpoint: int | None = None

    # ---------------------------------------------------------------- state

    @property
    def step(self) -> Step:
        """The current step."""
        return self.tour.steps[min(self.current, len(self.tour.steps) - 1)]

    @property
    def total(self) -> int:
        """Steps in the tour."""
        return len(self.tour.steps)

    @property
    def passed(self) -> int:
        """Steps whose verdict was ✓."""
        return sum(result.ok for result in self.results.values())

    def watched(self) -> float:
        """Seconds the window being waited for spans so far (before or after the action)."""
        window = self._before_window() if self.phase == "before" else self._after_window()
        return _span(window) if self.phase in ("before", "watching") else 0.0

    def summary(self) -> str:
        """The line a finished tour ends with."""
        failed = [r for r in self.results.values() if not r.ok]
        text = f"tour over: {self.passed} of {self.total} steps did what they said"
        if failed:
            steps = ", ".join(f"{r.index + 1} ({r.title})" for r in failed)
            text += f"; not step{'s' if len(failed) > 1 else ''} {steps}"
        return text

    # ------------------------------------------------------------ the inputs

    def go(self) -> Request | StepResult | None:
        """The user's Enter: show the next step, run the current one, or move past it."""
        if self.shown < self.current:
            self.shown += 1
            return None
        if self.phase == "ready":
            self.phase = "before"
            return self._act_when_ready()
        if self.phase == "done":
            if self.current + 1 < self.total:
                self.current += 1
                self.shown = self.current
                self.phase = "ready"
                self.action = None
            else:
                self.phase = "finished"
        return None

    def back(self) -> None:
        """Show the step before the one shown (the current step runs on meanwhile)."""
        self.shown = max(0, self.shown - 1)

    def reading(self, snap: Snapshot) -> Request | StepResult | None:
        """A new reading: it may complete a window the step waits for."""
        self._readings.append(snap)
        if self.phase == "before":
            return self._act_when_ready()
        if self.phase == "watching":
            return self._judge_when_ready()
        return None

    def action_done(self, done: ActionDone) -> StepResult | None:
        """The current step's engine call returned (or could not be made)."""
        if self.phase != "acting":
            return None  # a late report for a step that was already judged
        self.action = done
        action = self.step.action
        if not done.ok:
            self._boundary = done.done_at
            return self._finish(False, done.text, ())
        if isinstance(action, Add) and done.reg_id is not None:
            self.ids[action.name] = done.reg_id
        self._boundary = done.done_at + self.step.settle
        self.phase = "watching"
        return self._judge_when_ready()

    def renumber(self, renumbered: Mapping[int, int]) -> None:
        """A new VM made the registrations again under new ids (`v`)."""
        self.ids = {name: renumbered.get(reg_id, reg_id) for name, reg_id in self.ids.items()}

    # -------------------------------------------------------------- windows

    def _act_when_ready(self) -> Request | StepResult | None:
        if not self._readings:
            return None  # not one reading yet: the lab is still starting
        if self.step.needs_before and _span(self._before_window()) < self.step.seconds - SLACK_S:
            return None
        self._before = self._before_window()
        self._checkpoint = _checkpoint_number(self._readings[-1])
        self.phase = "acting"
        action = self.step.action
        if isinstance(action, Watch):
            return self.action_done(ActionDone(True, "watched", self._clock()))
        if isinstance(action, Remove):
            reg_id = self.ids.get(action.name)
            if reg_id is None:
                why = f"'{action.name}' was never registered (its step's action did not run)"
                return self.action_done(ActionDone(False, why, self._clock()))
            return Request(self.current, action, reg_id)
        return Request(self.current, action)

    def _before_window(self) -> list[Snapshot]:
        """The readings since the last action, back to one window's span."""
        since = [s for s in self._readings if s.taken_at >= self._boundary]
        if not since:
            return []
        newest = since[-1].taken_at
        start = 0
        # Keep the latest readings that span the window, no more.
        for i in range(len(since) - 1, -1, -1):
            start = i
            if newest - since[i].taken_at >= self.step.seconds - SLACK_S:
                break
        return since[start:]

    def _after_window(self) -> list[Snapshot]:
        return [s for s in self._readings if s.taken_at >= self._boundary]

    def _judge_when_ready(self) -> StepResult | None:
        after = self._after_window()
        if len(after) < 2 or _span(after) < self.step.seconds - SLACK_S:
            return None
        windows = Windows(self._before, after, dict(self.ids), self._checkpoint)
        verdicts = tuple(evaluate(check, windows) for check in self.step.checks)
        done = self.action
        return self._finish(True, done.text if done else "", verdicts)

    def _finish(self, action_ok: bool, text: str, verdicts: tuple[Verdict, ...]) -> StepResult:
        result = StepResult(self.current, self.step.title, action_ok, text, verdicts)
        self.results[self.current] = result
        self.phase = "done"
        return result


def _span(readings: list[Snapshot]) -> float:
    return readings[-1].taken_at - readings[0].taken_at if len(readings) >= 2 else 0.0


def _checkpoint_number(snap: Snapshot) -> int | None:
    return snap.checkpoint.number if snap.checkpoint is not None else None
