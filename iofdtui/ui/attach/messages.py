"""What the tracing worker tells the attached VM's app."""

from __future__ import annotations

from textual.message import Message

from iofdtui.engine.attach.snapshot import AttachSnapshot


class TraceRead(Message):
    """A reading of the attached VM's counts."""

    def __init__(self, snapshot: AttachSnapshot, resets: int | None = None) -> None:
        self.snapshot = snapshot
        """The counts at this reading."""
        self.resets = resets
        """The app's resets before the reading was taken (None: not from the worker)."""
        super().__init__()


class TraceEnded(Message):
    """Tracing stopped: the process ended, or reading failed (one line why)."""

    def __init__(self, why: str) -> None:
        self.why = why
        """One line: what happened and what the counts on screen are."""
        super().__init__()


class RecordingStopped(Message):
    """Recording stopped: a write failed (one line: the file, the cause and the fix)."""

    def __init__(self, why: str) -> None:
        self.why = why
        """One line: what failed and what to do."""
        super().__init__()
