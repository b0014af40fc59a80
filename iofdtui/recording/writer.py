"""Write a recording as it is made: one JSON line per frame, flushed at once.

Each line is flushed when written (for gzip, a sync flush: the bytes so far
decompress), so `reader.follow` sees every frame as soon as it is written,
and a recording that stops mid-session (a crash, a kill, a full disk) is
readable up to its last whole line.  A write that fails raises one
`RecordWriteError` line and closes the file; what the caller holds in memory
(the app's session) is untouched.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import gzip
import json
import math
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from importlib import metadata
from types import TracebackType
from typing import IO, Any

from iofdtui.engine.attach.snapshot import AttachSnapshot
from iofdtui.engine.snapshot import MachineFacts, Snapshot
from iofdtui.recording.codec import encode, shape
from iofdtui.recording.frames import SCHEMA, Event, Frame, Header, Histogram, Histograms

_FIXES = {
    errno.ENOSPC: "free some space, or record to another disk",
    errno.EDQUOT: "free some space, or record to another disk",
    errno.EACCES: "check the directory's permissions, or record elsewhere",
    errno.EPERM: "check the directory's permissions, or record elsewhere",
    errno.ENOENT: "create the directory first, or record elsewhere",
    errno.EROFS: "the file system is read-only: record elsewhere",
    errno.EISDIR: "name a file, not a directory",
}


class RecordWriteError(Exception):
    """Recording cannot go on; `str()` is one line: the file, the cause and the fix."""


EMPTY_NAME = "cannot record to an empty file name; give the recording a name"


def iofdtui_version() -> str:
    """The installed iofdtui's version ("unknown" when run from a bare source tree)."""
    try:
        return metadata.version("iofdtui")
    except metadata.PackageNotFoundError:
        return "unknown"


def new_header(machine: MachineFacts, source: str, note: str | None = None) -> Header:
    """A header for a recording that starts now."""
    created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return Header(SCHEMA, iofdtui_version(), created, machine, source, note, shape(Frame))


def freeze(histogram: Iterable[Sequence[Any]]) -> Histogram:
    """A histogram as the lab returns it (a list of pairs) as the frames hold it."""
    return tuple((float(value), int(count)) for value, count in histogram)


def probe(path: str | os.PathLike[str]) -> None:
    """Check that `path` can be written, before a session worth recording starts.

    Leaves no file behind that was not there before.

    Raises:
        RecordWriteError: it cannot (one line: the cause and the fix).
    """
    name = os.fspath(path)
    if not name:
        raise RecordWriteError(EMPTY_NAME)
    existed = os.path.exists(name)
    try:
        with open(name, "ab"):
            pass
        if not existed:
            os.unlink(name)
    except OSError as err:
        cause = err.strerror or str(err)
        fix = _FIXES.get(err.errno or 0, "record elsewhere")
        raise RecordWriteError(f"cannot write {name}: {cause}; {fix}") from None


class Recorder:
    """Writes one recording: the header at once, then `frame()` per reading.

    A context manager: the file is closed on leaving the block.  Calls may
    come from any thread (one at a time: a lock orders them).
    """

    def __init__(self, path: str | os.PathLike[str], header: Header) -> None:
        """Create (or truncate) `path` and write `header`; gzip when it ends in `.gz`.

        Raises:
            RecordWriteError: the file cannot be created or written.
        """
        self.path = os.fspath(path)
        if not self.path:
            raise RecordWriteError(EMPTY_NAME)
        self.frames = 0
        """Frames written so far."""
        self._lock = threading.Lock()
        self._known = Histograms()  # what the file holds so far (the reader's carried state)
        self._file: IO[bytes] | None = None
        try:
            if self.path.endswith(".gz"):
                self._file = gzip.open(self.path, "wb", compresslevel=6)  # noqa: SIM115
            else:
                self._file = open(self.path, "wb")  # noqa: SIM115 (closed by close())
        except OSError as err:
            raise self._error(err) from None
        body = encode(header)
        if header.attach is None:
            del body["attach"]  # a lab's header as before: older iofdtuis read it
        self._write({"kind": "header", **body})

    def frame(
        self,
        at: float,
        snapshot: Snapshot,
        histograms: Histograms | None = None,
        events: Sequence[Event] = (),
    ) -> None:
        """Write one frame; only the histograms that changed since the last frame go in.

        Args:
            at: seconds since the recording began.
            snapshot: the reading.
            histograms: histograms known now (any subset: keys not given keep
                their last value); lists of pairs are fine.
            events: event-log lines since the previous frame.

        Raises:
            RecordWriteError: the write failed (the file is closed).
            ValueError: the recorder is closed.
        """
        line: dict[str, Any] = {
            "kind": "frame",
            "at": encode(at),
            "snapshot": encode(snapshot),
            "events": encode(tuple(events)),
        }
        with self._lock:
            if self._file is None:
                raise ValueError(f"the recording to {self.path} is closed")
            if histograms is not None:
                changed = _changed(self._known, histograms)
                if changed is not None:
                    line["histograms"] = encode_histograms(changed)
                    self._known = self._known.merged(changed)
            self._write(line)
            self.frames += 1

    def attach_frame(
        self, at: float, snapshot: AttachSnapshot, events: Sequence[Event] = ()
    ) -> None:
        """Write one frame of an attached VM's recording (`attach_frames.py`).

        Raises:
            RecordWriteError: the write failed (the file is closed).
            ValueError: the recorder is closed.
        """
        line = {
            "kind": "attach",
            "at": encode(at),
            "snapshot": encode(snapshot),
            "events": encode(tuple(events)),
        }
        with self._lock:
            if self._file is None:
                raise ValueError(f"the recording to {self.path} is closed")
            self._write(line)
            self.frames += 1

    def close(self) -> None:
        """Flush and close the file (safe to call twice).

        Raises:
            RecordWriteError: the last bytes could not be written.
        """
        with self._lock:
            file, self._file = self._file, None
            if file is None:
                return
            try:
                file.close()
            except OSError as err:
                raise self._error(err) from None

    @property
    def closed(self) -> bool:
        """Whether the file is closed (by `close()` or by a failed write)."""
        return self._file is None

    def __enter__(self) -> Recorder:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _write(self, data: dict[str, Any]) -> None:
        assert self._file is not None
        text = json.dumps(data, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
        try:
            self._file.write(text.encode("utf-8") + b"\n")
            self._file.flush()
        except OSError as err:
            file, self._file = self._file, None
            with contextlib.suppress(OSError):  # the first error is the one to report
                file.close()
            raise self._error(err) from None

    def _error(self, err: OSError) -> RecordWriteError:
        cause = err.strerror or str(err)
        fix = _FIXES.get(err.errno or 0, "record elsewhere")
        return RecordWriteError(f"cannot write {self.path}: {cause}; {fix}")


def encode_histograms(hists: Histograms) -> dict[str, Any]:
    """`codec.encode(hists)`, several times faster: histograms are most of a frame's
    values, and their shape is fixed (tests check that both agree)."""

    def pairs(histogram: Histogram) -> list[list[Any]]:
        return [[v if math.isfinite(v) else repr(v), n] for v, n in histogram]

    return {
        "registrations": [[k, pairs(h)] for k, h in hists.registrations.items()],
        "wakes": [[k, pairs(h)] for k, h in hists.wakes.items()],
        "baselines": [[[b.value, w], pairs(h)] for (b, w), h in hists.baselines.items()],
        "readers": [
            [k, {name: pairs(h) for name, h in by.items()} if by else []]
            for k, by in hists.readers.items()
        ],
    }


def _changed(known: Histograms, new: Histograms) -> Histograms | None:
    """The entries of `new` that differ from `known` (None: none do)."""

    def diff(old: Mapping[Any, Any], fresh: Mapping[Any, Any], nested: bool) -> dict[Any, Any]:
        out = {}
        for key, value in fresh.items():
            value = {name: freeze(h) for name, h in value.items()} if nested else freeze(value)
            if old.get(key) != value:
                out[key] = value
        return out

    changed = Histograms(
        registrations=diff(known.registrations, new.registrations, False),
        wakes=diff(known.wakes, new.wakes, False),
        baselines=diff(known.baselines, new.baselines, False),
        readers=diff(known.readers, new.readers, True),
    )
    if not (changed.registrations or changed.wakes or changed.baselines or changed.readers):
        return None
    return changed
