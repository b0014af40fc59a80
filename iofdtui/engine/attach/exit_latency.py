"""Host-side exit latency per exit reason: `kvm_exit` to the same thread's next `kvm_entry`.

The time the vCPU spends out of the guest for one hardware exit (VMX/SVM),
whatever served it: the kernel alone, or userspace too (an IO exit that
QEMU handles is in it).  Timed in C in trace order (tally.c, counters.c);
count, mean, min and max are exact over the exits traced.  The reasons'
names are read from the `kvm_exit` format file's own symbol tables (its
print fmt: VMX's first, SVM's second).

Where these tracepoints never fire, there is nothing to time, and the app
says so rather than show zeros: kvm_pvm emulates every guest instruction,
so it has no hardware exits.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

EXIT_EVENTS = ("kvm_exit", "kvm_entry")
ISA = {1: "VMX", 2: "SVM"}
_TABLE = re.compile(r"__print_symbolic\((.*?)\)\s*[:,)]", re.S)
_PAIR = re.compile(r"\{\s*(-?(?:0x[0-9a-fA-F]+|\d+))(?:\s*\+\s*(\d+))?\s*,\s*\"([^\"]*)\"\s*\}")


@dataclass(frozen=True, slots=True)
class ExitLatency:
    """kvm_exit → the same thread's next kvm_entry, for one exit reason, as the C tally
    gives it: ns."""

    isa: int
    reason: int
    count: int
    sum_ns: int
    min_ns: int
    max_ns: int


@dataclass(frozen=True, slots=True)
class ReasonLatency:
    """Exits of one reason, timed to re-entry.

    Attributes:
        isa: "VMX", "SVM" or the isa number.
        reason: the exit reason's number.
        name: its name from the format file, or "reason N".
        count: exits timed (re-entered).
        mean_ns: mean time out of the guest, ns (0 when none timed).
        min_ns: shortest, ns.
        max_ns: longest, ns.
    """

    isa: str
    reason: int
    name: str
    count: int
    mean_ns: float
    min_ns: int
    max_ns: int


@dataclass(frozen=True, slots=True)
class ExitLatencies:
    """Per exit reason, or why there is none.

    Attributes:
        reasons: by count, most first.
        unavailable: why none can be shown (None when the events fire).
    """

    reasons: tuple[ReasonLatency, ...]
    unavailable: str | None


def reason_names(print_fmt: str) -> dict[int, dict[int, str]]:
    """{isa: {reason: name}} from kvm_exit's print fmt (1 VMX, 2 SVM: its tables' order)."""
    names: dict[int, dict[int, str]] = {}
    for isa, table in enumerate(_TABLE.findall(print_fmt)[:2], start=1):
        pairs = names.setdefault(isa, {})
        for number, plus, name in _PAIR.findall(table):
            value = int(number, 0) + (int(plus) if plus else 0)
            pairs[value & 0xFFFFFFFF] = name
    return names


def unavailable(have_events: bool, flavour: str, hw_exits: int) -> str | None:
    """Why no exit latency can be shown, or None."""
    if not have_events:
        return "n/a: this kernel has no kvm:kvm_exit/kvm_entry tracepoints"
    if "kvm_pvm" in flavour and hw_exits == 0:
        return "n/a on kvm_pvm: it emulates the guest, so kvm_exit/kvm_entry never fire"
    if hw_exits == 0:
        return "no kvm_exit traced yet"
    return None


def latencies(
    rows: Iterable[ExitLatency], names: dict[int, dict[int, str]], why_not: str | None
) -> ExitLatencies:
    """The tally's rows as ReasonLatency, most frequent first."""
    out = []
    for r in rows:
        # VMX keeps flags (FAILED_VMENTRY) in the high bits; the basic reason is the low 16.
        basic = r.reason & 0xFFFF if r.isa == 1 else r.reason
        name = names.get(r.isa, {}).get(basic, f"reason {r.reason:#x}")
        if r.isa == 1 and r.reason & 0x8000_0000:
            name += " FAILED_VMENTRY"
        mean = r.sum_ns / r.count if r.count else 0.0
        out.append(
            ReasonLatency(
                ISA.get(r.isa, str(r.isa)), r.reason, name, r.count, mean, r.min_ns, r.max_ns
            )
        )
    out.sort(key=lambda x: (-x.count, x.isa, x.reason))
    return ExitLatencies(tuple(out), why_not)
