"""The codec: every snapshot dataclass survives JSON exactly; bad data is refused by path."""

from __future__ import annotations

import json
import math

import pytest

from iofdtui.engine.model import Bus
from iofdtui.engine.snapshot import Latency, Snapshot
from iofdtui.recording.codec import CodecError, decode, encode
from iofdtui.recording.frames import Event, Frame, Header, Histograms
from tests.recording.samples import (
    EVENTS,
    MACHINE,
    generated,
    histograms,
    rich_snapshot,
    snapshot_dataclasses,
)


def through_json(obj: object) -> object:
    return json.loads(json.dumps(encode(obj), allow_nan=False))


@pytest.mark.parametrize("cls", snapshot_dataclasses(), ids=lambda c: c.__name__)
def test_every_snapshot_dataclass_round_trips(cls: type) -> None:
    value = generated(cls)
    assert decode(cls, through_json(value)) == value


def test_a_full_snapshot_round_trips_with_its_types() -> None:
    snap = rich_snapshot()
    back = decode(Snapshot, through_json(snap))
    assert back == snap
    assert back.doorbells[0].bus is Bus.MMIO
    assert isinstance(back.registrations, tuple)
    assert back.ring_rate == math.inf


def test_frame_parts_round_trip() -> None:
    header = Header(1, "0.1.0", "2026-11-30T12:00:00Z", MACHINE, "demo", "made here")
    assert decode(Header, through_json(header)) == header
    frame = Frame(1.25, rich_snapshot(), histograms(), EVENTS)
    assert decode(Frame, through_json(frame)) == frame
    # Tuple keys (Bus, width) go as [key, value] pairs and come back as tuples.
    assert (Bus.PIO, 1) in decode(Histograms, through_json(histograms())).baselines


def test_floats_survive_exactly() -> None:
    values = (0.1 + 0.2, 1e-310, 2.0**53 + 1.0, 123456.789e200, -0.0, math.inf, -math.inf)
    for value in values:
        back = decode(Latency, through_json(Latency(1, value, value, value)))
        assert back.p50_ns == value and math.copysign(1, back.p50_ns) == math.copysign(1, value)
    nan = decode(Latency, through_json(Latency(1, math.nan, None, None)))
    assert math.isnan(nan.p50_ns) and nan.p99_ns is None


GOOD = {"samples": 1, "p50_ns": 1.0, "p99_ns": 1.0, "mean_ns": 1.0}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({**GOOD, "samples": "3"}, "Latency.samples: expected an integer, found a string"),
        ({**GOOD, "samples": True}, "Latency.samples: expected an integer, found a boolean"),
        ({**GOOD, "mean_ns": None}, None),
        (
            {k: v for k, v in GOOD.items() if k != "mean_ns"},
            "Latency: missing field 'mean_ns' of Latency",
        ),
        ({**GOOD, "extra": 1}, "Latency: unknown field 'extra' in Latency"),
        (
            {**GOOD, "samples": 10**30},
            "Latency.samples: 31-digit integer does not fit in 64 bits",
        ),
        ({**GOOD, "p50_ns": "fast"}, "Latency.p50_ns: expected a number, found a string"),
        ([1, 2, 3], "Latency: expected an object (Latency), found an array"),
    ],
)
def test_wrong_data_is_refused_with_its_path(data: object, message: str | None) -> None:
    if message is None:  # the control: a good value decodes
        assert decode(Latency, data) == Latency(1, 1.0, 1.0, None)
        return
    with pytest.raises(CodecError) as caught:
        decode(Latency, data)
    assert str(caught.value) == message


def test_enum_and_validation_errors_name_the_field() -> None:
    data = through_json(Histograms(baselines={(Bus.PIO, 1): ((1.0, 2),)}))
    data["baselines"][0][0][0] = "isa"
    with pytest.raises(CodecError, match=r"baselines\[0\] key\[0\]: 'isa' is not a Bus"):
        decode(Histograms, data)
    spec = through_json(generated(Snapshot).registrations[0].spec)
    spec["width"] = 3
    from iofdtui.engine.model import RegistrationSpec

    # Construction succeeds (ranges are validate()'s), types are checked.
    assert decode(RegistrationSpec, spec).width == 3
    spec["bus"] = 7
    with pytest.raises(CodecError, match=r"RegistrationSpec.bus: 7 is not a Bus"):
        decode(RegistrationSpec, spec)


def test_sizes_are_bounded() -> None:
    from iofdtui.recording import codec

    with pytest.raises(CodecError, match="items, more than the"):
        decode(Histograms, {"registrations": [[1, [[1.0, 1]] * 3]] * (codec.MAX_ITEMS + 1)})
    with pytest.raises(CodecError, match="a string of"):
        decode(Event, {"at": 0.0, "text": "x" * (codec.MAX_STR + 1), "severity": "error"})


def test_the_writers_fast_histogram_encoding_is_the_codecs() -> None:
    from iofdtui.recording.writer import encode_histograms

    hists = histograms()
    assert encode_histograms(hists) == encode(hists)
    odd = Histograms(registrations={3: ((math.inf, 1), (0.1, 2))}, readers={4: {}, 5: {"none": ()}})
    assert encode_histograms(odd) == encode(odd)
    assert encode_histograms(Histograms()) == encode(Histograms())
