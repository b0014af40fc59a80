"""The web server of `iofdtui serve`: textual-serve, in a process of its own.

Run as `python -m iofdtui.serve.web` by `server.ServerProcess`, never in the
presenter's process, not even on a thread: textual-serve's `Server.serve()`
blocks in an event loop of its own, installs SIGINT/SIGTERM handlers (the main
thread's job, and the presenter's app has its own), logs and prints its logo
to stdout, and copies each visitor app's stderr to stdout, any of which would
draw over the presenter's app. And `serve()` takes a host and port, where this
serves on a socket the presenter's side has already bound (so a taken port is
the presenter's one-line error, and `--port 0` works); the aiohttp app is
built here from textual-serve's public handlers and files. Besides:

- each page's URLs follow the Host the browser asked for (textual-serve writes
  the bound host into them, and a page served on 0.0.0.0 would tell a
  teammate's browser to connect to its own machine); a Host that is not a
  plain host[:port] is refused;
- a visitor's app starts once the recording it follows has begun (the
  presenter's VM takes a moment), so an early visitor waits instead of failing;
- visitors are capped (each one runs its own app process on the presenter's
  machine, which shares its CPUs with the lab's vCPU threads), and so are the
  terminal sizes they ask for;
- it reports visitors coming and going, one line each, on a status pipe;
- it stops when the presenter's side closes its stdin (the presenter's
  process ended, however) or sends SIGTERM, and takes its visitors' apps with it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import re
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web
from textual_serve.server import Server

HOST_HEADER = re.compile(r"^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?$")
"""A Host header the page's URLs may be built from: a name, IPv4 or [IPv6], and a port."""

MAX_COLUMNS, MAX_ROWS = 1000, 500
"""The largest terminal a visitor's browser may ask for (an app draws every cell)."""

WAIT_FOR_S, WAIT_POLL_S = 60.0, 0.1
"""How long a visitor waits for the recording to begin (the presenter's VM starting), and
how often it looks."""

STATUS_READY = "ready"
STATUS_VISITORS = "visitors"
STATUS_REFUSED = "refused"
"""The status pipe's lines: `ready`, `visitors N` (now watching), `refused N` (over the cap)."""


class LabServer(Server):
    """textual-serve's server, with the safeguards above, for one command."""

    def __init__(
        self,
        command: str,
        *,
        title: str,
        max_visitors: int,
        status_fd: int,
        wait_for: Path | None = None,
    ) -> None:
        # host and port only make textual-serve's public_url, which no page uses here.
        super().__init__(command, title=title)
        self.max_visitors = max_visitors
        self.wait_for = wait_for
        """A file each visitor's app needs (the recording it follows): until it has
        content, a visitor waits (up to WAIT_FOR_S) before their app starts."""
        self._status_fd = status_fd
        self._visitors: set[asyncio.Task[Any]] = set()

    def status(self, line: str) -> None:
        """Tell the presenter's side (gone already: nobody to tell)."""
        with contextlib.suppress(OSError):
            os.write(self._status_fd, f"{line}\n".encode())

    def make_app(self) -> web.Application:
        """The aiohttp app: textual-serve's routes, handled by this server."""
        app = web.Application()
        aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(self.templates_path))
        app.add_routes(
            [
                web.get("/", self.handle_index, name="index"),
                web.get("/ws", self.handle_websocket, name="websocket"),
                web.get("/download/{key}", self.handle_download, name="download"),
                web.static("/static", self.statics_path, name="static"),
            ]
        )
        app.on_shutdown.append(self.on_shutdown)
        return app

    @aiohttp_jinja2.template("app_index.html")
    async def handle_index(self, request: web.Request) -> dict[str, Any]:
        """The page, its URLs on the host and port the browser used."""
        host = request.host
        if not HOST_HEADER.match(host):
            raise web.HTTPBadRequest(text="bad Host header\n")
        font_size = _bounded_int(request.query.get("fontsize"), 16, range(6, 73))
        return {
            "font_size": font_size,
            "app_websocket_url": f"ws://{host}/ws",
            "config": {"static": {"url": f"http://{host}/static/"}},
            "application": {"name": self.title},
        }

    async def handle_websocket(self, request: web.Request) -> web.StreamResponse:
        """One visitor: their own app process, while the cap allows."""
        for name, limit in (("width", MAX_COLUMNS), ("height", MAX_ROWS)):
            if _bounded_int(request.query.get(name), None, range(1, limit + 1)) is None:
                raise web.HTTPBadRequest(text=f"{name} must be a whole number from 1 to {limit}\n")
        if len(self._visitors) >= self.max_visitors:
            self.status(f"{STATUS_REFUSED} {len(self._visitors)}")
            raise web.HTTPServiceUnavailable(
                text=f"{self.max_visitors} visitors are watching already, the most allowed\n"
            )
        task = asyncio.current_task()
        assert task is not None  # aiohttp runs every handler in a task
        self._visitors.add(task)
        self.status(f"{STATUS_VISITORS} {len(self._visitors)}")
        try:
            if not await self._waited():
                raise web.HTTPServiceUnavailable(
                    text=f"nothing to watch yet ({self.wait_for} is empty); try again\n"
                )
            return await super().handle_websocket(request)
        finally:
            self._visitors.discard(task)
            self.status(f"{STATUS_VISITORS} {len(self._visitors)}")

    async def _waited(self) -> bool:
        """True once `wait_for` (if any) has content; False after WAIT_FOR_S."""
        if self.wait_for is None:
            return True
        for _ in range(int(WAIT_FOR_S / WAIT_POLL_S)):
            with contextlib.suppress(OSError):
                if self.wait_for.stat().st_size > 0:
                    return True
            await asyncio.sleep(WAIT_POLL_S)
        return False

    async def on_shutdown(self, app: web.Application) -> None:
        """End every visitor's session now: textual-serve then quits their apps."""
        for task in list(self._visitors):
            task.cancel()

    def run(self, sock: socket.socket) -> None:
        """Serve on `sock` until SIGTERM or SIGINT, or until stdin closes."""
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        asyncio.run(self._serve(sock))

    async def _serve(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        done = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, done.set)
        loop.add_reader(sys.stdin.fileno(), self._stdin_readable, done)
        # Visitors' sessions are ended by on_shutdown; the timeout bounds the rest.
        runner = web.AppRunner(self.make_app(), shutdown_timeout=3.0)
        await runner.setup()
        try:
            await web.SockSite(runner, sock).start()
            self.status(STATUS_READY)
            await done.wait()
        finally:
            await runner.cleanup()

    @staticmethod
    def _stdin_readable(done: asyncio.Event) -> None:
        # The presenter's side never writes: readable means it closed its end.
        if not os.read(sys.stdin.fileno(), 4096):
            done.set()


def _bounded_int(text: str | None, default: int | None, allowed: range) -> int | None:
    """`text` as an int in `allowed`; `default` when absent or anything else."""
    try:
        value = int(text) if text is not None else default
    except ValueError:
        return default
    return value if value is not None and value in allowed else default


def main(argv: list[str] | None = None) -> int:
    """Serve `--command` on the listening socket inherited as `--fd`."""
    parser = argparse.ArgumentParser(prog="python -m iofdtui.serve.web")
    parser.add_argument("--fd", type=int, required=True, help="a bound, listening TCP socket")
    parser.add_argument("--status-fd", type=int, required=True, help="where to report visitors")
    parser.add_argument("--command", required=True, help="each visitor's app, a shell command")
    parser.add_argument("--title", required=True, help="the page's title")
    parser.add_argument("--max-visitors", type=int, required=True)
    parser.add_argument("--wait-for", type=Path, help="a file visitors' apps need, once it exists")
    args = parser.parse_args(argv)
    sock = socket.socket(fileno=args.fd)
    server = LabServer(
        args.command,
        title=args.title,
        max_visitors=args.max_visitors,
        status_fd=args.status_fd,
        wait_for=args.wait_for,
    )
    server.run(sock)
    return 0


if __name__ == "__main__":
    sys.exit(main())
