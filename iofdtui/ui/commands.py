"""The command palette: every command of `ui/bindings.py`, offered only when it applies."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.dom import DOMNode

from iofdtui.ui.bindings import palette

if TYPE_CHECKING:
    from iofdtui.ui.app import IofdApp


class IofdCommands(Provider):
    """Commands for the lab; Pause or Resume depending on the guest's state."""

    def available(self) -> list[tuple[str, str, Callable[[], object]]]:
        """(title, help, run) of every command that applies now."""
        app = cast("IofdApp", self.app)
        out = []
        for command, help_text in palette(replay=app.REPLAY):
            # The main screen's commands run there, whatever screen is on top;
            # the tour's on its panel, while one is open.
            node: DOMNode | None = app if command.scope == "app" else app.main
            if command.scope == "tour" and (node := app.tour_panel) is None:
                continue
            # The same rule the footer uses, so palette and bindings agree.
            if node.check_action(command.action, ()) is True:
                out.append((command.title, help_text, partial(node.run_action, command.action)))
        return out

    async def discover(self) -> Hits:
        """Everything available, for the palette with no query."""
        for title, help_text, callback in self.available():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        """Fuzzy-match the query against the available commands."""
        matcher = self.matcher(query)
        for title, help_text, callback in self.available():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
