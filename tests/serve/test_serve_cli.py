"""`iofdtui serve`'s command line: every way it cannot start is one line and exit 2,
before any server or VM."""

from __future__ import annotations

import socket
import sys

import pytest

from iofdtui import cli


def never(**_options: object) -> object:
    raise AssertionError("no app may be built")


@pytest.mark.parametrize(
    ("flags", "line"),
    [
        (
            ["--port", "70000"],
            "iofdtui serve: argument --port: must be a port from 0 to 65535, got '70000'; "
            "see iofdtui serve --help",
        ),
        (
            ["--port", "-1"],
            "iofdtui serve: argument --port: must be a port from 0 to 65535, got '-1'; "
            "see iofdtui serve --help",
        ),
    ],
    ids=["too-high", "negative"],
)
def test_a_bad_port_is_one_line(
    capsys: pytest.CaptureFixture[str], flags: list[str], line: str
) -> None:
    with pytest.raises(SystemExit) as ended:
        cli.main(["serve", *flags])
    assert ended.value.code == 2
    assert capsys.readouterr().err == line + "\n"


def test_a_taken_port_is_one_line_before_any_vm(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import iofdtui.ui.app as app_module

    monkeypatch.setattr(cli.running, "has_terminal", lambda: True)
    monkeypatch.setattr(app_module, "make_app", never)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        assert cli.main(["serve", "--port", str(port)]) == 2
    assert capsys.readouterr().err == (
        f"iofdtui: port {port} is taken on 127.0.0.1; pass --port N for another "
        "(0: any free port)\n"
    )


def test_without_a_terminal_nothing_is_served(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import iofdtui.serve.presenter as presenter

    monkeypatch.setattr(sys.stdin, "isatty", lambda: False, raising=False)
    monkeypatch.setattr(presenter, "listen", never)
    assert cli.main(["serve", "--port", "0"]) == 2
    assert capsys.readouterr().err == cli.NEED_TTY + "\n"


@pytest.mark.kvm
def test_a_recording_that_cannot_be_written_is_one_line_before_any_server(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import iofdtui.serve.presenter as presenter

    monkeypatch.setattr(cli.running, "has_terminal", lambda: True)
    monkeypatch.setattr(presenter, "listen", never)
    assert cli.main(["serve", "--record", "/proc/no-such-dir/lab.jsonl"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("iofdtui: ") and "/proc/no-such-dir/lab.jsonl" in line, line
