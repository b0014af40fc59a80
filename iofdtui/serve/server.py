"""The presenter's side of the web server: bind, start, watch and stop it.

`listen` binds the address in this process, so a taken port or a wrong host
is the presenter's one-line error before anything starts, and `--port 0`
gets a free port whose number is known here. `ServerProcess` runs
`iofdtui.serve.web` on that socket in a new session (its process group holds
every visitor's app too, so one signal ends them all), with its output in a
log file, and reads its status pipe on a thread: visitors coming and going,
and its end.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import select
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from iofdtui.serve import web

START_TIMEOUT_S = 30.0
"""How long the server may take to start (imports aiohttp and textual-serve; a slow
machine under a running lab takes seconds)."""

STOP_TIMEOUT_S = 5.0
"""How long it may take to end its visitors' sessions before it is killed."""

LOG_TAIL_BYTES = 4096
"""How much of the end of the server's log is read for its last line (the log grows
with every request)."""

MAX_VISITORS = 8
"""Browsers that may watch at once: each runs an app process on this machine."""


class ServeError(ValueError):
    """Why the lab cannot be served; one line, cause and fix."""


@dataclass(frozen=True)
class Address:
    """Where the server listens, and what to tell the presenter about it."""

    host: str
    port: int

    @property
    def everywhere(self) -> bool:
        """Listening on every interface (0.0.0.0 or ::)."""
        return self.host in ("0.0.0.0", "::", "")

    @property
    def local_only(self) -> bool:
        """Only this machine can connect (a loopback address)."""
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return self.host == "localhost"

    @property
    def url(self) -> str:
        """The URL to open; on every interface, this machine's name as teammates may know it."""
        host = socket.gethostname() if self.everywhere else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/"

    def announcement(self) -> str:
        """The one line said at start: the URL and who can reach it."""
        if self.local_only:
            reach = (
                "localhost only: pass --host 0.0.0.0 to let teammates on your network connect; "
                "anyone who can reach it can watch"
            )
        elif self.everywhere:
            reach = f"on every network interface: anyone who can reach port {self.port} can watch"
        else:
            reach = f"on {self.host}: anyone who can reach it can watch"
        return f"iofdtui: serving this lab read-only at {self.url} ({reach})"


def listen(host: str, port: int) -> tuple[socket.socket, Address]:
    """A listening TCP socket on `host`:`port` (0: any free port), or a `ServeError`."""
    try:
        infos = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as err:
        raise ServeError(
            f"cannot serve on --host {host}: {err.strerror}; pass an address of this machine, "
            "such as 127.0.0.1 or 0.0.0.0"
        ) from None
    family, kind, proto, _name, sockaddr = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(sockaddr)
        sock.listen(64)
    except OSError as err:
        sock.close()
        raise ServeError(_bind_problem(host, port, err)) from None
    return sock, Address(host, sock.getsockname()[1])


def _bind_problem(host: str, port: int, err: OSError) -> str:
    if err.errno == errno.EADDRINUSE:
        return f"port {port} is taken on {host}; pass --port N for another (0: any free port)"
    if err.errno == errno.EACCES:
        return f"port {port} needs privileges; pass --port 1024 or higher (0: any free port)"
    if err.errno == errno.EADDRNOTAVAIL:
        return f"{host} is no address of this machine; pass --host 127.0.0.1 or 0.0.0.0"
    return f"cannot listen on {host}:{port}: {err.strerror}; pass another --host or --port"


def visitor_command(recording: Path) -> str:
    """The shell command each visitor's browser runs: a read-only replay following
    `recording` as the presenter's app writes it (textual-serve runs a shell string,
    so every part is quoted)."""
    return shlex.join(
        [sys.executable, "-m", "iofdtui", "replay", "--follow", str(recording.resolve())]
    )


Listener = Callable[[str, int], None]
"""Called on the status thread with `visitors`/`refused` and the number watching,
or `stopped` and the server's exit status when it ends without being stopped."""


class ServerProcess:
    """`iofdtui.serve.web` serving `command` on `sock`, in a process group of its own;
    each visitor's app starts once `wait_for` (if given) has content, in `cwd`
    (where whatever a visitor's keys write, such as a screenshot, lands)."""

    def __init__(
        self,
        sock: socket.socket,
        command: str,
        *,
        title: str,
        log_path: Path,
        max_visitors: int = MAX_VISITORS,
        wait_for: Path | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.command = command
        self.log_path = log_path
        self._listeners: list[Listener] = []
        self._stopping = threading.Event()
        status_read, status_write = os.pipe()
        argv = [
            sys.executable,
            "-m",
            web.__name__,
            f"--fd={sock.fileno()}",
            f"--status-fd={status_write}",
            f"--command={command}",
            f"--title={title}",
            f"--max-visitors={max_visitors}",
        ]
        if wait_for is not None:
            argv.append(f"--wait-for={wait_for}")
        with open(log_path, "ab") as log:
            try:
                self._proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.PIPE,  # never written: it closes when this process ends
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    pass_fds=(sock.fileno(), status_write),
                    start_new_session=True,
                    cwd=cwd,
                )
            finally:
                os.close(status_write)
        self._status = os.fdopen(status_read, "rb", buffering=0)
        self._lines = self._read_lines()
        self._thread: threading.Thread | None = None

    @property
    def pid(self) -> int:
        """The server's process id (its process group's too)."""
        return self._proc.pid

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> None:
        """Return once the server runs, or raise `ServeError` with the reason."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._status], [], [], left)[0]:
                self.stop()
                raise ServeError(
                    f"the web server did not start within {timeout:g} s; see {self.log_path}"
                )
            line = next(self._lines, None)
            if line is None:
                code = self._proc.wait()
                self.stop()  # its pipes, and anything it left in its group
                raise ServeError(
                    f"the web server exited ({code}) at start: {self.last_log_line()}; "
                    f"see {self.log_path}"
                )
            if line == web.STATUS_READY:
                break
        self._thread = threading.Thread(target=self._watch, name="iofdtui-serve", daemon=True)
        self._thread.start()

    def add_listener(self, listener: Listener) -> None:
        """Call `listener` for each status line from now on (on the status thread)."""
        self._listeners.append(listener)

    def stop(self) -> None:
        """End the server and every visitor's app; give up waiting after STOP_TIMEOUT_S."""
        self._stopping.set()
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        if self._proc.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self._proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self._proc.wait()
        # A visitor's app still running in the group (it ignored quit): end it too.
        self._signal(signal.SIGKILL)
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_S)
        self._status.close()

    def last_log_line(self) -> str:
        """The server's last line of output (its error, when it failed)."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(max(0, log.seek(0, os.SEEK_END) - LOG_TAIL_BYTES))
                lines = log.read().decode(errors="replace").strip().splitlines()
        except OSError:
            return "no log"
        return lines[-1].strip()[:LOG_TAIL_BYTES] if lines else "no output"

    def _signal(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):  # the group is empty: all ended
            os.killpg(self._proc.pid, sig)

    def _read_lines(self) -> Iterator[str]:
        buffer = b""
        while chunk := self._status.read(4096):
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                yield line.decode(errors="replace").strip()

    def _watch(self) -> None:
        for line in self._lines:
            what, _, number = line.partition(" ")
            if what in (web.STATUS_VISITORS, web.STATUS_REFUSED) and number.isdigit():
                self._tell(what, int(number))
        code = self._proc.wait()
        if not self._stopping.is_set():
            self._tell("stopped", code)

    def _tell(self, what: str, number: int) -> None:
        for listener in self._listeners:
            listener(what, number)
