"""`iofdtui bench --roundtrip`: its flags, one-line refusals, and a real run's JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from iofdtui import cli
from iofdtui.engine.experiments import roundtrip as experiment


class Calls:
    def __init__(self) -> None:
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((args, kwargs))
        kwargs["progress"]("ioeventfd", "epoll")

        class Report:
            def as_json(self) -> dict[str, object]:
                return {"results": []}

        return Report()


@pytest.mark.parametrize(
    ("flags", "readers", "work", "buses"),
    [
        ((), ("epoll",), 0.0, ("pio", "mmio")),
        (("--reader", "poll", "--bus", "mmio"), ("poll",), 0.0, ("mmio",)),
        (("--reader", "all", "--work", "12.5"), ("epoll", "poll"), 12.5, ("pio", "mmio")),
    ],
)
def test_roundtrip_flags(
    monkeypatch: pytest.MonkeyPatch,
    flags: tuple[str, ...],
    readers: tuple[str, ...],
    work: float,
    buses: tuple[str, ...],
) -> None:
    run = Calls()
    monkeypatch.setattr(experiment, "run_roundtrip", run)
    assert cli.main(["bench", "--roundtrip", "--json", "--seconds", "0.5", *flags]) == 0
    [(args, kwargs)] = run.calls
    assert args == (0.5, readers) and kwargs["work_us"] == work and kwargs["buses"] == buses


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (("bench", "--work", "5"), "only applies to --roundtrip"),
        (("bench", "--roundtrip", "--reader", "none"), "--reader none"),
        (("bench", "--roundtrip", "--pin"), "--pin"),
        (("bench", "--roundtrip", "--wake"), "pick one"),
        (("bench", "--roundtrip", "--work", "-1"), "--work"),
        (("bench", "--roundtrip", "--work", "20000"), "--work"),
    ],
)
def test_a_bad_roundtrip_flag_is_one_line_and_exit_2(argv: tuple[str, ...], names: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "iofdtui", *argv],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and names in lines[0] and lines[0].endswith("--help"), done.stderr


FLAGS = ("--seconds", "0.1", "--bus", "mmio")


@pytest.mark.kvm
def test_a_real_roundtrip_json_accounts_for_every_kick() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "iofdtui", "bench", "--roundtrip", "--json", *FLAGS],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "80"},
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    paths = [(r["path"], r["bus"], r["route"]) for r in doc["results"]]
    assert paths == [
        ("ioeventfd", "mmio", "msi"),
        ("ioeventfd", "mmio", "pin"),
        ("user", "mmio", "msi"),
        ("user", "mmio", "pin"),
        ("self-ipi", "lapic", "self"),
    ]
    pin = doc["results"][1]["counts"]
    assert pin["resamples"] == pin["handler_runs"] == pin["kicks"]
    for r in doc["results"]:
        c = r["counts"]
        assert r["exact"] and c["kicks"] == c["handler_runs"] > 0
        assert r["round_trip_ns"]["p50"] > 0
    ioeventfd = doc["results"][0]
    assert ioeventfd["counts"]["signals"] == ioeventfd["counts"]["completions"]
    assert set(ioeventfd["stages_ns"]) == {"awake", "written", "handler"}
