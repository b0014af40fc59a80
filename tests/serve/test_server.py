"""The web server's plumbing, with a stand-in app (tests/serve/ticker_app.py) and no lab:
binding and its one-line errors, the page, the caps, and the server's end."""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import pytest

from iofdtui.serve.server import Address, ServeError, ServerProcess, listen, visitor_command

TICKER = Path(__file__).with_name("ticker_app.py")
TICKER_COMMAND = shlex.join([sys.executable, str(TICKER)])


def group_members(pgid: int) -> list[int]:
    """Live processes in process group `pgid` (the server and its visitors' apps)."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # Fields after the command's closing parenthesis: state, ppid, pgrp, ...
        state, _ppid, pgrp = stat.rsplit(")", 1)[1].split()[:3]
        if int(pgrp) == pgid and state != "Z":
            members.append(int(entry))
    return members


def until(predicate: Callable[[], object], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[ServerProcess, Address, list[tuple[str, int]]]]:
    """The ticker served on a free port to one visitor at a time; its status lines."""
    sock, address = listen("127.0.0.1", 0)
    server = ServerProcess(
        sock, TICKER_COMMAND, title="ticker", log_path=tmp_path / "server.log", max_visitors=1
    )
    sock.close()
    news: list[tuple[str, int]] = []
    server.add_listener(lambda what, n: news.append((what, n)))
    server.wait_ready()
    try:
        yield server, address, news
    finally:
        server.stop()


# ----------------------------------------------------------------- binding


def test_a_taken_port_is_one_line_that_names_the_fix() -> None:
    taken = socket.create_server(("127.0.0.1", 0))
    port = taken.getsockname()[1]
    with taken, pytest.raises(ServeError) as caught:
        listen("127.0.0.1", port)
    message = str(caught.value)
    assert message == (
        f"port {port} is taken on 127.0.0.1; pass --port N for another (0: any free port)"
    )


def test_an_address_of_another_machine_is_one_line() -> None:
    # TEST-NET-1 (RFC 5737) is never this machine's; binding sends nothing.
    with pytest.raises(ServeError, match=r"^192\.0\.2\.1 is no address of this machine; pass"):
        listen("192.0.2.1", 0)


def test_port_zero_gets_a_free_port_that_listens() -> None:
    sock, address = listen("127.0.0.1", 0)
    with sock:
        assert address.port > 0
        assert address.url == f"http://127.0.0.1:{address.port}/"
        socket.create_connection(("127.0.0.1", address.port), timeout=5).close()


def test_the_announcement_says_who_can_reach_it() -> None:
    local = Address("127.0.0.1", 8000).announcement()
    assert local == (
        "iofdtui: serving this lab read-only at http://127.0.0.1:8000/ (localhost only: "
        "pass --host 0.0.0.0 to let teammates on your network connect; "
        "anyone who can reach it can watch)"
    )
    everywhere = Address("0.0.0.0", 8000)
    assert not everywhere.local_only
    assert everywhere.url == f"http://{socket.gethostname()}:8000/"
    assert "anyone who can reach port 8000 can watch" in everywhere.announcement()
    assert Address("::1", 8000).url == "http://[::1]:8000/"


def test_the_visitor_command_quotes_the_recording(tmp_path: Path) -> None:
    odd = tmp_path / "a b" / "it's $HOME; rm.jsonl"
    argv = shlex.split(visitor_command(odd))
    assert argv == [sys.executable, "-m", "iofdtui", "replay", "--follow", str(odd)]


# ------------------------------------------------------------------ serving


async def test_the_page_points_at_the_host_the_browser_used(served) -> None:  # type: ignore[no-untyped-def]
    _server, address, _news = served
    base = f"http://127.0.0.1:{address.port}"
    async with aiohttp.ClientSession() as client:
        async with client.get(base + "/") as page:
            assert page.status == 200
            assert f'data-session-websocket-url="ws://127.0.0.1:{address.port}/ws"' in (
                await page.text()
            )
        # A teammate who typed the machine's name gets URLs with that name.
        async with client.get(base + "/", headers={"Host": "lab-host:8000"}) as page:
            assert 'data-session-websocket-url="ws://lab-host:8000/ws"' in await page.text()
        async with client.get(base + "/", headers={"Host": 'x"><script>'}) as page:
            assert page.status == 400


async def test_one_visitor_too_many_is_turned_away(served) -> None:  # type: ignore[no-untyped-def]
    _server, address, news = served
    ws_url = f"http://127.0.0.1:{address.port}/ws"
    async with aiohttp.ClientSession() as client:
        async with client.get(ws_url, params={"width": "100000", "height": "24"}) as refused:
            assert refused.status == 400
        async with client.ws_connect(ws_url, params={"width": "80", "height": "24"}) as ws:
            screen = b""
            while b"ticks" not in screen:
                message = await ws.receive(timeout=30)
                assert message.type is aiohttp.WSMsgType.BINARY, message
                screen += message.data
            async with client.get(ws_url, params={"width": "80", "height": "24"}) as second:
                assert second.status == 503
                assert "1 visitors are watching already" in await second.text()
    until(lambda: ("visitors", 0) in news)
    assert news == [("visitors", 1), ("refused", 1), ("visitors", 0)]


async def test_stopping_the_server_ends_its_visitors_apps(served) -> None:  # type: ignore[no-untyped-def]
    server, address, _news = served
    ws_url = f"http://127.0.0.1:{address.port}/ws"
    async with (
        aiohttp.ClientSession() as client,
        client.ws_connect(ws_url, params={"width": "80", "height": "24"}) as ws,
    ):
        await ws.receive(timeout=30)
        assert len(group_members(server.pid)) >= 2, "the server and the visitor's app"
        server.stop()
        assert group_members(server.pid) == []
    # Nothing listens any more: a browser is refused, not left waiting.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", address.port), timeout=5)


def test_the_server_ends_when_the_presenters_process_dies(tmp_path: Path) -> None:
    presenter = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                from pathlib import Path
                from iofdtui.serve.server import ServerProcess, listen
                sock, _ = listen("127.0.0.1", 0)
                log = Path({str(tmp_path)!r}) / "log"
                server = ServerProcess(sock, "true", title="t", log_path=log)
                server.wait_ready()
                print(server.pid, flush=True)
                time.sleep(60)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert presenter.stdout is not None
    server_pid = int(presenter.stdout.readline())
    assert group_members(server_pid) == [server_pid]
    presenter.send_signal(signal.SIGKILL)  # no cleanup of its own at all
    presenter.wait()
    until(lambda: group_members(server_pid) == [])


def test_a_server_that_cannot_start_says_why(tmp_path: Path) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # no stream to accept on
    with pytest.raises(ServeError) as caught:
        ServerProcess(sock, "true", title="t", log_path=tmp_path / "log").wait_ready()
    sock.close()
    message = str(caught.value)
    assert message.startswith("the web server exited (1) at start: "), message
    assert message.endswith(f"; see {tmp_path / 'log'}")
    assert "\n" not in message


async def test_a_visitor_waits_for_the_recording_to_begin(tmp_path: Path) -> None:
    recording = tmp_path / "session.jsonl"
    sock, address = listen("127.0.0.1", 0)
    server = ServerProcess(
        sock, TICKER_COMMAND, title="t", log_path=tmp_path / "log", wait_for=recording
    )
    sock.close()
    server.wait_ready()
    ws_url = f"http://127.0.0.1:{address.port}/ws"
    try:
        async with aiohttp.ClientSession() as client:
            connecting = asyncio.create_task(
                client.ws_connect(ws_url, params={"width": "80", "height": "24"})
            )
            await asyncio.sleep(1.0)
            assert not connecting.done(), "no app before the recording begins"
            assert group_members(server.pid) == [server.pid]
            recording.write_text("{}\n")
            async with await connecting as ws:
                await ws.receive(timeout=30)
                assert len(group_members(server.pid)) >= 2
    finally:
        server.stop()
