"""Interrupts per vector and GSI, traced against the round trip, where the truth is known.

The round-trip VM (engine/roundtrip.py) runs in this process: each kick is
answered by one completion interrupt, on vector 0x40, and the guest's handler
EOIs it; at its parked end every count balances.  Traced from before the run
to after it, per path: MSIs sent, vectors accepted by the local APIC, EOIs,
and GSI raises equal the round trip's own counts.  The synthetic part feeds
built records to the C tally.
"""

from __future__ import annotations

import json
import os
import struct
import time
from pathlib import Path

import pytest

from iofdtui.engine.attach.interrupts import GsiCounts, IrqCount, VectorCounts, interrupts
from iofdtui.engine.attach.tally import NativeTally
from iofdtui.engine.attach.tracefs import parse_format, parse_header_page
from iofdtui.engine.attach.tracer import HOLD_NS, Tracer
from iofdtui.engine.roundtrip_figures import VECTOR
from tests.attach.conftest import our_instances
from tests.attach.test_decode import HEADER_PAGE, _page, _record

PIN_GSI = 10  # engine/native/roundtrip.c RT_PIN_GSI: the pin route's IOAPIC pin


def _traced_run(tracefs: Path, path: str, route: str) -> tuple[object, object]:
    from iofdtui.engine.roundtrip import RoundTripVM

    with RoundTripVM() as vm, Tracer(os.getpid(), root=tracefs, buffer_kb=16384) as tracer:
        result = vm.run(path, 0.3, route=route)
        time.sleep(HOLD_NS / 1e9)
        tracer.poll(final=True)
        snap = tracer.snapshot()
    assert our_instances(tracefs) == []
    assert result.exact, result.counts
    assert snap.cost.lost == 0
    return result.counts, snap.interrupts


@pytest.mark.kvm
@pytest.mark.parametrize(("path", "route"), [("user", "msi"), ("ioeventfd", "msi")])
def test_msi_paths_count_every_completion(tracefs: Path, path: str, route: str) -> None:
    counts, irqs = _traced_run(tracefs, path, route)
    assert counts.kicks > 100
    assert irqs.vectors == (
        VectorCounts(VECTOR, counts.completions, counts.completions, counts.handler_runs),
    )
    assert irqs.gsis == ()
    assert set(irqs.events) == {"kvm_msi_set_irq", "kvm_set_irq", "kvm_apic_accept_irq", "kvm_eoi"}


@pytest.mark.kvm
def test_pin_route_lowers_its_gsi_once_per_eoi(tracefs: Path) -> None:
    counts, irqs = _traced_run(tracefs, "ioeventfd", "pin")
    ((gsi, raised, lowered),) = [(g.gsi, g.raised, g.lowered) for g in irqs.gsis]
    # The resampler lowers the line at each EOI, in the vCPU thread; the irqfd's raise
    # runs in a kworker on this kernel (not a traced thread), elsewhere in ours.
    assert (gsi, lowered) == (PIN_GSI, counts.resamples)
    assert raised in (0, counts.completions)
    assert [(v.vector, v.msi, v.eoi) for v in irqs.vectors] == [(VECTOR, 0, counts.handler_runs)]


@pytest.mark.kvm
def test_self_ipi_is_accepted_and_eoid_but_sends_no_msi(tracefs: Path) -> None:
    counts, irqs = _traced_run(tracefs, "self-ipi", "msi")
    assert irqs.vectors == (VectorCounts(VECTOR, 0, counts.kicks, counts.handler_runs),)


# ---------------------------------------------------------------- synthetic

MSI_FORMAT = """name: kvm_msi_set_irq
ID: 105
format:
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;
\tfield:__u64 address;\toffset:8;\tsize:8;\tsigned:0;
\tfield:__u64 data;\toffset:16;\tsize:8;\tsigned:0;
"""
GSI_FORMAT = """name: kvm_set_irq
ID: 40
format:
\tfield:unsigned int gsi;\toffset:8;\tsize:4;\tsigned:0;
\tfield:int level;\toffset:12;\tsize:4;\tsigned:1;
\tfield:int irq_source_id;\toffset:16;\tsize:4;\tsigned:1;
"""
ACCEPT_FORMAT = """name: kvm_apic_accept_irq
ID: 95
format:
\tfield:__u32 apicid;\toffset:8;\tsize:4;\tsigned:0;
\tfield:__u16 dm;\toffset:12;\tsize:2;\tsigned:0;
\tfield:__u16 tm;\toffset:14;\tsize:2;\tsigned:0;
\tfield:__u8 vec;\toffset:16;\tsize:1;\tsigned:0;
"""
EOI_FORMAT = """name: kvm_eoi
ID: 94
format:
\tfield:__u32 apicid;\toffset:8;\tsize:4;\tsigned:0;
\tfield:int vector;\toffset:12;\tsize:4;\tsigned:1;
"""


def _eoi(vector: int) -> bytes:
    return struct.pack("<HBBiIi", 94, 0, 0, 7, 0, vector)


def _msi(data: int) -> bytes:
    return struct.pack("<HBBiQQ", 105, 0, 0, 7, 0xFEE0_0000, data)


def _gsi(gsi: int, level: int) -> bytes:
    return struct.pack("<HBBiIii", 40, 0, 0, 7, gsi, level, 0)


def _accept(vec: int) -> bytes:
    return struct.pack("<HBBiIHHBxxx", 95, 0, 0, 7, 0, 0, 0, vec)


def test_tally_counts_per_vector_and_per_gsi() -> None:
    formats = {
        "kvm_msi_set_irq": parse_format("kvm", "kvm_msi_set_irq", MSI_FORMAT),
        "kvm_set_irq": parse_format("kvm", "kvm_set_irq", GSI_FORMAT),
        "kvm_apic_accept_irq": parse_format("kvm", "kvm_apic_accept_irq", ACCEPT_FORMAT),
        "kvm_eoi": parse_format("kvm", "kvm_eoi", EOI_FORMAT),
    }
    tally = NativeTally(formats, parse_header_page(HEADER_PAGE, 4096))
    body = b"".join(
        _record(p, 1)
        for p in (
            _msi(0x4041),  # vector = the data's low byte (delivery mode above it)
            _msi(0x41),
            _accept(0x41),
            _eoi(0x41),
            _eoi(-1),  # no vector in service: kvm_pvm traces one beside each EOI
            _gsi(10, 1),
            _gsi(10, 0),  # lowered
            _gsi(5000, 1),  # past the table: counted apart
            _gsi(4095, 1),
        )
    )
    tally.add_pages([_page(0, body)])
    assert tally.irqs() == [
        IrqCount("msi", 0x41, 2),
        IrqCount("accepted", 0x41, 1),
        IrqCount("eoi", 0x41, 1),
        IrqCount("gsi", 10, 1),
        IrqCount("gsi", 4095, 1),
        IrqCount("gsi_low", 10, 1),
    ]
    assert tally.totals().gsi_out_of_range == 1
    assert tally.entries() == []  # none of these is an access
    folded = interrupts(tally.irqs(), formats)
    assert folded.vectors == (VectorCounts(0x41, 2, 1, 1),)
    assert folded.gsis == (GsiCounts(10, 1, 1), GsiCounts(4095, 1, 0))


def test_json_carries_interrupts_and_exit_latency() -> None:
    from iofdtui.capture.attach import snapshot_json
    from tests.attach.fake_tracer import FakeTracer

    doc = json.loads(json.dumps(snapshot_json(FakeTracer().snapshot())))
    assert doc["interrupts"]["vectors"][0] == {
        "vector": 64,
        "msi": 1000,
        "accepted": 1000,
        "eoi": 999,
    }
    assert doc["interrupts"]["gsis"] == [{"gsi": 10, "raised": 0, "lowered": 200}]
    first = doc["exit_latency"]["reasons"][0]
    assert (first["name"], first["count"], first["mean_ns"]) == ("IO_INSTRUCTION", 40_000, 5210.0)
    na = FakeTracer(exit_na="n/a on kvm_pvm").snapshot()
    assert json.loads(json.dumps(snapshot_json(na)))["exit_latency"] == {
        "reasons": [],
        "unavailable": "n/a on kvm_pvm",
    }
