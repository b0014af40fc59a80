"""What `main()` does with the engine: errors as one line, flags mapped to the engine's calls,
reports printed whole. The engine is replaced by fakes here (no KVM needed)."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from iofdtui import cli
from iofdtui.engine.errors import KvmUnavailable
from iofdtui.engine.experiments import bench, scale, vcpus, wake
from iofdtui.engine.model import Bus
from iofdtui.reports import bench as bench_report
from iofdtui.reports.printing import TEXT_WIDTH

# --------------------------------------------------------------- fake engine


@dataclass
class FakeReport:
    """Enough of a report for `_measure_and_print`."""

    doc: dict[str, Any] = field(default_factory=lambda: {"results": [1, 2], "machine": {}})

    def as_json(self) -> dict[str, Any]:
        return self.doc


@dataclass
class Recorder:
    """Stands in for an engine entry point: records its arguments, returns a report or raises."""

    raises: BaseException | None = None
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)

    def __call__(self, *args: Any, **kwargs: Any) -> FakeReport:
        self.calls.append((args, kwargs))
        progress = kwargs.get("progress")
        if progress is not None:  # the CLI's progress callback must accept what the engine passes
            phase = SimpleNamespace(
                bus=Bus.PIO, width=0, path="ioeventfd", drain=None, consumer="poll"
            )
            if self.name == "run_bench":
                progress(phase, "none")
            elif self.name == "run_vcpu_bench":
                progress(Bus.MMIO, "shared")
            elif self.name == "run_wake":
                progress(phase)
            else:
                progress("10 decoys")
        if self.raises is not None:
            raise self.raises
        return FakeReport()

    name: str = ""


MODES = {
    ("bench",): (bench, "run_bench"),
    ("bench", "--wake"): (wake, "run_wake"),
    ("bench", "--vcpus", "2"): (vcpus, "run_vcpu_bench"),
    ("bench", "--scale"): (scale, "run_scale"),
}


def fake(monkeypatch: pytest.MonkeyPatch, argv: tuple[str, ...], **kw: Any) -> Recorder:
    module, name = MODES[argv]
    recorder = Recorder(name=name, **kw)
    monkeypatch.setattr(module, name, recorder)
    return recorder


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize("argv", list(MODES), ids=" ".join)
@pytest.mark.parametrize(
    ("error", "line"),
    [
        (
            OSError(errno.EMFILE, "Too many open files"),
            "iofdtui: Too many open files; raise the open-file limit (ulimit -n) and run again",
        ),
        (
            OSError(errno.EIO, "Input/output error"),
            "iofdtui: Input/output error; check dmesg for KVM messages, then run again",
        ),
        (OSError("no errno at all"), "iofdtui: no errno at all; check dmesg"),
        (
            KvmUnavailable(errno.ENOENT, "/dev/kvm does not exist: load KVM"),
            "iofdtui: /dev/kvm does not exist: load KVM",
        ),
    ],
    ids=["EMFILE", "EIO", "bare", "engine"],
)
def test_any_oserror_from_the_engine_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...],
    error: OSError,
    line: str,
) -> None:
    fake(monkeypatch, argv, raises=error)
    assert cli.main([*argv, "--seconds", "0.05"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    [only] = err.splitlines()
    assert only.startswith(line), only


def test_the_app_turns_an_oserror_into_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import iofdtui.ui.app as app_module

    def broken(**_options: object) -> object:
        raise OSError(errno.ENOMEM, "Cannot allocate memory")

    monkeypatch.setattr(cli.running, "has_terminal", lambda: True)
    monkeypatch.setattr(app_module, "make_app", broken)
    assert cli.main([]) == 2
    assert capsys.readouterr().err == (
        "iofdtui: Cannot allocate memory; free some memory and run again\n"
    )


def test_without_a_terminal_the_app_says_so_before_any_vm(tmp_path: Any) -> None:
    """`iofdtui < /dev/null > out.txt`: one line, exit 2, nothing drawn, at once."""
    out = tmp_path / "out.txt"
    started = time.monotonic()
    with open(out, "w") as stdout:
        done = subprocess.run(
            [sys.executable, "-m", "iofdtui"],
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2
    assert done.stderr == cli.NEED_TTY + "\n"
    assert out.read_text() == ""
    assert time.monotonic() - started < 30  # it did not run until the timeout


@pytest.mark.parametrize("tty", [(False, True), (True, False)], ids=["stdin", "stdout"])
def test_either_end_not_a_terminal_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tty: tuple[bool, bool]
) -> None:
    import iofdtui.ui.app as app_module

    monkeypatch.setattr(sys.stdin, "isatty", lambda: tty[0], raising=False)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: tty[1], raising=False)
    monkeypatch.setattr(app_module, "make_app", pytest.fail)  # never reached
    assert cli.main(["--vcpus", "2"]) == 2
    assert capsys.readouterr().err == cli.NEED_TTY + "\n"


# ------------------------------------------------------ flags → engine calls


def test_the_reader_flags_name_the_engines_readers() -> None:
    """The CLI keeps its own copy (the engine is not imported to build --help): the same."""
    from iofdtui.engine.snapshot import READERS

    assert cli.READERS == READERS
    assert cli.WAKE_READERS == wake.CONSUMERS


@pytest.mark.parametrize(
    ("flags", "readers"),
    [
        ((), ("epoll",)),
        (("--reader", "none"), ("none",)),
        (("--consumer", "poll"), ("poll",)),
        (("--reader", "epoll"), ("epoll",)),
        (("--reader", "all"), ("none", "poll", "epoll")),
        (("--consumer", "all"), ("none", "poll", "epoll")),
    ],
)
def test_bench_reader_flags(
    monkeypatch: pytest.MonkeyPatch, flags: tuple[str, ...], readers: tuple[str, ...]
) -> None:
    run = fake(monkeypatch, ("bench",))
    assert cli.main(["bench", "--json", "--seconds", "0.5", *flags]) == 0
    [(args, kwargs)] = run.calls
    assert args == (0.5,)
    assert kwargs["readers"] == readers and kwargs["pin"] is False


def test_bench_pin(monkeypatch: pytest.MonkeyPatch) -> None:
    run = fake(monkeypatch, ("bench",))
    assert cli.main(["bench", "--json", "--pin"]) == 0
    assert run.calls[0][1]["pin"] is True


@pytest.mark.parametrize(
    ("flags", "consumers", "period"),
    [
        ((), ("epoll", "poll"), 100.0),
        (("--reader", "all"), ("none", "poll", "epoll"), 100.0),
        (("--reader", "none"), ("none",), 100.0),
        (("--consumer", "poll", "--period", "250"), ("poll",), 250.0),
        (("--reader", "epoll", "--pin"), ("epoll",), 100.0),
    ],
)
def test_wake_flags(
    monkeypatch: pytest.MonkeyPatch,
    flags: tuple[str, ...],
    consumers: tuple[str, ...],
    period: float,
) -> None:
    run = fake(monkeypatch, ("bench", "--wake"))
    assert cli.main(["bench", "--wake", "--json", *flags]) == 0
    [(args, kwargs)] = run.calls
    assert args == (1.0, period, consumers)
    assert kwargs["pin"] is ("--pin" in flags)


@pytest.mark.parametrize(
    ("flags", "consumer"),
    [((), "epoll"), (("--reader", "none"), "none"), (("--consumer", "poll", "--pin"), "poll")],
)
def test_vcpus_flags(
    monkeypatch: pytest.MonkeyPatch, flags: tuple[str, ...], consumer: str
) -> None:
    run = fake(monkeypatch, ("bench", "--vcpus", "2"))
    assert cli.main(["bench", "--vcpus", "2", "--json", *flags]) == 0
    [(_args, kwargs)] = run.calls
    assert kwargs["consumer"] == consumer and kwargs["pin"] is ("--pin" in flags)


@pytest.mark.parametrize(
    ("flags", "sizes"),
    [((), [1, 10, 100, 1_000, 10_000, 100_000]), (("--max-decoys", "150"), [1, 10, 100])],
)
def test_scale_flags(
    monkeypatch: pytest.MonkeyPatch, flags: tuple[str, ...], sizes: list[int]
) -> None:
    run = fake(monkeypatch, ("bench", "--scale"))
    assert cli.main(["bench", "--scale", "--json", "--bus", "mmio", *flags]) == 0
    [(_args, kwargs)] = run.calls
    assert kwargs["sizes"] == sizes and kwargs["bus"] is Bus.MMIO


@pytest.mark.parametrize("flags", [(), ("--pin",), ("--vcpus", "2", "--pin")])
def test_app_flags(monkeypatch: pytest.MonkeyPatch, flags: tuple[str, ...]) -> None:
    import iofdtui.ui.app as app_module

    built: list[dict[str, object]] = []

    class App:
        startup_error = None
        return_code = 0

        def run(self) -> None:
            return None

    def make_app(**options: object) -> App:
        built.append(options)
        return App()

    monkeypatch.setattr(cli.running, "has_terminal", lambda: True)
    monkeypatch.setattr(app_module, "make_app", make_app)
    assert cli.main(list(flags)) == 0
    [options] = built
    assert options["vcpus"] == (2 if "2" in flags else 1)
    assert options["pin"] is ("--pin" in flags)


# ------------------------------------------------------------------ output

BIG = 618_123_456_789


def wide_report() -> Group:
    table = Table(title="wide", box=box.SIMPLE_HEAD)
    for i in range(12):
        table.add_column(f"column {i}", justify="right")
    table.add_row(*(f"{BIG + i:,}" for i in range(12)))
    return Group(Text("a note " * 40), table)


def test_a_piped_report_prints_every_number_whole(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake(monkeypatch, ("bench",))
    monkeypatch.setattr(bench_report, "render", lambda report: wide_report())
    monkeypatch.setenv("COLUMNS", "80")
    assert cli.main(["bench"]) == 0
    out = capsys.readouterr().out
    assert "…" not in out
    for i in range(12):
        assert f"{BIG + i:,}" in out
    note_lines = [line for line in out.splitlines() if "a note" in line]
    assert len(note_lines) > 1 and all(len(line) <= TEXT_WIDTH for line in note_lines)


def test_json_is_the_document_alone(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake(monkeypatch, ("bench",))
    assert cli.main(["bench", "--json"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out) == FakeReport().doc
    assert out == json.dumps(FakeReport().doc, indent=2) + "\n"


@pytest.mark.kvm
def test_a_real_piped_bench_is_not_cut_to_80_columns() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "iofdtui", "bench", "--seconds", "0.05"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "80"},
    )
    assert done.returncode == 0, done.stderr
    assert "…" not in done.stdout
    assert "Traceback" not in done.stderr


@pytest.mark.kvm
def test_scale_at_a_low_open_file_limit_prints_what_it_measured() -> None:
    """`ulimit -n 300; iofdtui bench --scale`: the table so far, where and why it stopped."""
    import resource

    def ulimit_300() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (300, 300))

    done = subprocess.run(
        [sys.executable, "-m", "iofdtui", "bench", "--scale", "--seconds", "0.05"],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=ulimit_300,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    out = done.stdout
    decoy_rows = [line.split()[0] for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert decoy_rows[:3] == ["1", "10", "100"], out
    if "open-file limit" in out:  # a root that may raise the hard limit measures everything
        assert "stopped before 1,000 decoys: the open-file limit is 300" in out
        assert "stopped before 512 trigger values" in out
        assert "64" in decoy_rows, "the trigger values below the limit are measured"


def test_a_reader_that_leaves_early_is_no_error() -> None:
    """`iofdtui bench --json | head -1`: no traceback, no 'Exception ignored', status 1."""
    code = (
        "import sys\n"
        "from iofdtui import cli\n"
        "from iofdtui.engine.experiments import bench\n"
        "class R:\n"
        "    def as_json(self): return {'rows': list(range(100_000))}\n"
        "bench.run_bench = lambda *a, **k: R()\n"
        "sys.exit(cli.main(['bench', '--json']))\n"
    )
    done = subprocess.run(
        f'{sys.executable} -c "{code}" | head -1',
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout == "{\n"
    assert done.stderr == ""
