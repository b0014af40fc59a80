"""Every key of the app, said once: the footer, the command palette and the help build on it.

A `Command` (`ui/keys/`, where the tables of commands live) is one action: its
key(s), the footer's label, the palette's title and the help line.
`bindings(scope)` gives the Textual bindings of the main screen or of the app;
`palette()` what the palette offers; `keys_markdown()` the help screen's list of
keys.
"""

from __future__ import annotations

from textual.binding import Binding, BindingType

from iofdtui.ui.keys.attach import ATTACH_COMMANDS
from iofdtui.ui.keys.command import Command, Scope
from iofdtui.ui.keys.lab import LAB_COMMANDS
from iofdtui.ui.keys.replay import REPLAY_COMMANDS

COMMANDS: tuple[Command, ...] = LAB_COMMANDS + REPLAY_COMMANDS
"""Every command, in footer and help order."""

PALETTE_ORDER: tuple[str, ...] = (
    "add",
    "remove",
    "edit_plan",
    "pause",
    "resume",
    "reset",
    "cycle_reader",
    "toggle_pinning",
    "toggle_pace",
    "toggle_vcpus",
    "cycle_interval",
    "cycle_drain",
    "filter",
    "sort",
    "scale_plot",
    "roundtrip",
    "device_work",
    "tour",
    "tour_next",
    "tour_back",
    "tour_close",
    "screenshot",
    "toggle_recording",
    "help",
    "quit",
    "play_pause",
    "slower",
    "faster",
    "seek_back",
    "seek_forward",
    "seek_start",
    "seek_end",
    "next_event",
    "previous_event",
)
"""The palette's order, by action: the pre-restructuring app's (pinning beside the
reader, the refresh interval after the vCPUs), where the help groups the keys."""

if sorted(PALETTE_ORDER) != sorted(c.action for c in COMMANDS):
    raise TypeError("PALETTE_ORDER must name every action of COMMANDS once: update it")


def attach_commands(replay: bool = False) -> tuple[Command, ...]:
    """The attached VM's app's commands; replaying one's recording, the timeline's
    first and none that act on the live trace."""
    if replay:
        return REPLAY_COMMANDS + tuple(c for c in ATTACH_COMMANDS if not c.live_only)
    return ATTACH_COMMANDS


ATTACH_REPLAY_FOOTER = frozenset({"help", "quit"})
"""Replaying an attached VM's recording, the view's commands the footer keeps beside
the timeline's (at 80 columns those fill it); the others are in the palette and help."""


def attach_bindings(replay: bool = False) -> list[BindingType]:
    """The Textual bindings of the attached VM's app (`ui/keys/attach.py`); replaying,
    the live trace's keys stay bound (they say it is a recording) out of the footer."""
    out: list[BindingType] = []
    for c in REPLAY_COMMANDS + ATTACH_COMMANDS if replay else ATTACH_COMMANDS:
        if c.key:
            in_view = c.scope == "replay" or c.action in ATTACH_REPLAY_FOOTER
            show = c.footer and not (replay and (c.live_only or not in_view))
            out.append(
                Binding(
                    c.key, c.action, c.label, show=show, priority=c.priority, tooltip=f"{c.help}."
                )
            )
            out.extend(
                Binding(alias, c.action, c.label, show=False, priority=c.priority)
                for alias in c.aliases
            )
    return out


def attach_keys_markdown(replay: bool = False) -> str:
    """The attached app's help: its keys, as the lab's help lists them."""
    commands = attach_commands(replay)
    keys = " · ".join(f"{_keys_text(c)} {c.brief}" for c in commands if c.key)
    return f"{keys} · Ctrl+P command palette\n"


NEEDS_LAB = frozenset(c.action for c in COMMANDS if c.needs_lab)
"""The actions offered only while a lab is up (the main screen's and the app's)."""


def bindings(scope: Scope, replay: bool = False) -> list[BindingType]:
    """The Textual bindings of the main screen, the app or the replay screen.

    With `replay`, the live-only commands stay bound (they say that this is a
    recording) but leave the footer to the timeline's keys.
    """
    out: list[BindingType] = []
    for command in COMMANDS:
        if command.scope != scope or command.key is None:
            continue
        out.append(
            Binding(
                command.key,
                command.action,
                command.label,
                show=command.footer and not (replay and command.live_only),
                priority=command.priority,
                tooltip=f"{command.help}.",
            )
        )
        out.extend(
            Binding(alias, command.action, command.label, show=False, priority=command.priority)
            for alias in command.aliases
        )
    return out


def offered(command: Command, replay: bool) -> bool:
    """Whether the palette and the help offer `command`: a replay has the timeline's
    commands and not the live lab's; the live app the reverse."""
    if replay:
        return not command.live_only
    return command.scope != "replay"


def palette(replay: bool = False) -> list[tuple[Command, str]]:
    """(command, help line) for the command palette: the help with the key to press."""
    by_action = {c.action: c for c in COMMANDS}
    ordered = [by_action[action] for action in PALETTE_ORDER if offered(by_action[action], replay)]
    if replay:  # the timeline's commands first, as in the footer
        ordered.sort(key=lambda c: c.scope != "replay")
    return [(c, f"{c.help} ({_key_plain(c.key)})" if c.key else c.help) for c in ordered]


_KEY_NAMES = {
    "delete": "Delete",
    "question_mark": "`?`",
    "ctrl+s": "Ctrl+S",
    "space": "Space",
    "less_than_sign": "`<`",
    "greater_than_sign": "`>`",
    "comma": "`,`",
    "full_stop": "`.`",
    "left": "←",
    "right": "→",
    "home": "Home",
    "end": "End",
    "enter": "Enter",
    "escape": "Escape",
}


def _keys_text(command: Command) -> str:
    """`d`/Delete: a letter in backticks, a named key as it reads."""
    keys = [command.key or "", *command.aliases]
    return "/".join(_KEY_NAMES.get(key, f"`{key}`") for key in keys)


def _key_plain(key: str) -> str:
    """A key as the palette says it: `<`, not less_than_sign."""
    return _KEY_NAMES.get(key, key).strip("`")


def keys_markdown(replay: bool = False) -> str:
    """The help screen's list of keys (a paragraph) and what the footer shows at 80 columns."""
    commands = [c for c in COMMANDS if offered(c, replay)]
    if replay:  # the footer's order: the timeline's keys first
        commands.sort(key=lambda c: c.scope != "replay")
    keyed = [c for c in commands if c.key and c.brief]
    palette_only = ", ".join(c.brief for c in commands if not c.key)
    keys = " · ".join(f"{_keys_text(c)} {c.brief}" for c in keyed)
    also = f" (also: {palette_only})" if palette_only else ""
    # dict.fromkeys: each key once (p is Pause and Resume), in order.
    # The footer's keys (the tour's show only in its panel, which says them itself).
    footer = [c for c in commands if c.key and c.scope != "tour"]
    shown = " ".join(dict.fromkeys(_key_plain(c.key) for c in footer if c.footer))
    hidden = " ".join(dict.fromkeys(_key_plain(c.key) for c in footer if not c.footer))
    text = (
        f"{keys} · Ctrl+P command palette{also}\n\n"
        f"At 80 columns the footer shows `{shown}`; `{hidden}` are in the palette "
        "and here. Under 80 columns the footer gives way to one line:\n"
        "`q` quit · `h` help · `ctrl+p` every command.\n"
    )
    if replay:
        live = " ".join(dict.fromkeys(c.key for c in COMMANDS if c.live_only and c.key))
        text += (
            f"\nThe live lab's keys (`{live}`) say in one line that this is a recording; "
            "run `iofdtui` on a KVM host for a live lab.\n"
        )
    return text
