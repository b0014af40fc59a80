"""lab_quantiles_many: one locked pass equals lab_quantiles path by path."""

from __future__ import annotations

import errno
import time

import pytest

from iofdtui.engine.model import Bus, RegistrationSpec, SlotSpec
from iofdtui.engine.native import ffi, lib

pytestmark = pytest.mark.kvm

QS = [0.0, 0.05, 0.5, 0.99, 1.0]
NQ = len(QS)
MODES = [lib.LAB_MODE_CURRENT, *range(lib.LAB_MODES)]


def _one(lab, kind: int, ident: int, mode: int) -> list[float]:
    out = ffi.new("double[]", len(QS))
    lib.lab_quantiles(lab._lab, kind, ident, mode, ffi.new("double[]", QS), len(QS), out)
    return list(out)


def _many(lab, kind: int, ids: list[int], modes: list[int]) -> list[list[list[float]]]:
    out = ffi.new("double[]", max(1, len(ids) * len(modes) * len(QS)))
    rc = lib.lab_quantiles_many(
        lab._lab,
        kind,
        ffi.new("int[]", ids or [0]),
        len(ids),
        ffi.new("int[]", modes or [0]),
        len(modes),
        ffi.new("double[]", QS),
        len(QS),
        out,
    )
    assert rc == 0
    nq = len(QS)
    return [
        [
            list(out[(i * len(modes) + m) * nq : (i * len(modes) + m + 1) * nq])
            for m in range(len(modes))
        ]
        for i in range(len(ids))
    ]


def _assert_same(lab, kind: int, ids: list[int]) -> list[list[list[float]]]:
    many = _many(lab, kind, ids, MODES)
    for i, ident in enumerate(ids):
        for m, mode in enumerate(MODES):
            assert many[i][m] == _one(lab, kind, ident, mode), (kind, ident, mode)
    return many


def test_bulk_quantiles_equal_per_path_quantiles_for_slots_regs_and_wake(lab) -> None:
    lab.set_plan([SlotSpec(Bus.PIO, 0x3F8, 1, 1, 1), SlotSpec(Bus.MMIO, 0xFE00_0000, 4, 2, 1)])
    lab.add_registration(RegistrationSpec(Bus.PIO, 0x3F8, 1))
    lab.add_registration(RegistrationSpec(Bus.MMIO, 0xFE00_0000, 4, 2))
    idle = lab.add_registration(RegistrationSpec(Bus.PIO, 0x600, 1))  # never rung
    gone = lab.add_registration(RegistrationSpec(Bus.PIO, 0x602, 1))
    gone_native = lab._regs[gone].native_id
    lab.remove_registration(gone)
    natives = [reg.native_id for reg in lab._regs.values()]
    lab.start()
    time.sleep(0.3)  # flat: samples under the epoll reader
    lab.pause()
    lab.set_pace(500.0)
    lab.resume()
    time.sleep(1.0)  # paced: wake-ups timed
    lab.pause()  # parked: no fold lands between the two readings

    slots = _assert_same(lab, lib.LAB_PATH_SLOT, [*sorted(lab._slots), -1, 10_000])
    assert all(q >= 0 for q in slots[0][0]), "slot 0 has timed visits"
    assert slots[-1] == slots[-2] == [[-1.0] * len(QS)] * len(MODES)

    odd = [gone_native, -5, 1 << 30]
    regs = _assert_same(lab, lib.LAB_PATH_REG, [*natives, *odd])
    flat_epoll = MODES.index(lib.LAB_CONSUMER_EPOLL)
    assert all(q >= 0 for q in regs[0][flat_epoll]), "the rung registration has samples"
    idle_row = natives.index(lab._regs[idle].native_id)
    assert regs[idle_row] == [[-1.0] * len(QS)] * len(MODES)
    assert regs[-3:] == [[[-1.0] * len(QS)] * len(MODES)] * 3

    wake = _assert_same(lab, lib.LAB_PATH_WAKE, [*natives, *odd])
    if lab.wake_note is None:
        paced_epoll = MODES.index(lib.LAB_READERS + lib.LAB_CONSUMER_EPOLL)
        assert any(q >= 0 for q in wake[0][paced_epoll]), "paced wake-ups were timed"

    # Empty lists are a valid no-op; the other kinds agree too.
    assert _many(lab, lib.LAB_PATH_REG, [], MODES) == []
    _assert_same(lab, lib.LAB_PATH_USER, list(range(lib.NKINDS)))
    _assert_same(lab, lib.LAB_PATH_CAL, [0])


def test_bulk_quantiles_refuse_bad_sizes_modes_and_kinds(lab) -> None:
    ids, modes = ffi.new("int[]", [0]), ffi.new("int[]", [0])
    q, out = ffi.new("double[]", QS), ffi.new("double[]", len(QS))

    def call(kind=lib.LAB_PATH_REG, n=1, mode_list=modes, nmodes=1, nq=NQ) -> int:
        return lib.lab_quantiles_many(lab._lab, kind, ids, n, mode_list, nmodes, q, nq, out)

    assert call() == 0
    assert list(out) == [-1.0] * len(QS)  # no samples yet
    for bad in (
        {"n": -1},
        {"nmodes": -1},
        {"nq": -1},
        {"n": 1 << 30},
        {"nq": 1 << 20},
        {"kind": 99},
        {"kind": -2},
        {"mode_list": ffi.new("int[]", [lib.LAB_MODES])},
        {"mode_list": ffi.new("int[]", [-2])},
        {"mode_list": ffi.NULL},
    ):
        assert call(**bad) == -errno.EINVAL, bad
