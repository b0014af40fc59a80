"""Raw ring-buffer pages and the classification rule, on pages built here (no KVM)."""

from __future__ import annotations

import struct

from iofdtui.engine.attach.tally import NativeTally
from iofdtui.engine.attach.tracefs import PageLayout, parse_format, parse_header_page

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


def _tally() -> NativeTally:
    formats = {
        "kvm_pio": parse_format("kvm", "kvm_pio", PIO_FORMAT),
        "kvm_userspace_exit": parse_format("kvm", "kvm_userspace_exit", EXIT_FORMAT),
    }
    return NativeTally(formats, parse_header_page(HEADER_PAGE, 4096))


def _counts(tally: NativeTally) -> dict[tuple[int, int, int | None], tuple[int, int, int]]:
    return {(e.tid, e.addr, e.value): (e.writes, e.exits, e.undecided) for e in tally.entries()}


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
        + _record(_pio(7, 0x600, 0), 1)
    )
    tally = _tally()
    tally.add_pages([_page(1000, body)])
    t1 = 1010
    t_last = t1 + 5 + (2 << 27) + 1 + 1 + 3 + 2 + 1
    assert tally.classify(t_last - 1) == 4  # the last write waits for the horizon
    assert tally.totals().held == 1
    assert tally.classify(t_last) == 1
    # The first write exited; the long record's write was followed by a read: in the kernel.
    assert _counts(tally) == {(7, 0x3F8, 0x42): (1, 1, 0), (7, 0x600, 0): (2, 0, 1)}
    assert tally.totals().events == 5


def test_missed_flag_exit_filter_and_damage() -> None:
    body = _record(_exit(7, 5), 1) + _record(_exit(7, 2, -4), 1) + struct.pack("<I", (9 << 5) | 28)
    tally = _tally()
    tally.add_pages([_page(0, body, missed=True)])
    assert tally.classify(0, final=True) == 0  # a halt, a restart: no access completes
    totals = tally.totals()
    assert (totals.missed_pages, totals.damaged) == (1, 1)  # a record past the commit
    assert tally.entries() == []


def test_order_across_cpus_and_the_rule() -> None:
    # Thread 1 migrates: its write on one CPU's page, its exit on another's, later.
    cpu0 = _record(_pio(1, 0x3F8, 1), 10) + _record(_pio(2, 0x600, 0), 1)
    cpu0 += _record(_pio(1, 0x3F8, 2), 20)
    cpu1 = _record(_exit(1, 2), 15) + _record(_exit(2, 6), 1) + _record(_exit(2, 2), 1)
    tally = _tally()
    tally.add_pages([_page(100, cpu0), _page(100, cpu1)])
    tally.classify(0, final=True)
    # 1's first write exited (its exit at 115 came before its next write at 131);
    # 2's write met an MMIO exit: not its kind, so unmatched, and the IO exit after
    # it has no write pending: unmatched too; its write was decided by neither.
    assert _counts(tally) == {
        (1, 0x3F8, 1): (1, 1, 0),
        (2, 0x600, 0): (1, 0, 0),
        (1, 0x3F8, 2): (1, 0, 1),
    }
    assert tally.totals().unmatched_exits == 2
