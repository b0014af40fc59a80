"""Running a command: a terminal to draw on, /dev/kvm checked first, the app
run so that SIGTERM, SIGHUP and SIGINT end it as `q` does, and an OSError as
one line with its fix."""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING

from iofdtui.cli.flags import NO_KVM_HINT
from iofdtui.engine.errors import EngineError, KvmUnavailable

if TYPE_CHECKING:
    from iofdtui.ui.app import IofdApp

END_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
"""Signals that end a run cleanly: the app as `q` does, the bench with one line."""


# ------------------------------------------------------------------- flags


WEB_DRIVER = "textual.drivers.web_driver:WebDriver"
"""The driver textual-serve runs each browser's app with, on pipes to the page."""


def has_terminal() -> bool:
    """A terminal to draw on: a tty at both ends, or a browser's (`iofdtui serve`)."""
    if os.environ.get("TEXTUAL_DRIVER") == WEB_DRIVER:
        return True
    # A closed fd 0 or 1 (`<&-`) leaves Python with None there: no terminal either.
    if sys.stdin is None or sys.stdout is None:
        return False
    return sys.stdin.isatty() and sys.stdout.isatty()


def require_kvm() -> None:
    """Raise `KvmUnavailable` unless /dev/kvm is a usable KVM device: checked before
    any VM or TUI exists, so a machine without KVM gets one line, not an app."""
    from iofdtui.engine.kvm_device import kvm_problem

    problem = kvm_problem()
    if problem is not None:
        raise KvmUnavailable(*problem)


def run_tui(app: IofdApp) -> int:
    """Run `app` in the terminal; SIGTERM, SIGHUP and SIGINT end it as `q` does."""
    from iofdtui.ui.app import EXIT_NO_VM

    caught: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if caught:
            return  # already ending (`timeout` sends SIGTERM to the child and its group)
        caught.append(signum)
        # Textual's SIGCONT handler re-enters raw mode; `timeout` sends SIGCONT
        # right after SIGTERM, which would undo the teardown's tty restore.
        signal.signal(signal.SIGCONT, signal.SIG_DFL)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            # No event loop (not started yet, or already gone): nothing is drawn.
            raise Ended(signum) from None
        # A Python signal handler runs in the main thread, which is the app's
        # loop thread; scheduling exit() wakes the loop and quits as `q` does.
        loop.call_soon_threadsafe(app.exit, None, 128 + signum)

    with handlers(on_signal):
        result = app.run()
    if caught:
        return 128 + caught[0]
    if result is not None:
        return int(result)
    return EXIT_NO_VM if app.startup_error else (app.return_code or 0)


# ---------------------------------------------------------------- signals


class Ended(BaseException):
    """A signal that ends the run (BaseException: no `except Exception` swallows it)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def raise_ended(signum: int, _frame: FrameType | None) -> None:
    raise Ended(signum)


@contextmanager
def handlers(handler: Callable[[int, FrameType | None], None]) -> Iterator[None]:
    """Install `handler` for END_SIGNALS for the block, then put the old ones back."""
    old = {sig: signal.signal(sig, handler) for sig in END_SIGNALS}
    try:
        yield
    finally:
        for sig, previous in old.items():
            signal.signal(sig, previous)


# ------------------------------------------------------------------ errors

_FIXES = {
    errno.EMFILE: "raise the open-file limit (ulimit -n) and run again",
    errno.ENFILE: "the system is out of file handles: close some programs and run again",
    errno.ENOMEM: "free some memory and run again",
    errno.EACCES: "check the permissions on /dev/kvm (the kvm group) and run again",
    errno.EPERM: "check the permissions on /dev/kvm (the kvm group) and run again",
    errno.EBUSY: "another program holds the device; close it and run again",
}


def os_error_line(err: OSError) -> str:
    """One line for an OSError: the engine's own (cause and fix), or cause; fix by errno."""
    if isinstance(err, KvmUnavailable):
        return f"iofdtui: {err}; {NO_KVM_HINT}"
    if isinstance(err, EngineError):
        return f"iofdtui: {err}"
    cause = err.strerror or str(err) or type(err).__name__
    if err.filename is not None:
        cause = f"{err.filename}: {cause}"
    fix = _FIXES.get(err.errno or 0, "check dmesg for KVM messages, then run again")
    return f"iofdtui: {cause}; {fix}"
