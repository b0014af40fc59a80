"""A real browser on a served page: Debian's headless Chromium driven by Playwright.

No browser is downloaded: Playwright launches `/usr/bin/chromium` (`apt-get
install chromium`; .ci/run does). The flags keep Chromium from reaching out on
a closed network (background updates, sync, QUIC) and run it as root.

The page's terminal draws on a canvas, so its text is not in the DOM;
`TerminalPage` reads it from the page's own xterm.js terminal (its buffer,
what it draws from) and takes screenshots of what it drew.  It used to feed
every byte the websocket carried to a terminal emulator in Python (pyte), in
Playwright's event handler: a served app sends ~50 kB/s, which took pyte more
than half a CPU, so on a loaded machine the test fell ever further behind the
page and hung until its timeout.  Reading the browser's own terminal costs
the test nothing however much the app draws.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Page, sync_playwright

from tests.conftest import REQUIRE_KVM

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def need_chromium() -> None:
    """Skip without Debian's chromium; fail instead under IOFDTUI_REQUIRE_KVM=1 (CI)."""
    if os.access(CHROMIUM, os.X_OK):
        return
    problem = f"{CHROMIUM} is missing: apt-get install chromium"
    if REQUIRE_KVM:
        pytest.fail(f"IOFDTUI_REQUIRE_KVM=1 but {problem}")
    pytest.skip(problem)


# textual-serve's page keeps its xterm.js Terminal in `this.terminal` of an object
# nothing else can reach: note it as it is assigned, before the page's own script runs.
KEEP_TERMINAL = """
Object.defineProperty(Object.prototype, "terminal", {
    configurable: true,
    set(value) {
        Object.defineProperty(this, "terminal", {value, writable: true, configurable: true});
        window.iofdtuiTerminal = value;
    },
});
"""

# The rows in view, through xterm.js's public buffer API ("" before the terminal exists).
SCREEN_TEXT = """() => {
    const terminal = window.iofdtuiTerminal;
    if (!terminal) return "";
    const buffer = terminal.buffer.active, rows = [];
    for (let y = 0; y < terminal.rows; y++) {
        const line = buffer.getLine(buffer.viewportY + y);
        rows.push(line ? line.translateToString(true) : "");
    }
    return rows.join("\\n");
}"""

POLL_MS = 50
"""How often `wait_for_text` reads the terminal again."""


class TerminalPage:
    """A served page, and the text of its terminal."""

    def __init__(self, page: Page) -> None:
        self.page = page
        page.add_init_script(KEEP_TERMINAL)

    def text(self) -> str:
        """The terminal's text now, as the page's xterm.js holds it."""
        return str(self.page.evaluate(SCREEN_TEXT))

    def wait_for_text(self, predicate: Callable[[str], object], timeout: float = 60.0) -> str:
        """The terminal's text once `predicate` holds for it; fail after `timeout`."""
        deadline = time.monotonic() + timeout
        while not predicate(text := self.text()):
            assert time.monotonic() < deadline, f"the page never showed it; it shows:\n{text}"
            self.page.wait_for_timeout(POLL_MS)
        return text

    def drawing(self) -> bytes:
        """A screenshot of what the page's terminal drew."""
        return self.page.locator(".xterm-screen").screenshot()

    def wait_for_drawing_other_than(self, drawn: bytes, timeout: float = 30.0) -> bytes:
        """What the terminal draws once it differs from `drawn`: xterm.js paints its
        buffer at the next animation frame, so new text may not be drawn yet."""
        deadline = time.monotonic() + timeout
        while (now := self.drawing()) == drawn:
            assert time.monotonic() < deadline, "the page's drawing never changed"
            self.page.wait_for_timeout(POLL_MS)
        return now


@contextmanager
def browser_page(url: str, width: int = 1280, height: int = 760) -> Iterator[TerminalPage]:
    """`url` open in headless Chromium (a fresh profile), its terminal drawn at least once."""
    need_chromium()
    profile = tempfile.mkdtemp(prefix="iofdtui-chromium-")
    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile,
                executable_path=CHROMIUM,
                args=CHROMIUM_ARGS,
                headless=True,
                viewport={"width": width, "height": height},
            )
            try:
                page = TerminalPage(context.new_page())
                page.page.goto(url)
                # textual.js marks the body once the app's first bytes arrive.
                page.page.wait_for_selector("body.-first-byte", timeout=60_000)
                yield page
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
