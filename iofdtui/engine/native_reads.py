"""The engine's counters, read out of C, and its enums as Python names
(states, readers, figure sets).

Each function takes the native handle (`struct lab *`, the caller holds the
Lab's lock and has checked it is open) and copies what C filled in into
plain Python values, so nothing returned points into a cffi buffer.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence

from iofdtui.engine.native import check, ffi, lib

QUANTILES = (0.5, 0.99)
CURRENT = lib.LAB_MODE_CURRENT
MODES: int = lib.LAB_MODES

# The empty timed window's distribution in one mode (cycles): what each
# sample's timer share is taken from.
Timer = namedtuple("Timer", ("p05", "p50", "p99", "mean"))
PATH_FIELDS = ("signals", "rings", "samples", "cycles", "reads")
Path = namedtuple("Path", PATH_FIELDS)  # struct lab_path_stats, without loop_cycles
WAKE_FIELDS = ("samples", "coalesced", "raced", "foreign", "unpublished", "negative", "elsewhere")
WakeCounts = namedtuple("WakeCounts", WAKE_FIELDS)  # struct lab_wake_stats

QUIET_PATHS: list[Path] = [Path(0, 0, 0, 0, 0)] * MODES
"""A registration never rung nor read, in every mode (shared: test with `is`)."""

# enum lab_state -> Lab.state's names.
STATES = {
    lib.LAB_IDLE: "idle",
    lib.LAB_RUNNING: "running",
    lib.LAB_PARKED: "paused",
    lib.LAB_FAULTED: "faulted",
}
# Reader name -> the engine's enum lab_consumer_mode.
NATIVE_READER = {
    "epoll": lib.LAB_CONSUMER_EPOLL,
    "poll": lib.LAB_CONSUMER_POLL,
    "none": lib.LAB_CONSUMER_NONE,
}


def mode_of(reader: str, paced: bool) -> int:
    """The engine's figure set for a reader and a pacing (enum lab_mode)."""
    return int(paced) * lib.LAB_READERS + NATIVE_READER[reader]


_PATH_WORDS = ffi.sizeof("struct lab_path_stats") // 8  # six u64s (lab.h)
_WAKE_WORDS = len(WAKE_FIELDS)
_QUIET_REG = bytes(8 * _PATH_WORDS * MODES)
_QUIET_WAKE = bytes(8 * _WAKE_WORDS)


def read_facts(handle: object) -> object:
    """struct lab_facts (a cffi struct the caller owns)."""
    facts = ffi.new("struct lab_facts *")
    lib.lab_facts(handle, facts)
    return facts


def read_fault(handle: object) -> str | None:
    """What stopped the guest, if it faulted: one line, registers in parentheses."""
    buf = ffi.new("char[512]")
    lib.lab_fault(handle, buf, 512)
    return ffi.string(buf).decode(errors="replace") or None


def read_threads(handle: object, vcpus: int) -> tuple[int, list[int]]:
    """The reader's wake-ups so far and the running vCPU threads' ids."""
    st = ffi.new("struct lab_threads *")
    lib.lab_threads(handle, st)
    return st.reader_wakeups, [st.vcpu_tids[k] for k in range(vcpus)]


def read_health(handle: object) -> object:
    """struct lab_health (a cffi struct the caller owns)."""
    health = ffi.new("struct lab_health *")
    lib.lab_read_health(handle, health)
    return health


def read_path(handle: object, kind: int, ident: int, mode: int) -> object | None:
    """One path's struct lab_path_stats, or None when the engine has no such path."""
    stats = ffi.new("struct lab_path_stats *")
    if lib.lab_read_path(handle, kind, ident, mode, stats) < 0:
        return None
    return stats


def quantiles(
    handle: object, kind: int, ident: int, mode: int, q: Sequence[float] = QUANTILES
) -> tuple[float, ...]:
    """The `q` quantiles of one path's samples, in cycles (-1 each without samples)."""
    out = ffi.new("double[]", len(q))
    lib.lab_quantiles(handle, kind, ident, mode, ffi.new("double[]", q), len(q), out)
    return tuple(out)


def quantiles_grid(
    handle: object, kind: int, ids: Sequence[int], modes: Sequence[int]
) -> list[list[tuple[float, float]]]:
    """p50 and p99 (cycles) of path `kind` for every id in every mode:
    out[i][m] for ids[i], modes[m], (-1, -1) where that path has no samples.

    One locked engine call (lab_quantiles_many) however many paths.
    """
    n, nmodes = len(ids), len(modes)
    if not n or not nmodes:
        return [[] for _ in range(n)]
    out = ffi.new("double[]", n * nmodes * 2)
    check(
        lib.lab_quantiles_many(
            handle,
            kind,
            ffi.new("int[]", list(ids)),
            n,
            ffi.new("int[]", list(modes)),
            nmodes,
            ffi.new("double[]", QUANTILES),
            2,
            out,
        ),
        "reading quantiles",
    )
    flat = ffi.unpack(out, n * nmodes * 2)
    pairs = list(zip(flat[0::2], flat[1::2], strict=True))
    return [pairs[i * nmodes : (i + 1) * nmodes] for i in range(n)]


def read_timer(handle: object, mode: int) -> Timer | None:
    """The empty timed window's p5, p50, p99 and mean in `mode`, or None before
    its first sample."""
    p05, p50, p99 = quantiles(handle, lib.LAB_PATH_CAL, 0, mode, (0.05, 0.5, 0.99))
    cal = read_path(handle, lib.LAB_PATH_CAL, 0, mode)
    if p50 < 0 or cal is None or not cal.samples:
        return None
    return Timer(p05, p50, p99, cal.cycles / cal.samples)


def read_timers(handle: object) -> dict[int, Timer | None]:
    """The empty window in every mode (index: enum lab_mode), for one reading."""
    return {mode: read_timer(handle, mode) for mode in range(MODES)}


def read_loop_cycles(handle: object) -> int:
    """Guest cycles spent between visits since reset, in the current mode."""
    cal = ffi.new("struct lab_path_stats *")
    lib.lab_read_path(handle, lib.LAB_PATH_CAL, 0, CURRENT, cal)
    return cal.loop_cycles


def read_hist(handle: object, kind: int, ident: int, mode: int) -> list[tuple[int, int]]:
    """A path's non-empty histogram buckets: (bucket, count); [] for no such path."""
    buf = ffi.new("uint64_t[]", lib.HIST_BUCKETS)
    if lib.lab_read_hist(handle, kind, ident, mode, buf, lib.HIST_BUCKETS) < 0:
        return []
    return [(b, n) for b, n in enumerate(ffi.unpack(buf, lib.HIST_BUCKETS)) if n]


def bucket_cycles(bucket: int) -> float:
    """A histogram bucket's lower bound, in cycles."""
    return lib.lab_hist_value(bucket)


def read_slots(handle: object, n: int) -> object:
    """struct lab_slot_stats[n], every slot's counts (a cffi array the caller owns)."""
    stats = ffi.new("struct lab_slot_stats[]", n)
    lib.lab_read_slots(handle, stats, n)
    return stats


class RegBuffers:
    """The C arrays the bulk reads of many registrations fill, kept while the set
    of registrations holds (fresh 300 KB arrays each reading cost page faults)."""

    def __init__(self, native_ids: Sequence[int]) -> None:
        self.n = n = len(native_ids)
        self.ids = ffi.new("int[]", list(native_ids) or [0])
        self.paths = ffi.new("struct lab_path_stats[]", max(n, 1) * MODES)
        self.signals = ffi.new("uint64_t[]", max(n, 1))
        self.wakes = ffi.new("struct lab_wake_stats[]", max(n, 1))


def read_live(
    handle: object, n_slots: int, bufs: RegBuffers
) -> tuple[object, list[int], dict[int, WakeCounts]]:
    """Slots, then the signals and wake-up figures (under the reader in force) of
    each registration in `bufs`, in the one locked pass that brackets them.

    Wake-up figures come by index in `bufs`, for those that are not all zero.
    """
    n = bufs.n
    slots = ffi.new("struct lab_slot_stats[]", n_slots)
    lib.lab_read_live(handle, slots, n_slots, bufs.ids, bufs.signals, bufs.wakes, n)
    raw = ffi.buffer(bufs.wakes)[:]
    words = memoryview(raw).cast("Q")
    wakes = {
        i: WakeCounts(*words[i * _WAKE_WORDS : (i + 1) * _WAKE_WORDS])
        for i in _nonzero_chunks(raw, len(_QUIET_WAKE), n)
    }
    return slots, ffi.unpack(bufs.signals, n) if n else [], wakes


def read_regs(handle: object, bufs: RegBuffers) -> dict[int, list[Path]]:
    """Each registration's path in every mode (index: enum lab_mode), in one call,
    by index in `bufs`, for those with any count: the others (never rung, read or
    signalled: most of 1,000) are `QUIET_PATHS`.

    A registration never rung nor read gets one shared row for every mode.
    """
    n = bufs.n
    lib.lab_read_regs(handle, bufs.ids, n, bufs.paths)
    raw = ffi.buffer(bufs.paths)[:]
    stride = _PATH_WORDS * MODES
    words = memoryview(raw).cast("Q")
    result = {}
    for i in _nonzero_chunks(raw, len(_QUIET_REG), n):
        chunk = words[i * stride : (i + 1) * stride].tolist()
        signals = chunk[0]
        if sum(chunk) == signals * MODES:  # never rung, never read: one shared row
            result[i] = [Path(signals, 0, 0, 0, 0)] * MODES
            continue
        # signals, rings, samples, cycles, (loop_cycles), reads
        rows = (chunk[m * _PATH_WORDS : (m + 1) * _PATH_WORDS] for m in range(MODES))
        result[i] = [Path(r[0], r[1], r[2], r[3], r[5]) for r in rows]
    return result


_BLOCK = 32  # chunks compared at once before looking at each


def _nonzero_chunks(raw: bytes, size: int, n: int) -> list[int]:
    """Indexes of the `size`-byte chunks of `raw` that are not all zeros.

    Most of 1,000 registrations are all zeros: blocks of chunks are compared
    first, so a reading looks at each chunk of a quiet block only once, in C.
    """
    out = []
    zeros = bytes(size * _BLOCK)
    for first in range(0, n, _BLOCK):
        last = min(first + _BLOCK, n)
        if raw[first * size : last * size] == zeros[: (last - first) * size]:
            continue
        zero = zeros[:size]
        out.extend(i for i in range(first, last) if raw[i * size : (i + 1) * size] != zero)
    return out
