"""A real browser on a served page: Debian's headless Chromium driven by Playwright.

No browser is downloaded: Playwright launches `/usr/bin/chromium` (`apt-get
install chromium`; .ci/run does). The flags keep Chromium from reaching out on
a closed network (background updates, sync, QUIC) and run it as root.

The page's terminal draws on a canvas, so its text is not in the DOM;
`TerminalPage` reads it back from what the page's own websocket received
(the bytes its xterm.js draws), through a terminal emulator (pyte) the size
the page asked for, and takes screenshots of what it drew.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import parse_qs, urlparse

import pyte
import pytest
from playwright.sync_api import Page, WebSocket, sync_playwright

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


class TerminalPage:
    """A served page and the terminal text its websocket carried."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.screen: pyte.Screen | None = None
        self._stream: pyte.ByteStream | None = None
        page.on("websocket", self._opened)

    def _opened(self, ws: WebSocket) -> None:
        query = parse_qs(urlparse(ws.url).query)
        self.screen = pyte.Screen(int(query["width"][0]), int(query["height"][0]))
        self._stream = pyte.ByteStream(self.screen)
        ws.on("framereceived", self._received)

    def _received(self, payload: bytes | str) -> None:
        if isinstance(payload, bytes) and self._stream is not None:
            self._stream.feed(payload)

    def text(self) -> str:
        """The terminal's text now (Playwright delivers frames while it waits)."""
        self.page.wait_for_timeout(50)
        return "\n".join(self.screen.display) if self.screen is not None else ""

    def wait_for_text(self, predicate: Callable[[str], object], timeout: float = 60.0) -> str:
        """The terminal's text once `predicate` holds for it; fail after `timeout`."""
        deadline = time.monotonic() + timeout
        while not predicate(text := self.text()):
            assert time.monotonic() < deadline, f"the page never showed it; it shows:\n{text}"
        return text


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
