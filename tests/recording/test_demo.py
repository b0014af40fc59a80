"""The demo recording shipped with the package: it loads, and its counts are conserved."""

from __future__ import annotations

from iofdtui.recording.demo import demo_path
from iofdtui.recording.frames import SCHEMA
from iofdtui.recording.reader import read_recording
from tests.recording.test_record_kvm import assert_conserved


def test_the_demo_loads_and_obeys_conservation_at_every_frame() -> None:
    path = demo_path()
    assert path.stat().st_size < 1_500_000
    rec = read_recording(path)
    assert rec.header.schema == SCHEMA and rec.header.source == "demo"
    assert rec.header.note and "kvm_pvm" in rec.header.note
    assert rec.notes == []
    assert len(rec.frames) >= 30 and rec.frames[-1].at >= 19.0
    assert assert_conserved(rec.frames) >= 5
    rings = [f.snapshot.total_rings for f in rec.frames]
    assert rings == sorted(rings) and rings[0] < rings[-1]
    # Every frame has the histograms the detail pane needs for each registration.
    for frame in rec.frames:
        for reg in frame.snapshot.registrations:
            assert frame.histograms.readers[reg.id]["epoll"], (frame.at, reg.id)
            assert frame.histograms.baselines[(reg.spec.bus, reg.baseline_width)]
