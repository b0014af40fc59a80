"""KVM's binary statistics (`KVM_GET_STATS_FD`): the kernel's own counters.

The file is parsed once (header, id, descriptors), then only its data block
is re-read with `pread`.  Nothing about the layout is assumed: offsets, the
descriptor stride (`sizeof(struct kvm_stats_desc) + name_size`) and each
statistic's place in the data block all come from the file and from the
real <linux/kvm.h> (through cffi).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from iofdtui.engine.native import ffi, lib

_TYPES = {
    lib.KVM_STATS_TYPE_CUMULATIVE: "cumulative",
    lib.KVM_STATS_TYPE_INSTANT: "instant",
    lib.KVM_STATS_TYPE_PEAK: "peak",
    lib.KVM_STATS_TYPE_LINEAR_HIST: "linear-hist",
    lib.KVM_STATS_TYPE_LOG_HIST: "log-hist",
}


class StatsFormatError(ValueError):
    """The stats file does not describe itself consistently."""


@dataclass(frozen=True, slots=True)
class StatDesc:
    """One statistic's descriptor."""

    name: str
    kind: str  # cumulative, instant, peak, linear-hist, log-hist
    unit: int
    exponent: int
    size: int  # number of u64 values
    offset: int  # byte offset within the data block


class StatsReader:
    """A parsed VM or vCPU stats fd; `read()` returns the current values."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        header_size = ffi.sizeof("struct kvm_stats_header")
        raw = os.pread(fd, header_size, 0)
        if len(raw) != header_size:
            raise StatsFormatError("short stats header")
        header = ffi.cast("struct kvm_stats_header *", ffi.from_buffer(raw))
        self.num_desc = header.num_desc
        name_size = header.name_size
        self.id = os.pread(fd, name_size, header.id_offset).split(b"\0", 1)[0].decode()
        stride = ffi.sizeof("struct kvm_stats_desc") + name_size
        block = os.pread(fd, stride * self.num_desc, header.desc_offset)
        if len(block) != stride * self.num_desc:
            raise StatsFormatError("short descriptor block")
        descs = []
        data_size = 0
        for i in range(self.num_desc):
            chunk = block[i * stride : (i + 1) * stride]
            d = ffi.cast("struct kvm_stats_desc *", ffi.from_buffer(chunk))
            name_at = ffi.sizeof("struct kvm_stats_desc")
            name = chunk[name_at : name_at + name_size].split(b"\0", 1)[0].decode()
            kind = _TYPES.get(d.flags & lib.KVM_STATS_TYPE_MASK, "unknown")
            desc = StatDesc(
                name, kind, d.flags & lib.KVM_STATS_UNIT_MASK, d.exponent, d.size, d.offset
            )
            descs.append(desc)
            data_size = max(data_size, desc.offset + 8 * desc.size)
        if len({d.name for d in descs}) != len(descs):
            raise StatsFormatError("duplicate statistic names")
        self.descriptors: tuple[StatDesc, ...] = tuple(descs)
        self._by_name = {d.name: d for d in descs}
        self._data_offset = header.data_offset
        self._data_size = data_size

    def read_raw(self) -> tuple[int, ...]:
        """The whole data block as u64 values."""
        raw = os.pread(self.fd, self._data_size, self._data_offset)
        if len(raw) != self._data_size:
            raise StatsFormatError("short data block")
        return tuple(int.from_bytes(raw[i : i + 8], "little") for i in range(0, len(raw), 8))

    def read(self) -> dict[str, int | tuple[int, ...]]:
        """Every statistic: an int, or a tuple for histograms."""
        words = self.read_raw()
        out: dict[str, int | tuple[int, ...]] = {}
        for d in self.descriptors:
            values = words[d.offset // 8 : d.offset // 8 + d.size]
            out[d.name] = values[0] if d.size == 1 else tuple(values)
        return out

    def has(self, name: str) -> bool:
        """Whether this kernel exposes a statistic of that name."""
        return name in self._by_name


def open_readers(fds: list[int]) -> list[StatsReader] | None:
    """A reader for each stats fd, or None when any is missing (-1: the kernel
    lacks KVM_CAP_BINARY_STATS_FD) or unreadable: then no kernel counters."""
    if any(fd < 0 for fd in fds):
        return None
    try:
        return [StatsReader(fd) for fd in fds]
    except (OSError, StatsFormatError):
        return None
