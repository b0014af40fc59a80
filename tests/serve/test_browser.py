"""`iofdtui serve` in a real browser (headless Chromium): the page loads and its
numbers change. Without a lab, with the stand-in ticker: the plumbing."""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

from iofdtui.serve.presenter import Sharing
from tests.serve.browser import browser_page

TICKER = Path(__file__).with_name("ticker_app.py")


def ticks(text: str) -> int:
    found = re.search(r"ticks (\d+)", text)
    return int(found.group(1)) if found else -1


def test_a_browser_sees_the_served_app_count(tmp_path: Path) -> None:
    command = shlex.join([sys.executable, str(TICKER)])
    recording = tmp_path / "begun.jsonl"  # visitors' apps wait for the recording to begin
    recording.write_text("{}\n")
    with Sharing("127.0.0.1", 0, record=recording, command=command) as sharing:
        assert sharing.address is not None
        with browser_page(sharing.address.url) as page:
            first = ticks(page.wait_for_text(lambda text: ticks(text) >= 0))
            drawn = page.drawing()
            later = ticks(page.wait_for_text(lambda text: ticks(text) >= first + 3))
            assert later >= first + 3
            # What the page drew changed too, not only what it was sent.
            page.wait_for_drawing_other_than(drawn)
