"""The guided tour's panel: the step on screen, its action, its verdict, and the keys.

A thin view of a `TourRun` (iofdtui/tour/run.py), which holds the logic: the
panel hands it the app's readings and the user's keys, makes the engine call
it asks for through the app's session (as any key does), and writes each
step's verdict to the event log, so a recording of the session keeps it.
Its keys are the command table's "tour" scope (`ui/bindings.py`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Static

from iofdtui.tour.run import ActionDone, Request, StepResult, TourRun
from iofdtui.tour.schema import Tour, Watch, describe_action
from iofdtui.ui.bindings import bindings
from iofdtui.ui.messages import EngineDone, Report, SnapshotReady, VcpusChanged
from iofdtui.ui.session import LabSession
from iofdtui.ui.tour_calls import tour_call

Log = Callable[[str, str], None]
"""The event log's `log_event(text, severity)`."""


def paragraphs(text: str) -> str:
    """A step's text as the panel wraps it: lines joined, blank lines kept as breaks."""
    return "\n".join(" ".join(p.split()) for p in re.split(r"\n\s*\n", text.strip()))


class TourPanel(Vertical, can_focus=True):
    """The tour under the lab's tables: step k/N, what it does, and whether it happened."""

    BINDINGS: ClassVar[list[BindingType]] = bindings("tour")

    @dataclass
    class ActionReported(Message):
        """What the step's engine call did (posted from the session's worker)."""

        done: ActionDone

    def __init__(
        self,
        tour: Tour,
        session: LabSession,
        log: Log,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """A panel walking `tour` on `session`'s lab.

        Args:
            tour: the validated tour.
            session: the app's lab session; every action goes through it.
            log: writes a line to the event log.
            clock: the readings' clock (time.monotonic).
        """
        super().__init__(id="tour")
        self.run = TourRun(tour, clock)
        """The walk: which step, its phase, the verdicts so far."""
        self._session = session
        self._log = log

    def compose(self) -> ComposeResult:
        """The step's text, its action, its verdict, and what the keys do now."""
        yield Static(id="tour-text")
        yield Static(id="tour-action")
        yield Static(id="tour-verdict")
        yield Static(id="tour-keys")

    def on_mount(self) -> None:
        """Say the tour started, and show its first step."""
        tour = self.run.tour
        self._log(f"tour started: {tour.title} ({self.run.total} steps)", "information")
        self.show()

    # ----------------------------------------------------------- the inputs

    def show_report(self, report: Report) -> None:
        """A reading may complete the window a step waits for; a new VM renumbers."""
        match report:
            case SnapshotReady(snapshot=snap):
                self._handle(self.run.reading(snap))
                self._show_keys()
            case EngineDone(outcome=VcpusChanged(renumbered=renumbered)):
                self.run.renumber(renumbered)

    def action_tour_next(self) -> None:
        """Run the step, or go on to the next one (close the panel after the last)."""
        if self.run.phase == "finished":
            self.action_tour_close()
            return
        self._handle(self.run.go())
        if self.run.phase == "finished":
            self._log(self.run.summary(), "information")
        self.show()

    def action_tour_back(self) -> None:
        """Show the previous step and its verdict."""
        self.run.back()
        self.show()

    def action_tour_close(self) -> None:
        """Close the tour; whatever it registered or changed stays."""
        if self.run.phase != "finished":
            self._log(f"tour closed at step {self.run.current + 1}/{self.run.total}", "information")
        self.remove()

    @on(ActionReported)
    def _action_reported(self, event: ActionReported) -> None:
        self._handle(self.run.action_done(event.done))
        self.show()

    def _handle(self, what: Request | StepResult | None) -> None:
        if isinstance(what, Request):
            if not self._session.ready:
                done = ActionDone(False, "no test VM is running", time.monotonic())
                self._handle(self.run.action_done(done))
                return
            step = f"tour step {what.index + 1}: {describe_action(what.action)}"
            self._session.call(step, tour_call(what, self.post_message_from_worker))
        elif isinstance(what, StepResult):
            self._log(what.line(self.run.total), "information" if what.ok else "warning")
            self.show()

    def post_message_from_worker(self, done: ActionDone) -> None:
        """Hand the worker's report to the event loop (post_message is thread-safe)."""
        self.post_message(self.ActionReported(done))

    # --------------------------------------------------------------- showing

    def show(self) -> None:
        """Draw the step on screen: its text, action, verdict and keys."""
        run = self.run
        index = run.shown
        step = run.tour.steps[index]
        self.border_title = f"Tour · step {index + 1}/{run.total}: {step.title}"
        self.border_subtitle = run.tour.title
        # Content, not markup: a tour file's text is shown as written.
        self.query_one("#tour-text", Static).update(Content(paragraphs(step.text)))
        result = run.results.get(index)
        action = self.query_one("#tour-action", Static)
        verdict = self.query_one("#tour-verdict", Static)
        if isinstance(step.action, Watch):
            action.update("Does: nothing; the step watches the counts")
        elif result is not None:
            action.update(Content(f"Did: {result.action_text}"))
        elif index == run.current and run.action is not None:
            action.update(Content(f"Did: {run.action.text}"))
        else:
            action.update(Content(f"Will: {describe_action(step.action)}"))
        verdict.update(_verdict(result) if result is not None else "")
        verdict.display = result is not None
        verdict.set_class(result is not None and result.ok, "-pass")
        verdict.set_class(result is not None and not result.ok, "-fail")
        self._show_keys()
        # In a short terminal the panel scrolls: keep the verdict in view once there is one.
        if result is not None:
            self.call_after_refresh(self.scroll_end, animate=False)
        else:
            self.scroll_home(animate=False)

    def _show_keys(self) -> None:
        run = self.run
        window = run.step.seconds
        text = {
            "ready": "Enter: do it · b: back · Esc: close the tour",
            "before": f"measuring before the action: {run.watched():.1f} of {window:.1f} s…",
            "acting": "asking the engine…",
            "watching": f"watching the counts: {run.watched():.1f} of {window:.1f} s…",
            "done": "Enter: next step · b: back · Esc: close the tour",
            "finished": f"{run.summary()} · Enter or Esc: close",
        }[run.phase]
        if run.shown < run.current:
            text = f"step {run.current + 1} is the tour's current one · Enter: forward · b: back"
        elif run.phase == "done" and run.current + 1 == run.total:
            text = "Enter: finish · b: back · Esc: close the tour"
        self.query_one("#tour-keys", Static).update(Content(text))


def _verdict(result: StepResult) -> Content:
    """✓ or ✗ per check, each with its numbers; a failed action says why, alone."""
    if not result.action_ok:
        return Content.assemble(("✗ It did not happen: ", "bold $error"), result.action_text)
    head = ("✓ It happened:", "bold $success") if result.ok else ("✗ Not as said:", "bold $error")
    parts: list[str | tuple[str, str]] = [head]
    for v in result.verdicts:
        parts += ["\n", ("✓ " if v.ok else "✗ ", "$success" if v.ok else "$error"), v.text]
    return Content.assemble(*parts)
