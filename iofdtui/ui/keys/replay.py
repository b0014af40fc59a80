"""The replay timeline's commands, bound only on the replay screen (`iofdtui replay`)."""

from __future__ import annotations

from iofdtui.ui.keys.command import Command

REPLAY_COMMANDS: tuple[Command, ...] = (
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
"""The timeline's commands, in footer and help order."""
