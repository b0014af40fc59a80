"""Host-side exit latency per exit reason: the arithmetic on records built here, and
the plain "n/a" where kvm_exit/kvm_entry do not fire (kvm_pvm, this machine)."""

from __future__ import annotations

import os
import struct
import time
from pathlib import Path

import pytest

from iofdtui.engine import host
from iofdtui.engine.attach.exit_latency import EXIT_EVENTS, latencies, reason_names, unavailable
from iofdtui.engine.attach.tally import NativeTally
from iofdtui.engine.attach.tracefs import parse_format, parse_header_page
from iofdtui.engine.attach.tracer import EXIT_LATENCY_OFF, Tracer, events_for
from iofdtui.engine.demo import demo_plan, demo_registrations
from tests.attach.test_decode import HEADER_PAGE, _page, _record

PRINT_FMT = (
    'print fmt: "vcpu %u reason %s%s%s rip 0x%lx", REC->vcpu_id, (REC->isa == 1) ? '
    '__print_symbolic(REC->exit_reason & 0xffff, { 12, "HLT" }, { 30, "IO_INSTRUCTION" }, '
    '{ 33, "INVALID_STATE" }, { 48, "EPT_VIOLATION" }) : __print_symbolic(REC->exit_reason, '
    '{ 0x07b, "io" }, { 0x040 + 14, "PF excp" }, { -1, "invalid_guest_state" }), '
    '(REC->isa == 1 && REC->exit_reason & ~0xffff) ? " " : "", REC->guest_rip\n'
)
EXIT_FORMAT = (
    """name: kvm_exit
ID: 103
format:
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;
\tfield:unsigned int exit_reason;\toffset:8;\tsize:4;\tsigned:0;
\tfield:unsigned long guest_rip;\toffset:16;\tsize:8;\tsigned:0;
\tfield:u32 isa;\toffset:24;\tsize:4;\tsigned:0;

"""
    + PRINT_FMT
)
ENTRY_FORMAT = """name: kvm_entry
ID: 115
format:
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;
\tfield:unsigned int vcpu_id;\toffset:8;\tsize:4;\tsigned:0;
\tfield:unsigned long rip;\toffset:16;\tsize:8;\tsigned:0;
"""


def _exit(tid: int, reason: int, isa: int = 1) -> bytes:
    return struct.pack("<HBBiIIQI", 103, 0, 0, tid, reason, 0, 0x1000, isa)


def _entry(tid: int) -> bytes:
    return struct.pack("<HBBiIIQ", 115, 0, 0, tid, 0, 0, 0x1000)


def test_format_names_both_tables() -> None:
    names = reason_names(PRINT_FMT)
    assert names[1] == {12: "HLT", 30: "IO_INSTRUCTION", 33: "INVALID_STATE", 48: "EPT_VIOLATION"}
    assert names[2] == {0x7B: "io", 0x4E: "PF excp", 0xFFFF_FFFF: "invalid_guest_state"}


def test_exit_to_entry_per_reason_per_thread_in_time_order() -> None:
    formats = {
        "kvm_exit": parse_format("kvm", "kvm_exit", EXIT_FORMAT),
        "kvm_entry": parse_format("kvm", "kvm_entry", ENTRY_FORMAT),
    }
    tally = NativeTally(formats, parse_header_page(HEADER_PAGE, 4096))
    # Thread 7 on CPU 0 (t = 100, 400, 600, 2000), its entries on CPU 1 (350, 500, 1600):
    # the tally orders them by time before pairing. Thread 8: an entry with no exit
    # before it (tracing began mid-exit), then a failed VM entry's exit, 5 ns out.
    cpu0 = _record(_exit(7, 30), 100) + _record(_exit(7, 30), 300) + _record(_exit(7, 48), 200)
    cpu0 += _record(_exit(7, 12), 1400)
    cpu1 = _record(_entry(7), 350) + _record(_entry(7), 150) + _record(_entry(7), 1100)
    cpu1 += _record(_entry(8), 100) + _record(_exit(8, 0x8000_0021), 100) + _record(_entry(8), 5)
    tally.add_pages([_page(0, cpu0), _page(0, cpu1)])
    tally.classify(0, final=True)
    totals = tally.totals()
    assert (totals.hw_exits, totals.unpaired_entries) == (5, 1)
    assert tally.entries() == []  # exits and entries decide no doorbell write
    rows = latencies(tally.exit_latency(), reason_names(PRINT_FMT), None)
    got = {r.name: (r.isa, r.count, r.mean_ns, r.min_ns, r.max_ns) for r in rows.reasons}
    assert got == {
        "IO_INSTRUCTION": ("VMX", 2, 175.0, 100, 250),
        "EPT_VIOLATION": ("VMX", 1, 1000.0, 1000, 1000),
        "INVALID_STATE FAILED_VMENTRY": ("VMX", 1, 5.0, 5, 5),
        "HLT": ("VMX", 0, 0.0, 0, 0),  # still out of the guest at the end
    }
    assert rows.reasons[0].name == "IO_INSTRUCTION"  # most frequent first


def test_unavailable_says_why() -> None:
    assert unavailable(False, "kvm_intel", 0) == (
        "n/a: this kernel has no kvm:kvm_exit/kvm_entry tracepoints"
    )
    assert unavailable(True, "kvm_pvm", 0) == (
        "n/a on kvm_pvm: it emulates the guest, so kvm_exit/kvm_entry never fire"
    )
    assert unavailable(True, "kvm_intel", 0) == "no kvm_exit traced yet"
    assert unavailable(True, "kvm_intel", 3) is None


@pytest.mark.kvm
def test_live_lab_says_na_on_kvm_pvm_or_times_its_io_exits(lab: object, tracefs: Path) -> None:
    for spec in demo_registrations():
        lab.add_registration(spec)
    lab.set_plan(demo_plan())
    with Tracer(os.getpid(), root=tracefs, exit_latency=True) as tracer:
        lab.start()
        time.sleep(0.3)
        assert lab.pause()
        tracer.poll(final=True)
        snap = tracer.snapshot()
    assert sum(d.writes for d in snap.doorbells) > 100
    if "kvm_pvm" in host.kvm_module():
        assert snap.exit_latency.reasons == ()
        assert snap.exit_latency.unavailable == (
            "n/a on kvm_pvm: it emulates the guest, so kvm_exit/kvm_entry never fire"
        )
    else:  # VMX/SVM: the userspace exits were hardware exits first
        assert snap.exit_latency.unavailable is None
        assert sum(r.count for r in snap.exit_latency.reasons) > 0


@pytest.mark.kvm
def test_exit_latency_is_asked_for_never_on_by_default(lab: object, tracefs: Path) -> None:
    """kvm_exit/kvm_entry fire at every exit on VMX/SVM and share the doorbells'
    buffer: a default attach does not enable them, and says how to."""
    assert not any(name in EXIT_EVENTS for _s, name, _f in events_for(tracefs))
    wanted = {name for _s, name, _f in events_for(tracefs, exit_latency=True)}
    have = {e for e in EXIT_EVENTS if (tracefs / "events" / "kvm" / e).is_dir()}
    assert have <= wanted
    lab.start()
    with Tracer(os.getpid(), root=tracefs) as tracer:
        tracer.poll(final=True)
        assert tracer.snapshot().exit_latency.unavailable == EXIT_LATENCY_OFF
