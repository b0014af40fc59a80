"""A tracefs instance of our own: made, set up, read and removed.

iofdtui never touches the global trace buffer or another tool's instance: it
makes `instances/iofdtui-<pid>-<random>`, enables only the events it needs
there (with filters and a PID list of its own), reads that instance's per-CPU
`trace_pipe_raw`, and removes the instance when it closes, on an exception,
on Ctrl-C and at interpreter exit.  An instance left by a process that was
killed outright is removed by the next iofdtui that opens one.
"""

from __future__ import annotations

import atexit
import contextlib
import errno as E
import os
import re
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from iofdtui.engine.attach.errors import TraceUnavailable, not_mounted, refused

PREFIX = "iofdtui-"
STALE = re.compile(rf"^{PREFIX}(\d+)-[0-9a-f]+$")
MOUNTS = "/proc/self/mounts"
DEFAULT_BUFFER_KB = 4096  # per CPU: ~100,000 events of 32-36 bytes between two reads


def find_tracefs(mounts: str | None = None) -> Path:
    """Where tracefs is mounted (the first mount listed), or TraceUnavailable."""
    mounts = mounts or MOUNTS
    try:
        with open(mounts) as f:
            lines = f.read().splitlines()
    except OSError as err:
        raise refused(mounts, err) from None
    debugfs = None
    for line in lines:
        parts = line.split()
        if len(parts) < 3:
            continue
        where = parts[1].replace("\\040", " ")
        if parts[2] == "tracefs":
            return Path(where)
        if parts[2] == "debugfs" and debugfs is None:
            debugfs = Path(where) / "tracing"
    # Old kernels reach tracefs through debugfs (auto-mounted at debugfs/tracing).
    if debugfs is not None and (debugfs / "instances").is_dir():
        return debugfs
    raise not_mounted()


@dataclass(frozen=True, slots=True)
class Field:
    """One field of an event's binary record."""

    offset: int
    size: int
    signed: bool


@dataclass(frozen=True, slots=True)
class EventFormat:
    """An event's id and field layout, from its `format` file."""

    system: str
    name: str
    id: int
    fields: dict[str, Field]
    print_fmt: str = ""


_FIELD = re.compile(r"field:(.*?);\s*offset:(\d+);\s*size:(\d+);\s*signed:(\d+);")


def parse_format(system: str, name: str, text: str) -> EventFormat:
    """An EventFormat from the text of `events/SYSTEM/NAME/format`."""
    match = re.search(r"^ID:\s*(\d+)", text, re.M)
    if match is None:
        raise ValueError(f"{system}:{name}: no ID in its format file")
    fields = {}
    for decl, offset, size, signed in _FIELD.findall(text):
        # "unsigned int port", "u64 gpa", "char comm[16]": the name is the last word.
        word = decl.split()[-1].split("[")[0]
        fields[word] = Field(int(offset), int(size), signed == "1")
    shown = re.search(r"^print fmt:\s*(.*)$", text, re.M)
    return EventFormat(system, name, int(match.group(1)), fields, shown.group(1) if shown else "")


@dataclass(frozen=True, slots=True)
class PageLayout:
    """Where a ring-buffer page keeps its timestamp, commit and data (`events/header_page`)."""

    size: int
    commit_offset: int
    commit_size: int
    data_offset: int


def parse_header_page(text: str, page_size: int) -> PageLayout:
    """The PageLayout from `events/header_page`, for sub-buffers of `page_size` bytes."""
    fields = {}
    for decl, offset, size, _signed in _FIELD.findall(text):
        fields[decl.split()[-1]] = (int(offset), int(size))
    try:
        commit, data = fields["commit"], fields["data"]
    except KeyError:
        raise ValueError("events/header_page has no commit or data field") from None
    return PageLayout(page_size, commit[0], commit[1], data[0])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale(instances: Path) -> None:
    """Remove instances left by iofdtui processes that no longer exist."""
    try:
        names = os.listdir(instances)
    except OSError:
        return
    for name in names:
        match = STALE.match(name)
        if match and not _pid_alive(int(match.group(1))):
            with contextlib.suppress(OSError):  # in use or gone: not ours to fight over
                os.rmdir(instances / name)


_OPEN: set[TraceInstance] = set()
_OPEN_LOCK = threading.Lock()


@atexit.register
def _close_all() -> None:  # pragma: no cover - runs at interpreter exit
    with _OPEN_LOCK:
        left = list(_OPEN)
    for instance in left:
        instance.close()


class TraceInstance:
    """One tracefs instance, made by `open()` and removed by `close()`.

    `events` are (system, name, filter or None); `pids` are the task ids whose
    events are recorded (threads they create are added by the kernel).
    """

    def __init__(
        self,
        events: Sequence[tuple[str, str, str | None]],
        pids: Sequence[int],
        root: Path | None = None,
        buffer_kb: int = DEFAULT_BUFFER_KB,
    ) -> None:
        self.root = root if root is not None else find_tracefs()
        self.name = f"{PREFIX}{os.getpid()}-{secrets.token_hex(3)}"
        self.path = self.root / "instances" / self.name
        self._events = list(events)
        self._pids = list(pids)
        self._buffer_kb = buffer_kb
        self._fds: dict[int, int] = {}
        self._made = False
        self.formats: dict[str, EventFormat] = {}
        self.layout: PageLayout | None = None

    # -------------------------------------------------------------- set-up

    def _write(self, rel: str, text: str) -> None:
        path = self.path / rel
        try:
            with open(path, "w") as f:
                f.write(text)
        except OSError as err:
            raise refused(str(path), err) from None

    def _read(self, path: Path) -> str:
        try:
            return path.read_text()
        except OSError as err:
            raise refused(str(path), err) from None

    def _check_events(self) -> None:
        """Every event we need exists in this kernel (read in the global events/ dir)."""
        for system, name, _filter in self._events:
            fmt = self.root / "events" / system / name / "format"
            if not fmt.exists():
                raise TraceUnavailable(
                    E.ENOENT,
                    f"this kernel has no {system}:{name} tracepoint; load the kvm module "
                    "(modprobe kvm) or use a kernel built with it",
                )
            self.formats[name] = parse_format(system, name, self._read(fmt))

    def open(self) -> TraceInstance:
        """Make the instance and start recording; TraceUnavailable says why not."""
        instances = self.root / "instances"
        if not instances.is_dir():
            raise TraceUnavailable(
                E.ENOTSUP, f"{self.root} has no instances/; use a kernel with tracefs instances"
            )
        self._check_events()
        _remove_stale(instances)
        try:
            os.mkdir(self.path)
        except OSError as err:
            raise refused(str(self.path), err) from None
        self._made = True
        with _OPEN_LOCK:
            _OPEN.add(self)
        try:
            self._set_up()
        except BaseException:
            self.close()
            raise
        return self

    def _set_up(self) -> None:
        self._write("tracing_on", "0")
        # CLOCK_MONOTONIC, so a reader can tell which events are old enough to be complete.
        self._write("trace_clock", "mono")
        self._write("buffer_size_kb", str(self._buffer_kb))
        self._write("options/event-fork", "1")
        self._write("set_event_pid", " ".join(str(p) for p in self._pids))
        for system, name, filt in self._events:
            if filt:
                self._write(f"events/{system}/{name}/filter", filt)
            self._write(f"events/{system}/{name}/enable", "1")
        sub = self.path / "buffer_subbuf_size_kb"
        page = int(self._read(sub)) * 1024 if sub.exists() else os.sysconf("SC_PAGE_SIZE")
        self.layout = parse_header_page(self._read(self.root / "events" / "header_page"), page)
        for cpu in self.cpus():
            path = self.path / "per_cpu" / f"cpu{cpu}" / "trace_pipe_raw"
            try:
                self._fds[cpu] = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            except OSError as err:
                raise refused(str(path), err) from None
        self._write("tracing_on", "1")

    def cpus(self) -> list[int]:
        """The CPUs this instance has a buffer for."""
        names = os.listdir(self.path / "per_cpu")
        return sorted(int(n[3:]) for n in names if n.startswith("cpu") and n[3:].isdigit())

    # ------------------------------------------------------------- reading

    def read_pages(self, cpu: int, limit: int = 1 << 16) -> list[bytes]:
        """Every page `cpu`'s buffer has ready now (at most `limit`)."""
        fd, size = self._fds[cpu], self.layout.size if self.layout else 4096
        pages = []
        while len(pages) < limit:
            try:
                page = os.read(fd, size)
            except BlockingIOError:
                break
            except OSError as err:
                if err.errno == E.EINTR:
                    continue
                raise
            if not page:
                break
            pages.append(page)
        return pages

    def lost(self) -> int:
        """Events the kernel could not keep for us so far (overwritten or dropped), all CPUs."""
        total = 0
        for cpu in self._fds:
            try:
                text = (self.path / "per_cpu" / f"cpu{cpu}" / "stats").read_text()
            except OSError:
                continue
            for key in ("overrun", "dropped events"):
                match = re.search(rf"^{key}:\s*(\d+)", text, re.M)
                if match:
                    total += int(match.group(1))
        return total

    # ------------------------------------------------------------- removal

    def close(self) -> None:
        """Stop recording and remove the instance (twice is fine)."""
        with _OPEN_LOCK:
            _OPEN.discard(self)
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()
        if not self._made:
            return
        self._made = False
        for rel in ["tracing_on"] + [f"events/{s}/{n}/enable" for s, n, _ in self._events]:
            try:
                with open(self.path / rel, "w") as f:
                    f.write("0")
            except OSError:
                pass  # removing the instance below disables everything anyway
        with contextlib.suppress(FileNotFoundError):
            os.rmdir(self.path)

    def __enter__(self) -> TraceInstance:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()
