"""The reports as the CLI prints them to a pipe, from the fixed reports in samples.py.

The files under golden/ were printed by the engine's own render() functions,
before they moved to iofdtui.reports: each report must still print them byte
for byte. To change a report on purpose, rewrite them with
`python -m tests.reports.test_report_tables` and read the diff.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.console import RenderableType

from iofdtui.reports import bench, scale, vcpus, wake
from iofdtui.reports.printing import TEXT_WIDTH, print_report
from tests.reports import samples

GOLDEN = Path(__file__).with_name("golden")

CASES: dict[str, tuple[Callable[[Any], RenderableType], Callable[[], object]]] = {
    "bench": (bench.render, samples.bench),
    "bench-coalesced": (bench.render, samples.bench_coalesced),
    "scale": (scale.render, samples.scale),
    "wake": (wake.render, samples.wake),
    "wake-no-clock": (
        wake.render,
        lambda: samples.wake(note="this kernel has no KVM_VCPU_TSC_OFFSET", pinning=None),
    ),
    "vcpus": (vcpus.render, samples.vcpus),
}


def printed(name: str) -> str:
    """What the CLI prints to a pipe for the sample `name`."""
    render, sample = CASES[name]
    out = io.StringIO()
    print_report(render(sample()), file=out)
    return out.getvalue()


@pytest.fixture(autouse=True)
def plain_output(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pipe gets no colour, whatever the environment asks of Rich."""
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("name", CASES)
def test_a_report_prints_as_the_engine_printed_it(name: str) -> None:
    assert printed(name) == (GOLDEN / f"{name}.txt").read_text()


def test_figures_past_ten_million_print_whole() -> None:
    assert "12,345,678" in printed("bench")
    assert "12,000,000" in printed("scale")
    assert "23,000,000" in printed("vcpus")
    assert "…" not in printed("bench") + printed("vcpus") + printed("bench-coalesced")


def test_what_was_not_measured_is_a_dash() -> None:
    [row] = [line for line in printed("scale").splitlines() if line.strip().startswith("1,000")]
    assert row.split() == ["1,000", "—", "—", "—", "0", "✗"]
    [mmio] = [line for line in printed("wake").splitlines() if "mmio   none" in line]
    assert mmio.split() == ["mmio", "none", "0", "—", "—", "—", "—", "942", "—", "882", "✓"]


def test_a_run_cut_short_says_where_and_why() -> None:
    out = printed("scale")
    assert "stopped at 8 trigger values after 7 points: [Errno 24] Too many open files" in out
    assert "raised RLIMIT_NOFILE from 1024 to 100256" in out


def test_the_machine_header_names_the_run() -> None:
    # Two lines wrapped at the text width: the wrap keeps its space at the line's end.
    first = "".join(printed("vcpus").splitlines()[:2])
    assert first.startswith("kernel 6.1.0-test   /dev/kvm: kvm_pvm   TSC 2,445,406 kHz")
    assert "host CPUs: 2   reader: epoll   pinned: vCPU threads on one CPU" in first
    assert "reader: none, epoll   pinned: vCPU thread on CPU 0" in "".join(
        printed("bench").splitlines()[:2]
    )


def test_notes_wrap_at_the_text_width_off_a_terminal() -> None:
    out = printed("wake")
    notes = out[out.index("pinned:") :].splitlines()
    assert len(notes) > 3 and all(len(line) <= TEXT_WIDTH for line in notes)


if __name__ == "__main__":
    for case in CASES:
        (GOLDEN / f"{case}.txt").write_text(printed(case))
        print(f"wrote {GOLDEN / case}.txt")
