"""`iofdtui serve` whole, on /dev/kvm: the presenter's app on a pty, a visitor in
headless Chromium watching its live lab, and nothing left behind when it quits."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from tests.cli.ptyrun import PtyRun, iofdtui
from tests.serve.browser import browser_page, need_chromium

URL = re.compile(rb"serving this lab read-only at (http://127\.0\.0\.1:\d+/) \(localhost only")
RINGS = re.compile(r"([\d,]+) rings since reset")


def rings(text: str) -> int:
    """The header's rings since reset, or -1 before the first reading."""
    found = RINGS.search(text)
    return int(found.group(1).replace(",", "")) if found else -1


def replays_of(recording: Path) -> list[int]:
    """Live `iofdtui replay --follow RECORDING` processes: the visitors' apps."""
    argv_tail = b"replay\0--follow\0" + str(recording).encode() + b"\0"
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(f"/proc/{entry}/cmdline").read_bytes().endswith(argv_tail):
                    pids.append(int(entry))
            except OSError:
                continue
    return pids


@pytest.mark.kvm
def test_a_browser_watches_the_presenters_live_lab(tmp_path: Path) -> None:
    need_chromium()
    recording = tmp_path / "presented.jsonl"
    run = PtyRun(iofdtui("serve", "--port", "0", "--record", str(recording)), size=(45, 160))
    try:
        assert run.wait_for(lambda out: URL.search(out) is not None, timeout=60), bytes(
            run.output
        ).decode(errors="replace")
        found = URL.search(bytes(run.output))
        assert found is not None
        url = found.group(1).decode()
        with browser_page(url) as page:
            # The visitor's app follows the presenter's recording: the lab's header.
            first = rings(page.wait_for_text(lambda text: rings(text) > 0, timeout=90))
            drawn = page.drawing()
            text = page.wait_for_text(lambda text: rings(text) > first, timeout=60)
            assert "FOLLOWING" in text and "Doorbells" in text
            page.wait_for_drawing_other_than(drawn)  # and the page drew the change
            assert len(replays_of(recording)) == 1, "the visitor's replay runs"
            # A visitor's keys reach their own app only: S saves its screenshot in the
            # server's work directory, not in the presenter's.
            before = set(Path("screenshots").glob("*.svg"))
            page.page.locator(".xterm-helper-textarea").focus()
            page.page.keyboard.press("S")
            page.wait_for_text(lambda text: "Saved screenshots/iofdtui-" in text, timeout=30)
            assert set(Path("screenshots").glob("*.svg")) == before
        # The presenter quits as usual; the server and every visitor's app go with it.
        os.write(run.master, b"q")
        assert run.wait(timeout=60) == 0
        deadline = time.monotonic() + 15
        while replays_of(recording):
            assert time.monotonic() < deadline, "a visitor's replay outlived the presenter"
            time.sleep(0.1)
        assert recording.stat().st_size > 0, "--record keeps the session"
    finally:
        run.close()
