"""Raw ring-buffer pages and the classification rule, on pages built here (no KVM)."""

from __future__ import annotations

import struct

from iofdtui.engine.attach.classify import Tally
from iofdtui.engine.attach.ringbuffer import EXIT, READ, WRITE, PageDecoder
from iofdtui.engine.attach.tracefs import PageLayout, parse_format, parse_header_page
from iofdtui.engine.model import Bus

PIO_FORMAT = """name: kvm_pio
ID: 110
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:unsigned int rw;\toffset:8;\tsize:4;\tsigned:0;
\tfield:unsigned int port;\toffset:12;\tsize:4;\tsigned:0;
\tfield:unsigned int size;\toffset:16;\tsize:4;\tsigned:0;
\tfield:unsigned int count;\toffset:20;\tsize:4;\tsigned:0;
\tfield:unsigned int val;\toffset:24;\tsize:4;\tsigned:0;
"""
EXIT_FORMAT = """name: kvm_userspace_exit
ID: 42
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;
\tfield:__u32 reason;\toffset:8;\tsize:4;\tsigned:0;
\tfield:int errno;\toffset:12;\tsize:4;\tsigned:1;
"""
HEADER_PAGE = """\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;
\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;
\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;
\tfield: char data;\toffset:16;\tsize:4080;\tsigned:0;
"""


def _pio(tid: int, port: int, val: int, rw: int = 1) -> bytes:
    return struct.pack("<HBBiIIIII", 110, 0, 0, tid, rw, port, 1, 1, val)


def _exit(tid: int, reason: int, err: int = 0) -> bytes:
    return struct.pack("<HBBiIi", 42, 0, 0, tid, reason, err)


def _record(payload: bytes, delta: int) -> bytes:
    assert len(payload) % 4 == 0
    return struct.pack("<I", (delta << 5) | (len(payload) // 4)) + payload


def _page(ts: int, body: bytes, missed: bool = False) -> bytes:
    commit = len(body) | ((1 << 31) if missed else 0)
    page = struct.pack("<QQ", ts, commit) + body
    return page + bytes(4096 - len(page))


def _decoder() -> PageDecoder:
    formats = {
        "kvm_pio": parse_format("kvm", "kvm_pio", PIO_FORMAT),
        "kvm_userspace_exit": parse_format("kvm", "kvm_userspace_exit", EXIT_FORMAT),
    }
    return PageDecoder(formats, parse_header_page(HEADER_PAGE, 4096))


def test_header_page_layout() -> None:
    assert parse_header_page(HEADER_PAGE, 4096) == PageLayout(4096, 8, 8, 16)


def test_page_with_extend_padding_and_long_record() -> None:
    extend = struct.pack("<II", (5 << 5) | 30, 2)  # +5 + (2 << 27) ns
    padding = struct.pack("<II", (1 << 5) | 29, 12) + bytes(8)  # a discarded record: 16 bytes
    long_pio = struct.pack("<II", (3 << 5) | 0, len(_pio(7, 0x600, 0)) + 4) + _pio(7, 0x600, 0)
    body = (
        _record(_pio(7, 0x3F8, 0x42), 10)
        + extend
        + _record(_exit(7, 2), 1)
        + padding
        + long_pio
        + _record(_pio(7, 0x70, 0, rw=0), 2)
    )
    out: list = []
    assert not _decoder().decode(_page(1000, body), out)
    t1 = 1010
    t2 = t1 + 5 + (2 << 27) + 1
    t3 = t2 + 1 + 3
    assert out == [
        (t1, 7, WRITE, (Bus.PIO, 0x3F8, 1, 0x42)),
        (t2, 7, EXIT, Bus.PIO),
        (t3, 7, WRITE, (Bus.PIO, 0x600, 1, 0)),
        (t3 + 2, 7, READ, None),
    ]


def test_missed_flag_exit_filter_and_damage() -> None:
    body = _record(_exit(7, 5), 1) + _record(_exit(7, 2, -4), 1) + struct.pack("<I", (9 << 5) | 28)
    out: list = []
    assert _decoder().decode(_page(0, body, missed=True), out)
    assert out == []  # a halt, a restart, and a record running past the commit: nothing


def test_classification_rule() -> None:
    w = lambda tid, port, val: (0, tid, WRITE, (Bus.PIO, port, 1, val))  # noqa: E731
    x = lambda tid, bus=Bus.PIO: (0, tid, EXIT, bus)  # noqa: E731
    r = (0, 1, READ, None)
    tally = Tally()
    tally.feed([x(1), w(1, 0x3F8, 1), w(2, 0x600, 0), w(1, 0x3F8, 1), x(2), x(1), r, x(1)])
    tally.feed([w(1, 0x3F8, 2), w(2, 0x600, 0), x(2, Bus.MMIO), w(1, 0x3F8, 3)])
    key = (Bus.PIO, 0x3F8, 1)
    assert tally.writes[(1, (*key, 1))] == 2 and tally.exits[(1, (*key, 1))] == 1
    assert tally.exits[(2, (Bus.PIO, 0x600, 1, 0))] == 1  # the second went nowhere: in kernel
    assert tally.read_exits == 1
    assert tally.unmatched_exits == 2  # before any write; an MMIO exit after a PIO write
    assert dict(tally.undecided()) == {(1, (*key, 3)): 1}
