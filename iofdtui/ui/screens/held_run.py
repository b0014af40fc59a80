"""A screen that measures on VMs of its own while the app's live guest is held paused.

The scale sweep (`x`) and the round trip (`i`) run seconds of `KVM_RUN` on
their own VMs; with the live guest ringing beside them the two VMs would
share the CPUs, and neither figure would be the one asked for.  This base
holds the live guest for a run, keeps it held while the results are on
screen (a rerun takes the hold over, so the guest does not ring between two
runs), and lets it go when the screen goes, however it goes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message
from textual.reactive import reactive
from textual.screen import ModalScreen

HoldLive = Callable[[], tuple[str, bool]]
"""Pause the app's live guest (blocking); returns what to say, and whether it was paused."""

ReleaseLive = Callable[[], None]
"""Let the live guest ring again (blocking)."""

_ONE_RUN = threading.Lock()
"""One run on VMs of its own at a time: a new one waits for a stopping one to let go
of the CPUs (and of the held guest)."""


def held_run_bindings(key: str, close_tip: str, rerun_tip: str) -> list[BindingType]:
    """Escape (or the screen's own `key`, or q) closes; `r` runs again; `S` saves an SVG."""
    return [
        Binding("escape", "close", "Close", tooltip=close_tip),
        Binding(key, "close", "Close", show=False),
        # As on the help screen: q closes this screen, and q on the lab quits.
        Binding("q", "close", "Close", show=False),
        Binding("r", "rerun", "Run again", tooltip=rerun_tip),
        Binding("S", "app.screenshot", "SVG", tooltip="Save an SVG to screenshots/."),
    ]


class HeldRunScreen(ModalScreen[None]):
    """Runs a measurement in a thread worker while the live guest is held.

    Modal, so the main screen's keys (pause, add...) cannot reach the live
    lab while it is held.  Subclasses start a worker that calls `held_run`
    with their measurement, and handle `LiveHeld`, `Progress` and `Failed`.
    """

    BINDINGS: ClassVar[list[BindingType]] = []

    running: reactive[bool] = reactive(False, bindings=True)
    """Whether a run is measuring; `r` is offered only when none is."""

    @dataclass
    class LiveHeld(Message):
        """The live guest's fate for this run, in words."""

        note: str

    @dataclass
    class Progress(Message):
        """What is being measured now."""

        what: str

    @dataclass
    class Failed(Message):
        """The run could not be made; `message` is one line with the cause and the fix."""

        message: str

    def __init__(
        self, hold_live: HoldLive | None = None, release_live: ReleaseLive | None = None
    ) -> None:
        """
        Args:
            hold_live: pauses the app's live guest for a run (in the worker).
            release_live: resumes it once the screen is closed.
        """
        super().__init__()
        self._hold_live = hold_live
        self._release_live = release_live
        self._screen_gone = threading.Event()
        self._rerun = threading.Event()
        self._held = False  # the live guest is held, by the run that ended, for the next

    @property
    def gone(self) -> bool:
        """Whether the screen was closed (a run stops at its next chance)."""
        return self._screen_gone.is_set()

    def held_run(self, measure: Callable[[], None]) -> None:
        """Hold the live guest, `measure` (blocking: call it in a thread worker).

        An `OSError` from `measure` (KvmUnavailable, EngineError, EMFILE...) is
        posted as `Failed` with its one line.  The hold is kept while the
        results are on screen: a rerun takes it over, closing the screen lets
        it go.
        """
        with _ONE_RUN:
            self._rerun.clear()
            held, self._held = self._held, False
            if not held and not self.gone and self._hold_live is not None:
                note, held = self._hold_live()
                self.post_message(self.LiveHeld(note))
            try:
                if not self.gone:
                    measure()
            except OSError as err:
                # strerror is the engine's one-line message, or the bare errno's text.
                self.post_message(self.Failed(err.strerror or str(err)))
            finally:
                while held and not self._screen_gone.wait(0.1) and not self._rerun.is_set():
                    pass
                if held and not self.gone:
                    self._held = True  # the rerun's worker, waiting for the lock, keeps it
                elif held and self._release_live is not None:
                    self._release_live()

    def start_run(self) -> None:
        """Start a run (subclasses: show that it starts, then start their worker)."""
        raise NotImplementedError

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """`r` only once the run is over."""
        if action == "rerun":
            return not self.running
        return True

    def action_rerun(self) -> None:
        """Measure again (the live guest stays held)."""
        self._rerun.set()
        self.start_run()

    def action_close(self) -> None:
        """Back to the lab (a run in progress stops at its next chance, then lets go)."""
        self._screen_gone.set()
        self.dismiss(None)

    def on_unmount(self) -> None:
        """However the screen goes (even at quit), the run stops and the guest is let go."""
        self._screen_gone.set()
