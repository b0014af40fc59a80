"""`iofdtui replay`: the app on a recording, and everything checked before it opens.

`open_recording` reads the file (or, following, its header) before any TUI
exists, so a missing, corrupt, truncated or newer-schema file is one line
(`RecordingError`) and exit status 2.  `ReplayApp` is the app with a
`ReplayLab` for its lab and the replay screen for its view.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import ClassVar

from iofdtui.engine.model import RegistrationSpec
from iofdtui.recording.reader import RecordingError, follow, read_recording
from iofdtui.ui.app import IofdApp
from iofdtui.ui.lab_port import LabPort
from iofdtui.ui.replay.replay_lab import ReplayLab, follow_into
from iofdtui.ui.replay.screen import ReplayScreen
from iofdtui.ui.scale_sweep import KvmSweep
from iofdtui.ui.session import REFRESH_INTERVALS, LabSession

DEMO_PACKAGE = "iofdtui.recording"
DEMO_NAMES = ("demo.jsonl.gz", "demo.jsonl")
"""The recording shipped with the package (`iofdtui replay --demo`), by the names it may have."""

HEADER_WAIT_S = 5.0
"""How long `--follow` waits for a recording's first line before saying so."""


@dataclass
class Opened:
    """A recording ready to show.

    Attributes:
        lab: its frames (all of them, or those written so far when following).
        source: the name the banner shows.
        items: following: the rest of the file, as `follow()` yields it.
    """

    lab: ReplayLab
    source: str
    items: Iterator[object] | None = None


DEMO_SHOWN = "the demo shipped with iofdtui"
"""What the banner calls the shipped recording."""


def demo_path() -> Path:
    """The shipped demo recording, wherever the package is installed.

    Raises:
        RecordingError: it is not installed (a broken install): one line.
    """
    package = resources.files(DEMO_PACKAGE)
    for name in DEMO_NAMES:
        found = package.joinpath(name)
        if found.is_file():
            return Path(str(found))
    raise RecordingError(
        f"the demo recording ({DEMO_NAMES[0]}) is not installed with iofdtui in "
        f"{package}; reinstall iofdtui (pip install -e .)"
    )


def _one_line(path: str, err: RecordingError) -> RecordingError:
    """`err` naming the file first, once."""
    text = str(err)
    return err if text.startswith(path) else RecordingError(f"{path}: {text}")


def open_recording(
    path: str | os.PathLike[str],
    *,
    follow_it: bool = False,
    clock: Callable[[], float] = time.monotonic,
    name: str | None = None,
) -> Opened:
    """Read `path` (or its header, to follow it) before any TUI opens.

    Args:
        path: the recording.
        follow_it: it is still being written: read the header now, the rest as it comes.
        clock: the wall clock playback runs on (fixed in tests).
        name: what the banner calls it (the path when None).

    Raises:
        RecordingError: the file is missing, not a recording, corrupt, newer
            than this iofdtui, or has no frame; one line that names it.
    """
    shown = name
    name = os.fspath(path)
    if follow_it:
        return _open_following(name, clock)
    try:
        recording = read_recording(name)
    except RecordingError as err:
        raise _one_line(name, err) from None
    if not recording.frames:
        raise RecordingError(f"{name}: the recording has a header but no frame: nothing to replay")
    lab = ReplayLab(recording.header, recording.frames, clock=clock)
    for note in recording.notes:
        lab.note(note)
    return Opened(lab, shown or name)


def _open_following(name: str, clock: Callable[[], float]) -> Opened:
    if not Path(name).exists():
        raise RecordingError(f"{name}: no such file; start the recording first, then follow it")
    closed = threading.Event()  # the lab's close() sets it: the follow thread ends at once
    items = follow(name, stop=closed)
    first: list[object] = []
    failed: list[RecordingError] = []

    def read_header() -> None:
        try:
            first.append(next(items))
        except RecordingError as err:
            failed.append(err)
        except StopIteration:
            pass

    # The header's line may not be complete yet: wait a little, not forever.
    reader = threading.Thread(target=read_header, name="replay header", daemon=True)
    reader.start()
    reader.join(HEADER_WAIT_S)
    from iofdtui.recording.frames import Header

    if not first or not isinstance(first[0], Header):
        closed.set()  # the header thread, still waiting for a line, ends at once
        reader.join(HEADER_WAIT_S)
        if failed:
            raise _one_line(name, failed[0])
        if not first:
            raise RecordingError(
                f"{name}: no header line after {HEADER_WAIT_S:g} s: "
                "is another iofdtui recording it?"
            )
        raise RecordingError(f"{name}: line 1: not a recording header")
    header = first[0]
    if header.attach is not None:
        closed.set()
        raise RecordingError(
            f"{name}: an attached VM's recording: --follow plays a lab's only; "
            "replay it without --follow"
        )
    return Opened(ReplayLab(header, follow=True, clock=clock, closed=closed), name, items)


def _registrations(lab: LabPort) -> dict[int, RegistrationSpec]:
    """A replay's setup: nothing is changed, the recorded registrations are shown."""
    return lab.registrations()


class ReplayApp(IofdApp):
    """The iofdtui app on a recording: the same view, read-only, with a timeline."""

    REPLAY: ClassVar[bool] = True
    TITLE = "iofdtui replay"
    # The live app's stylesheet (relative paths resolve from this module), then ours.
    CSS_PATH: ClassVar[list[str | Path]] = [
        Path(__file__).parent.parent / "app.tcss",
        "replay.tcss",
    ]

    def __init__(
        self,
        opened: Opened,
        *,
        refresh_interval: float = REFRESH_INTERVALS[0],
        clock: Callable[[], datetime] = datetime.now,
        screenshot_dir: Path | str = "screenshots",
    ) -> None:
        """The app on `opened`'s recording.

        Args:
            opened: what `open_recording` returned.
            refresh_interval: seconds between readings of the playback position.
            clock: time of day for lines that are not the recording's.
            screenshot_dir: where `S` saves SVG screenshots.
        """
        super().__init__(clock=clock, screenshot_dir=screenshot_dir)
        self.opened = opened
        """The recording and where it came from."""
        self.session = LabSession(
            self._open_lab, refresh_interval=refresh_interval, setup=_registrations
        )
        self._main = ReplayScreen(
            self.session,
            opened.lab,
            opened.source,
            follow=opened.items is not None,
            clock=clock,
            scale_sweep=KvmSweep(),  # never run: `x` is refused in a replay
        )

    @property
    def replay(self) -> ReplayLab:
        """The recording shown."""
        return self.opened.lab

    def _open_lab(self, vcpus: int) -> LabPort:
        """The session's lab factory (in its start worker): the recording; following,
        once its first frame has come."""
        lab = self.opened.lab
        items = self.opened.items
        if items is not None and not lab.frames:
            # It ends as soon as the lab closes (follow() waits on the lab's
            # closed event); a daemon all the same, so nothing can keep the
            # process alive past quitting.
            threading.Thread(
                target=follow_into, args=(lab, items), name="replay follow", daemon=True
            ).start()
            lab.wait_for_frame(timeout=None)  # close() wakes it too
        return lab

    def action_toggle_pinning(self) -> None:
        """Refused: a recording."""
        self._main.refuse("pinning the threads")

    def action_toggle_recording(self) -> None:
        """Refused: a replay records nothing (the recording is the file it plays)."""
        self._main.refuse("recording")

    async def action_tour(self) -> None:
        """Refused: the tour acts on a live lab (a recorded tour replays as its events)."""
        self._main.refuse("the guided tour")

    def on_unmount(self) -> None:
        """Stop following (and wake a start still waiting for a first frame), then close."""
        self.replay.close()
        super().on_unmount()


def run_replay(opened: Opened, run: Callable[[IofdApp], int]) -> int:
    """Run the replay with `run` (the CLI's: signals end it as `q` does)."""
    return run(ReplayApp(opened))
