"""A Textual app whose one line counts up: the web server's plumbing served
without a lab (`python tests/serve/ticker_app.py`)."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Static


class Ticker(App[None]):
    """`ticks N`, N one higher every 0.2 s."""

    def compose(self) -> ComposeResult:
        yield Static("ticks 0", id="ticks")

    def on_mount(self) -> None:
        self._ticks = 0
        self.set_interval(0.2, self._tick)

    def _tick(self) -> None:
        self._ticks += 1
        self.query_one("#ticks", Static).update(f"ticks {self._ticks}")


if __name__ == "__main__":
    Ticker().run()
