"""One command of the app: its keys, and what the footer, the palette and the help say."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Scope = Literal["main", "app", "replay", "tour"]
"""Where an action lives: the main screen (the lab's view), the app (anywhere), the
replay screen (the timeline's keys, only when replaying a recording), or the guided
tour's panel (while it is open and has focus)."""


@dataclass(frozen=True, slots=True)
class Command:
    """One action, with everything the footer, the palette and the help say about it.

    Attributes:
        action: the action's name (`action_<name>` on the screen or the app).
        key: its key; None for a palette-only command.
        label: the footer's short label.
        title: the palette's title.
        help: one line: the footer's tooltip and the palette's help.
        brief: a few words for the help screen's list of keys ("" when the
            command before it, on the same key, says it for both).
        footer: shown in the footer (at 80 columns the shown ones must fit).
        aliases: more keys for it, never shown.
        scope: "main" (the main screen's), "app" (anywhere) or "tour" (the tour's panel).
        priority: the key is the app's before any widget's (keys typed right after
            it wait for what it opens, instead of reaching the focused table).
        needs_lab: offered only while a lab is up to take engine calls.
        needs_kvm: runs VMs of its own (so, like `needs_lab`, not in a replay).
    """

    action: str
    key: str | None
    label: str
    title: str
    help: str
    brief: str
    footer: bool = True
    aliases: tuple[str, ...] = ()
    scope: Scope = "main"
    priority: bool = False
    needs_lab: bool = False
    needs_kvm: bool = False

    @property
    def live_only(self) -> bool:
        """Needs a live lab or /dev/kvm: a replay says it is a recording instead."""
        return self.needs_lab or self.needs_kvm
