"""Every key of the app, said once: the footer, the command palette and the help build on it.

A `Command` is one action: its key(s), the footer's label, the palette's title
and the help line. `bindings(scope)` gives the Textual bindings of the main
screen or of the app; `palette()` what the palette offers; `keys_markdown()` the
help screen's list of keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from textual.binding import Binding, BindingType

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


# Keys follow kvm_stat where it has one (q, r, f, o, s, h/?). The order is the
# footer's (main screen's keys, then the app's) and the help's.
COMMANDS: tuple[Command, ...] = (
    Command(
        "add",
        "a",
        "Add",
        "Add registration",
        "Register an ioeventfd on a doorbell",
        "add",
        priority=True,
        needs_lab=True,
    ),
    Command(
        "remove",
        "d",
        "Del",
        "Remove selected registration",
        "Deassign the eventfd under the cursor",
        "remove",
        aliases=("delete",),
        needs_lab=True,
    ),
    Command(
        "edit_plan",
        "e",
        "Plan",
        "Edit ring plan",
        "Choose the doorbells the guest rings and their values",
        "ring plan",
        needs_lab=True,
    ),
    Command(
        "pause",
        "p",
        "Pause",
        "Pause guest",
        "Park the guest at a quiescent point; counts become exact",
        "pause/resume",
        needs_lab=True,
    ),
    Command(
        "resume",
        "p",
        "Resume",
        "Resume guest",
        "Let the paused guest ring again",
        "",
        needs_lab=True,
    ),
    Command(
        "reset",
        "r",
        "Reset",
        "Reset counters",
        "Zero every count and histogram",
        "reset",
        needs_lab=True,
    ),
    Command(
        "cycle_reader",
        "c",
        "Reader",
        "Cycle eventfd reader",
        "none → poll → epoll: nobody waiting, a busy-polling thread, a sleeping one",
        "eventfd reader (none → poll → epoll)",
        needs_lab=True,
    ),
    Command(
        "cycle_interval",
        "s",
        "Rate",
        "Cycle refresh interval",
        "Change how often the tables refresh",
        "refresh interval",
        footer=False,  # made room for x (Scale) in an 80-column footer
    ),
    Command(
        "toggle_pace",
        "w",
        "Wake",
        "Pace the plan / ring flat out",
        "One ring every 100 µs, so each wake-up of the eventfd reader is timed",
        "pace (wake-up latency, kick)",
        footer=False,  # the footer is full at 80 columns; palette and help list it
        needs_lab=True,
    ),
    Command(
        "toggle_vcpus",
        "v",
        "vCPUs",
        "Switch one/two vCPUs",
        "Restart the VM with two vCPUs ringing the same plan, or back to one",
        "one/two vCPUs",
        footer=False,
        needs_lab=True,
    ),
    Command(
        "toggle_pinning",
        None,
        "Pin",
        "Pin vCPU and reader to separate CPUs",
        "vCPU thread(s) on one CPU, the reader and the UI on another; again to unpin",
        "pin vCPU and reader",
        scope="app",
        needs_lab=True,
    ),
    Command(
        "filter",
        "f",
        "Filter",
        "Filter by address",
        "Show only registrations whose address matches",
        "filter",
    ),
    Command(
        "sort",
        "o",
        "Sort",
        "Cycle sort order",
        "Sort by id, address, signals, rate, p50, ratio",
        "sort (or click a column header)",
        footer=False,  # made room for c (Reader)
    ),
    Command(
        "scale_plot",
        "x",
        "Scale",
        "Scale plot",
        "Measure ring cost vs decoy registrations and trigger values, and plot it",
        "scale plot",
        needs_kvm=True,
    ),
    Command(
        "roundtrip",
        "i",
        "Loop",
        "Round trip: kick → interrupt",
        "Time kick → completion interrupt per stage: ioeventfd+irqfd vs exit+MSI vs self-IPI",
        "round trip (irqfd)",
        footer=False,  # the 80-column footer is full
        needs_kvm=True,
    ),
    Command(
        "screenshot",
        "S",
        "SVG",
        "Save SVG screenshot",
        "Write the screen to screenshots/",
        "screenshot",
        footer=False,
        aliases=("ctrl+s",),
        scope="app",
    ),
    Command(
        "toggle_recording",
        "R",
        "Rec",
        "Record / stop recording",
        "Record every reading and event to iofdtui-<time>.jsonl.gz here, or stop",
        "record (or `iofdtui --record FILE`)",
        footer=False,
        scope="app",
        needs_lab=True,
    ),
    Command(
        "help",
        "h",
        "Help",
        "Help",
        "What ioeventfd is and how to read every column",
        "help",
        aliases=("question_mark",),
        scope="app",
    ),
    Command("quit", "q", "Quit", "Quit", "Stop the VM, close every fd, leave", "quit", scope="app"),
    Command(
        "tour",
        "T",
        "Tour",
        "Guided tour",
        "Walk through ioeventfd on the live VM, each step checked on the counts",
        "guided tour",
        footer=False,
        scope="app",
        needs_lab=True,
    ),
    Command(
        "tour_next",
        "enter",
        "Next",
        "Tour: next",
        "Run the tour's step, or go on to the next one",
        "tour: run the step / next",
        footer=False,  # the panel says its keys itself; the 80-column footer is full
        aliases=("space", "n"),
        scope="tour",
        needs_lab=True,  # a replay has no lab to tour
    ),
    Command(
        "tour_back",
        "b",
        "Back",
        "Tour: back",
        "Show the tour's previous step and its verdict",
        "tour: back",
        footer=False,
        scope="tour",
        needs_lab=True,  # a replay has no lab to tour
    ),
    Command(
        "tour_close",
        "escape",
        "Close tour",
        "Tour: close",
        "Close the guided tour (what it changed stays)",
        "tour: close",
        footer=False,
        scope="tour",
        needs_lab=True,  # a replay has no lab to tour
    ),
    # The timeline's keys, bound only on the replay screen (`iofdtui replay`).
    Command(
        "play_pause",
        "space",
        "Play",
        "Play / pause the recording",
        "Play the recording from here, or hold it",
        "play/pause",
        scope="replay",
    ),
    Command(
        "slower",
        "less_than_sign",
        "Slower",
        "Play slower",
        "Halve the playback speed (down to 0.25×)",
        "slower",
        aliases=("comma",),
        scope="replay",
    ),
    Command(
        "faster",
        "greater_than_sign",
        "Faster",
        "Play faster",
        "Double the playback speed (up to 8×)",
        "faster",
        aliases=("full_stop",),
        scope="replay",
    ),
    Command(
        "seek_back",
        "left",
        "-5s",
        "Seek back 5 s",
        "Go back five seconds of the recording",
        "back 5 s",
        scope="replay",
        priority=True,  # the tables' sideways keys have nothing to scroll in a replay
    ),
    Command(
        "seek_forward",
        "right",
        "+5s",
        "Seek forward 5 s",
        "Go forward five seconds of the recording",
        "forward 5 s",
        scope="replay",
        priority=True,
    ),
    Command(
        "seek_start",
        "home",
        "Start",
        "Go to the start",
        "The recording's first frame",
        "first frame",
        footer=False,
        scope="replay",
        priority=True,
    ),
    Command(
        "seek_end",
        "end",
        "End",
        "Go to the end (live)",
        "The newest frame; when following a recording, stay on it (live)",
        "newest frame (live)",
        footer=False,
        scope="replay",
        priority=True,
    ),
    Command(
        "next_event",
        "n",
        "Event",
        "Next event",
        "Jump to the next frame with an event (a registration, a pause, a reset…)",
        "next event",
        scope="replay",
    ),
    Command(
        "previous_event",
        "N",
        "Prev",
        "Previous event",
        "Jump back to the previous frame with an event",
        "previous event",
        footer=False,
        scope="replay",
    ),
)
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
    "filter",
    "sort",
    "scale_plot",
    "roundtrip",
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


ATTACH_COMMANDS: tuple[Command, ...] = (
    Command(
        "reset",
        "r",
        "Reset",
        "Reset counts",
        "Zero the attached VM's counts; tracing goes on",
        "reset",
        scope="app",
    ),
    Command(
        "screenshot",
        "S",
        "Shot",
        "Save screenshot",
        "Save an SVG screenshot to screenshots/",
        "screenshot",
        footer=False,
        scope="app",
    ),
    Command(
        "quit",
        "q",
        "Quit",
        "Quit",
        "Stop tracing, remove the tracefs instance, leave",
        "quit",
        scope="app",
    ),
)
"""`iofdtui attach PID`'s commands (its app is read-only: the lab's keys are not there)."""


def attach_bindings() -> list[BindingType]:
    """The Textual bindings of the attached VM's app."""
    return [
        Binding(c.key, c.action, c.label, show=c.footer, tooltip=f"{c.help}.")
        for c in ATTACH_COMMANDS
        if c.key
    ]


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
