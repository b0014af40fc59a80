"""The attached VM's command palette, from `ATTACH_COMMANDS` (ui/keys/attach.py); replaying
a recording of one, the timeline's commands and not the live trace's."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from iofdtui.ui.bindings import attach_commands


class AttachCommands(Provider):
    """Every command of the attached VM's app (all apply at any time)."""

    async def discover(self) -> Hits:
        """Everything, for the palette with no query."""
        for c in attach_commands(getattr(self.app, "REPLAY", False)):
            run = partial(self.app.run_action, c.action)
            yield DiscoveryHit(c.title, run, help=f"{c.help} ({c.key})")

    async def search(self, query: str) -> Hits:
        """Fuzzy-match the query against the commands."""
        matcher = self.matcher(query)
        for c in attach_commands(getattr(self.app, "REPLAY", False)):
            score = matcher.match(c.title)
            if score > 0:
                run = partial(self.app.run_action, c.action)
                yield Hit(score, matcher.highlight(c.title), run, help=f"{c.help} ({c.key})")
