"""Read a recording whole (`read_recording`) or as it is written (`follow`).

A recording file is untrusted input: lines are bounded (MAX_LINE_BYTES,
also after decompression), frames are counted (MAX_FRAMES), and every value
is checked against its type by `codec.decode`.  Whatever is wrong raises one
`RecordingError` saying what and on which line.  A recording cut short by a
crash or a kill (the last line incomplete, a gzip stream without its end)
is read up to the last whole line, with a note saying so.
"""

from __future__ import annotations

import json
import math
import os
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iofdtui.recording.attach_frames import AttachFrame, Nonsense, check_header, check_snapshot
from iofdtui.recording.codec import CodecError, decode, shape
from iofdtui.recording.frames import (
    NEWEST_SCHEMA,
    SEVERITIES,
    SOURCES,
    Frame,
    Header,
    Histograms,
)

MAX_LINE_BYTES = 64 * 1024 * 1024
"""Longest line accepted (a frame of 1,000 registrations is a few MB)."""
MAX_FRAMES = 1_000_000
"""Most frames in one recording (over two days at the app's fastest refresh)."""
MAX_TOTAL_BYTES = 512 * 1024 * 1024
"""Most text `read_recording` holds in memory as frames (about 10 hours of the demo
recorded by the app; the objects take several times the text)."""
CHUNK = 1 << 16
PIECE = 1 << 12  # inflated at a time: damage is reported on the line it is in
GZIP_MAGIC = b"\x1f\x8b"
NOT_OURS = "the file is not an iofdtui recording"


class RecordingError(Exception):
    """A recording that cannot be read; `str()` is one line: where, what, and what to do.

    Attributes:
        line: the 1-based line the problem is on (None: the file as a whole).
    """

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line

    def __str__(self) -> str:
        return self.message if self.line is None else f"line {self.line}: {self.message}"


@dataclass
class Recording:
    """A recording read whole.

    Attributes:
        header: the first line.
        frames: every frame, in order, each with the latest histograms (a lab's).
        notes: what was skipped and why (e.g. a last line cut short).
        attach_frames: every frame of an attached VM's recording (`header.attach`).
    """

    header: Header
    frames: list[Frame] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    attach_frames: list[AttachFrame] = field(default_factory=list)


def read_recording(path: str | os.PathLike[str]) -> Recording:
    """Read the recording at `path` (gzip or plain, told by its first bytes).

    Raises:
        RecordingError: the file cannot be opened, or is not a recording
            this version can read; the message is one line.
    """
    parser = _Parser()
    notes: list[str] = []
    lines = _Lines(_open(path))
    try:
        while True:
            line = lines.next_line(final=True)
            if line is None:
                break
            text, complete = line
            try:
                parser.feed(text, lines.number)
            except RecordingError:
                if complete:
                    raise
                notes.append(
                    f"line {lines.number} cut short (a recording stopped mid-write): skipped"
                )
                break
            _check_size(parser, lines, "too large to read whole; record a shorter session")
        if lines.cut_short:
            notes.append(
                "the compressed stream ends early (a recording stopped mid-write): "
                f"read up to line {lines.number}"
            )
    finally:
        lines.close()
    if parser.header is None:
        raise RecordingError(f"the file is empty: {NOT_OURS}", 1)
    return Recording(parser.header, parser.frames, notes, parser.attach_frames)


def read_header(path: str | os.PathLike[str]) -> Header:
    """The first line of the recording at `path` (what it holds: a lab's or an attached VM's).

    Raises:
        RecordingError: as `read_recording`, for the first line.
    """
    lines = _Lines(_open(path))
    try:
        line = lines.next_line(final=True)
        if line is None:
            raise RecordingError(f"the file is empty: {NOT_OURS}", 1)
        header = _Parser().feed(line[0], lines.number)
    finally:
        lines.close()
    assert isinstance(header, Header)
    return header


def follow(
    path: str | os.PathLike[str],
    poll_s: float = 0.2,
    *,
    timeout_s: float | None = None,
    stop: threading.Event | None = None,
) -> Iterator[Header | Frame | AttachFrame]:
    """Tail a recording as it is written: the header, then each frame as its line completes.

    Waits for the file to appear and for each line to end, polling every
    `poll_s` seconds; never yields a partial line.  Stops when `timeout_s`
    passes with nothing new (None: never), or as soon as `stop` is set (from
    any thread: a follow thread waiting for a line ends at once).

    Raises:
        RecordingError: a complete line is wrong (as `read_recording`), or the
            recording grew past MAX_FRAMES or MAX_TOTAL_BYTES.
    """
    stop = stop or threading.Event()  # never set: a plain sleep
    waited = 0.0
    while not Path(path).exists():
        if timeout_s is not None and waited >= timeout_s:
            raise RecordingError(f"{os.fspath(path)}: no such file (nothing was recorded there)")
        if stop.wait(poll_s):
            return
        waited += poll_s
    parser = _Parser(keep=False)  # the follower keeps the frames it is handed
    lines = _Lines(_open(path))
    try:
        idle = 0.0
        while not stop.is_set():
            line = lines.next_line(final=False)
            if line is None:
                if timeout_s is not None and idle >= timeout_s:
                    return
                if stop.wait(poll_s):
                    return
                idle += poll_s
                continue
            idle = 0.0
            item = parser.feed(line[0], lines.number)
            # A follower keeps every frame: the same bound as reading a file whole.
            _check_size(parser, lines, "too large to follow further; the frames so far stay")
            yield item
    finally:
        lines.close()


def _check_size(parser: _Parser, lines: _Lines, what: str) -> None:
    """Refuse a recording past MAX_FRAMES frames or MAX_TOTAL_BYTES of text."""
    if parser.count > MAX_FRAMES or lines.total > MAX_TOTAL_BYTES:
        raise RecordingError(
            f"more than {MAX_FRAMES:,} frames or {MAX_TOTAL_BYTES >> 20} MiB of text: {what}",
            lines.number,
        )


# -------------------------------------------------------------------- lines


def _open(path: str | os.PathLike[str]) -> Any:
    try:
        return open(path, "rb")  # closed by _Lines.close
    except FileNotFoundError:
        raise RecordingError(f"{os.fspath(path)}: no such file; check the name") from None
    except IsADirectoryError:
        raise RecordingError(f"{os.fspath(path)} is a directory; name a recording file") from None
    except PermissionError:
        raise RecordingError(
            f"{os.fspath(path)}: permission denied; check the file's permissions"
        ) from None
    except OSError as err:
        raise RecordingError(f"{os.fspath(path)}: {err.strerror or err}") from None


class _Lines:
    """Whole lines from a file that may be gzip-compressed and may still be growing.

    One path for both: raw bytes are read in chunks, decompressed when the
    file starts with the gzip magic (members one after another, as gzip
    allows), and split at newlines, each line bounded by MAX_LINE_BYTES.
    """

    def __init__(self, file: Any) -> None:
        self._file = file
        self._raw = b""  # bytes read but not yet known to be gzip or not
        self._gzip: bool | None = None
        self._inflate: Any = None
        self._compressed = b""  # gzip bytes read but not yet inflated
        self._inflate_full = False
        # Decompressed bytes not yet a whole line: a bytearray, grown in place, and
        # searched only past `_searched` (no newline before it): with bytes, a
        # 64 MiB line cost a copy and a scan of the whole line per piece read, so
        # a 1 MB gzip file of one long line took over half an hour to refuse.
        self._pending = bytearray()
        self._searched = 0
        self._eof = False
        self.number = 0
        """The 1-based number of the last line returned."""
        self.total = 0
        """Bytes of text returned so far."""
        self.cut_short = False
        """A gzip stream ended without its end marker (known at the end only)."""

    def close(self) -> None:
        self._file.close()

    def next_line(self, final: bool) -> tuple[str, bool] | None:
        """The next line and whether it ended with a newline, or None for no line yet.

        With `final`, the file is complete: its end is the end of the last
        line (returned with False when it had no newline).  Without, a line
        is returned only once its newline has arrived.
        """
        while True:
            end = self._pending.find(b"\n", self._searched)
            if end >= 0:
                data = bytes(self._pending[:end])
                del self._pending[: end + 1]
                self._searched = 0
                return self._text(data), True
            self._searched = len(self._pending)
            self._check_length()
            if not self._read_more(final):
                if final and self._pending:
                    data = bytes(self._pending)
                    self._pending.clear()
                    self._searched = 0
                    return self._text(data), False
                if final:
                    self.cut_short = bool(self._gzip) and self._inflate is not None
                return None

    def _text(self, data: bytes) -> str:
        self.number += 1
        self.total += len(data) + 1
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise RecordingError(f"not UTF-8 text: {NOT_OURS}", self.number) from None

    def _check_length(self) -> None:
        if len(self._pending) > MAX_LINE_BYTES:
            raise RecordingError(
                f"longer than {MAX_LINE_BYTES // (1024 * 1024)} MiB: {NOT_OURS} (or a damaged one)",
                self.number + 1,
            )

    def _read_more(self, final: bool) -> bool:
        """Add bytes to `_pending`; False when nothing more is there now.

        Compressed input is inflated a piece at a time (at most PIECE bytes
        out), only when the line being assembled needs more: so damage is
        found on the line it is in, and a small file that inflates to
        gigabytes is stopped at the first over-long line.
        """
        if self._gzip and (self._compressed or self._inflate_full):
            self._inflate_some()
            return True
        try:
            chunk = self._file.read(CHUNK)
        except OSError as err:
            raise RecordingError(
                f"reading failed: {err.strerror or err}", self.number + 1
            ) from None
        if not chunk:
            if final and self._raw:  # a file shorter than the gzip magic: plain text
                self._pending += self._raw
                self._raw, self._gzip = b"", False
                return True
            return False
        if self._gzip is None:
            self._raw += chunk
            if len(self._raw) < len(GZIP_MAGIC):
                return True
            self._gzip = self._raw.startswith(GZIP_MAGIC)
            chunk, self._raw = self._raw, b""
        if self._gzip:
            self._compressed += chunk
        else:
            self._pending += chunk
        return True

    def _inflate_some(self) -> None:
        if self._inflate is None:
            self._inflate = zlib.decompressobj(wbits=31)
        # A piece at a time, but as large as the line so far: a long line is then
        # inflated in a few dozen calls, not one per 4 KiB (each of which copied
        # the compressed input left), and never far past MAX_LINE_BYTES.
        piece = max(PIECE, min(len(self._pending), MAX_LINE_BYTES + 1 - len(self._pending)))
        try:
            out = self._inflate.decompress(self._compressed, piece)
        except zlib.error as err:
            raise RecordingError(
                f"the gzip data is corrupt ({err}); the recording is damaged", self.number + 1
            ) from None
        self._pending += out
        # A full piece may leave output inside zlib with no input left: ask again.
        self._inflate_full = len(out) == piece
        if self._inflate.eof:
            self._compressed = self._inflate.unused_data  # another member may follow
            self._inflate = None
        else:
            self._compressed = self._inflate.unconsumed_tail


# ------------------------------------------------------------------ parsing


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


class _Parser:
    """Lines in, the header then frames out, histograms carried forward."""

    def __init__(self, keep: bool = True) -> None:
        self.header: Header | None = None
        self.frames: list[Frame] = []
        """Every frame so far (`keep`), else none: a follower hands each one on."""
        self.attach_frames: list[AttachFrame] = []
        """Likewise, for an attached VM's recording."""
        self.count = 0
        self._keep = keep
        self._histograms = Histograms()
        self._last_at = -math.inf

    def feed(self, text: str, number: int) -> Header | Frame | AttachFrame:
        try:
            data = json.loads(text, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as err:
            # Python's own words (a digit limit names sys.set_int_max_str_digits)
            # would tell the user nothing: say what is wrong with the line.
            what = "an integer too long to be a count" if "digits" in str(err) else "not JSON"
            if what == "not JSON" and isinstance(err, ValueError):
                what = f"not JSON ({err})"[:120]
            if self.header is None:
                raise RecordingError(f"{what}: {NOT_OURS}", number) from None
            raise RecordingError(f"{what}; the recording is damaged", number) from None
        if self.header is None:
            self.header = self._header(data, number)
            return self.header
        if self.header.attach is not None:
            attached = self._attach_frame(data, number, self.header)
            self.count += 1
            if self._keep:
                self.attach_frames.append(attached)
            return attached
        frame = self._frame(data, number)
        self.count += 1
        if self._keep:
            self.frames.append(frame)
        return frame

    def _header(self, data: Any, number: int) -> Header:
        if not isinstance(data, dict) or data.get("kind") != "header":
            raise RecordingError(f"no header: {NOT_OURS}", number)
        schema = data.get("schema")
        if not isinstance(schema, int) or isinstance(schema, bool) or schema < 1:
            raise RecordingError(f"the header has no schema number: {NOT_OURS}", number)
        if schema > NEWEST_SCHEMA:
            raise RecordingError(
                f"written by a newer iofdtui (schema {schema}, this reads up to {NEWEST_SCHEMA}): "
                "upgrade iofdtui to read it",
                number,
            )
        body = {k: v for k, v in data.items() if k != "kind"}
        header = _decoded(Header, body, number, "header")
        if header.source not in SOURCES:
            raise RecordingError(
                f"header.source: {header.source[:40]!r} is not one of {', '.join(SOURCES)}",
                number,
            )
        return _kind_agrees(header, number)

    def _frame(self, data: Any, number: int) -> Frame:
        frame = self._timed(Frame, "frame", data, number)
        if "histograms" in data:
            changed = _decoded(Histograms, data["histograms"], number, "histograms")
            self._histograms = self._histograms.merged(changed)
        return Frame(frame.at, frame.snapshot, self._histograms, frame.events)

    def _attach_frame(self, data: Any, number: int, header: Header) -> AttachFrame:
        frame = self._timed(AttachFrame, "attach", data, number)
        assert header.attach is not None
        try:
            check_snapshot(frame.snapshot, header.attach)
        except Nonsense as err:
            raise RecordingError(f"{err}; the recording is damaged", number) from None
        return frame

    def _timed(self, cls: type[Any], kind: str, data: Any, number: int) -> Any:
        """A frame line of `kind` as `cls`: its fields, its time after the last, its events."""
        if not isinstance(data, dict) or data.get("kind") != kind:
            found = data.get("kind") if isinstance(data, dict) else None
            what = f"kind {found[:20]!r}" if isinstance(found, str) else "no kind"
            name = "an attach frame" if kind == "attach" else "a frame"
            raise RecordingError(f"not {name} ({what}); the recording is damaged", number)
        body = {k: v for k, v in data.items() if k not in ("kind", "histograms")}
        try:
            frame = _decoded(cls, body, number, "")
        except RecordingError as err:
            made_with = self.header.shape if self.header is not None else None
            if made_with is None or made_with == shape(cls):
                raise
            raise RecordingError(
                f"{err.message.removesuffix('; the recording is damaged')}: it was made by "
                f"iofdtui {self.header.iofdtui_version} with other snapshot fields; "  # type: ignore[union-attr]
                "read it with that version, or record again",
                number,
            ) from None
        if not math.isfinite(frame.at) or frame.at < self._last_at:
            raise RecordingError(
                f"frame time {frame.at!r} s is not after the previous frame's "
                f"({self._last_at!r} s); the recording is damaged",
                number,
            )
        self._last_at = frame.at
        for event in frame.events:
            if event.severity not in SEVERITIES:
                raise RecordingError(
                    f"event severity {event.severity[:20]!r} is not one of "
                    f"{', '.join(SEVERITIES)}; the recording is damaged",
                    number,
                )
        return frame


def _kind_agrees(header: Header, number: int) -> Header:
    try:
        check_header(header)
    except Nonsense as err:
        raise RecordingError(f"{err}; the recording is damaged", number) from None
    return header


def _decoded(cls: type, data: Any, number: int, path: str | None = None) -> Any:
    try:
        return decode(cls, data, path)
    except CodecError as err:
        raise RecordingError(f"{err}; the recording is damaged", number) from None
    except RecursionError:
        raise RecordingError("nested too deeply; the recording is damaged", number) from None
