"""Run `iofdtui` on a pseudo-terminal, as a person's shell would, and read its tty back."""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

ENTER_ALT, LEAVE_ALT = b"\x1b[?1049h", b"\x1b[?1049l"
HIDE_CURSOR, SHOW_CURSOR = b"\x1b[?25l", b"\x1b[?25h"
COOKED = termios.ICANON | termios.ECHO | termios.ISIG
"""The line-discipline flags a shell needs back (`stty -a` shows them without a `-`)."""


@dataclass
class PtyRun:
    """A child on a new session whose controlling terminal is a fresh pty.

    `output` collects everything it writes to the terminal (Textual draws on
    stderr, rich's status line too); `stdout` is a pipe when asked for.
    """

    argv: Sequence[str]
    stdout_pipe: bool = False
    size: tuple[int, int] = (40, 120)
    output: bytearray = field(default_factory=bytearray)

    def __post_init__(self) -> None:
        self.master, self.slave = os.openpty()
        rows, cols = self.size
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.cooked = termios.tcgetattr(self.slave)
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(cols), "LINES": str(rows)}
        self.proc = subprocess.Popen(
            list(self.argv),
            stdin=self.slave,
            stdout=subprocess.PIPE if self.stdout_pipe else self.slave,
            stderr=self.slave,
            env=env,
            start_new_session=True,
            # The pty becomes the child's controlling terminal (and the
            # foreground process group's), as under an interactive shell.
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
        )
        self._hung_up = threading.Event()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        while not self._hung_up.is_set():
            if not select.select([self.master], [], [], 0.05)[0]:
                continue
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return  # EIO: every slave end is closed
            if not chunk:
                return
            self.output += chunk

    def wait_for(self, predicate: Callable[[bytes], bool], timeout: float) -> bool:
        """Until `predicate(output)` holds (True), or the child ends or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(bytes(self.output)):
                return True
            if self.proc.poll() is not None:
                return predicate(bytes(self.output))
            time.sleep(0.05)
        return False

    def kill(self, sig: signal.Signals) -> None:
        """Send `sig` to the child alone (as `kill -TERM <pid>` would)."""
        os.kill(self.proc.pid, sig)

    def wait(self, timeout: float) -> int:
        """The exit status (negative: killed by a signal); kills it if it hangs."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            raise

    def hang_up(self) -> None:
        """Close the terminal's master side, as closing a terminal window does.

        The kernel then sends SIGHUP to the session (the child leads it), and
        the child's reads and writes on the terminal fail.
        """
        self._hung_up.set()
        self._reader.join(timeout=2)
        os.close(self.master)
        self.master = -1

    def lflag(self) -> int:
        """The terminal's local modes now (what `stty -a` reports as isig/icanon/echo)."""
        return termios.tcgetattr(self.slave)[3]

    def close(self) -> None:
        """Kill whatever is left, close both ends."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._hung_up.set()
        self._reader.join(timeout=2)
        for fd in (self.slave, self.master):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)


def iofdtui(*args: str) -> list[str]:
    """The argv of `iofdtui ARGS...` with this interpreter."""
    return [sys.executable, "-m", "iofdtui", *args]


def last_is(output: bytes, on: bytes, off: bytes) -> bool:
    """Whether `off` comes after the last `on` (e.g. the alternate screen was left)."""
    return output.rfind(off) > output.rfind(on)
