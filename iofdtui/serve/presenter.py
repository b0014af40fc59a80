"""The presenter's half of `iofdtui serve`: their app, and the server beside it.

`Sharing` is the served session around the presenter's app: it binds the
address, starts the web server (whose visitors each run `command`, a
read-only replay following the presenter's recording), says where in one
line, and stops the server, and with it every visitor's app, when the block
ends, however it ends. `SharedLabApp` is the presenter's app, which keeps the
URL and the number watching in its header and logs visitors coming and going.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import sys
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

from textual.content import Content
from textual.message import Message

from iofdtui.serve.server import Address, ServerProcess, listen, visitor_command
from iofdtui.ui import app as ui_app
from iofdtui.ui.app import IofdApp


class Sharing:
    """Serve the session recorded to `record` (a temporary file when None) to browsers
    on `host`:`port` for the length of a `with` block.

    Each visitor runs `command`, by default a read-only replay following the
    recording (`server.visitor_command`).
    """

    def __init__(
        self, host: str, port: int, record: Path | None = None, command: str | None = None
    ) -> None:
        self.host = host
        self.port = port
        self._record = record
        self._command = command
        self.workdir: Path | None = None
        """The server's log (and the recording, when none is named), once started."""
        self.recording: Path | None = None
        """The file the presenter's app records to and every visitor follows, once started."""
        self.address: Address | None = None
        """Where it listens, once started."""
        self.server: ServerProcess | None = None

    def __enter__(self) -> Sharing:
        self.workdir = workdir = Path(tempfile.mkdtemp(prefix="iofdtui-serve-"))
        # Absolute: the server and the visitors' apps run in the work directory.
        self.recording = (self._record or workdir / "session.jsonl").resolve()
        command = self._command or visitor_command(self.recording)
        try:
            sock, self.address = listen(self.host, self.port)
            try:
                self.server = ServerProcess(
                    sock,
                    command,
                    title=f"iofdtui: the live lab on {socket.gethostname()}, read-only",
                    log_path=workdir / "server.log",
                    wait_for=self.recording,
                    # A visitor's keys may write files (S saves a screenshot): here, not
                    # in the presenter's directory, and removed with it.
                    cwd=workdir,
                )
            finally:
                sock.close()  # the server holds it now; closed here, a dead server refuses
            self.server.wait_ready()
        except BaseException:
            self._cleanup()
            raise
        print(self.address.announcement(), file=sys.stderr)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._cleanup()

    def _cleanup(self) -> None:
        if self.server is not None:
            self.server.stop()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def app(self, **options: Any) -> SharedLabApp:
        """The presenter's app (`options` as `IofdApp` takes them), served by this."""
        return SharedLabApp(self, **options)


class ServerNews(Message):
    """The server's status thread says something: `visitors`/`refused` N, or `stopped` code."""

    def __init__(self, what: str, number: int) -> None:
        super().__init__()
        self.what = what
        self.number = number


class SharedLabApp(IofdApp):
    """The presenter's app: the lab as `iofdtui` shows it, and where it is served."""

    # Textual finds a relative CSS_PATH beside the subclass's module: name the app's.
    CSS_PATH = Path(ui_app.__file__).with_name("app.tcss")

    def __init__(self, sharing: Sharing, **options: Any) -> None:
        super().__init__(**options)
        self._sharing = sharing
        self._watching = 0

    def on_mount(self) -> None:
        """Listen to the server; announce it once the main screen is composed."""
        server = self._sharing.server
        if server is not None:
            server.add_listener(self._from_server)
        self.call_after_refresh(self._announce)

    def action_toggle_recording(self) -> None:
        """Keep recording: every visitor's view follows this session's recording."""
        message = (
            f"browsers watch this session through its recording ({self._sharing.recording}); "
            "it stops when iofdtui serve does"
        )
        self.notify(message, title="Recording kept", severity="warning")
        self.main.log_event(f"recording kept: {message}", "warning")

    def _announce(self) -> None:
        address = self._sharing.address
        if address is None:
            return
        self.main.log_event(address.announcement().removeprefix("iofdtui: "))
        self._show_banner()

    def _show_banner(self, stopped: str | None = None) -> None:
        address = self._sharing.address
        if address is None:
            return
        if stopped is not None:
            self.main.show_banner(Content.assemble((f"⇄ not served: {stopped}", "bold $error")))
            return
        # Short enough for one line of an 80-column header with a 5-digit port.
        reach = "localhost only" if address.local_only else "open to the network"
        self.main.show_banner(
            Content.assemble(
                "⇄ shared read-only at ",
                (address.url, "bold $accent"),
                f" · {reach} · {self._watching} watching",
            )
        )

    def _from_server(self, what: str, number: int) -> None:
        # On the server's status thread: hand it to the app's loop. Once that
        # loop has closed the app is ending, and nobody is left to tell.
        with contextlib.suppress(RuntimeError):
            self.post_message(ServerNews(what, number))

    def on_server_news(self, news: ServerNews) -> None:
        """Show who is watching, a visitor turned away, or the server's end."""
        if news.what == "visitors":
            before, self._watching = self._watching, news.number
            if news.number != before:
                change = "joined" if news.number > before else "left"
                self.main.log_event(f"a browser {change}: {news.number} watching")
        elif news.what == "refused":
            self.main.log_event(
                f"a browser was turned away: {news.number} watching, the most allowed", "warning"
            )
        elif news.what == "stopped":
            self._watching = 0
            server = self._sharing.server
            detail = server.last_log_line() if server is not None else ""
            code = news.number  # negative: the signal that killed it
            ended = (
                f"exited ({code})" if code >= 0 else f"was killed by {signal.Signals(-code).name}"
            )
            reason = f"the web server {ended}: {detail}"
            self.main.log_event(f"{reason}; restart iofdtui serve to share again", "error")
            self._show_banner(stopped=reason)
            return
        self._show_banner()
