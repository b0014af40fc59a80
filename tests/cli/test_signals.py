"""SIGTERM, SIGHUP, SIGINT and `timeout` end iofdtui like `q`: the shell gets its terminal back.

Each run is on a pseudo-terminal of its own, the way a person's shell runs it;
after the signal the pty's modes are read back (`stty -a`'s isig/icanon/echo).
"""

from __future__ import annotations

import signal

import pytest

from tests.cli.ptyrun import (
    COOKED,
    ENTER_ALT,
    HIDE_CURSOR,
    LEAVE_ALT,
    SHOW_CURSOR,
    PtyRun,
    iofdtui,
    last_is,
)


def _drawn(out: bytes) -> bool:
    # The main screen is up: its panels are titled.
    return ENTER_ALT in out and b"Registrations" in out and b"Doorbells" in out


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_ends_the_app_like_q(sig: signal.Signals) -> None:
    run = PtyRun(iofdtui())
    try:
        assert run.wait_for(_drawn, timeout=30), bytes(run.output[-2000:])
        assert run.lflag() & COOKED != COOKED, "the app runs the tty raw"
        run.wait_for(lambda out: b"VM up" in out or b"could not start" in out, timeout=20)
        run.kill(sig)
        code = run.wait(timeout=30)
        out = bytes(run.output)
        assert code == 128 + sig, (code, out[-2000:])
        assert run.lflag() & COOKED == COOKED, "isig, icanon and echo are back"
        assert last_is(out, ENTER_ALT, LEAVE_ALT), "the alternate screen was left"
        assert last_is(out, HIDE_CURSOR, SHOW_CURSOR), "the cursor is shown"
        assert b"Traceback" not in out
    finally:
        run.close()


def test_timeout_ends_the_app_like_q() -> None:
    run = PtyRun(["timeout", "6", *iofdtui()])
    try:
        assert run.wait_for(_drawn, timeout=30)
        code = run.wait(timeout=40)
        out = bytes(run.output)
        assert code == 124, (code, out[-2000:])  # timeout's own status: it sent SIGTERM
        assert run.lflag() & COOKED == COOKED
        assert last_is(out, ENTER_ALT, LEAVE_ALT)
        assert b"Traceback" not in out
    finally:
        run.close()


def test_a_hangup_ends_the_app() -> None:
    """The terminal goes away (its window closed): the app gets SIGHUP and gets out."""
    run = PtyRun(iofdtui())
    try:
        assert run.wait_for(_drawn, timeout=30)
        run.hang_up()
        code = run.wait(timeout=30)
        assert code == 128 + signal.SIGHUP, code
    finally:
        run.close()


@pytest.mark.kvm
def test_sigterm_during_bench_shows_the_cursor_and_says_so() -> None:
    run = PtyRun(iofdtui("bench", "--scale", "--seconds", "1"), stdout_pipe=True)
    try:
        assert run.wait_for(lambda out: b"measuring" in out, timeout=30), bytes(run.output)
        assert HIDE_CURSOR in run.output, "rich's status line hides the cursor"
        run.kill(signal.SIGTERM)
        code = run.wait(timeout=30)
        out = bytes(run.output)
        assert code == 128 + signal.SIGTERM, (code, out[-2000:])
        assert last_is(out, HIDE_CURSOR, SHOW_CURSOR), "the cursor is shown again"
        assert b"Traceback" not in out
        assert out.count(b"iofdtui: stopped by SIGTERM") == 1
        assert run.proc.stdout is not None and run.proc.stdout.read() == b""
    finally:
        run.close()
