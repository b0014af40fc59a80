"""The header: what machine the figures come from and what the guest is doing."""

from __future__ import annotations

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

from iofdtui.engine.snapshot import Snapshot
from iofdtui.reports import format as fmt

STATE_STYLE = {
    "running": "bold $success",
    "paused": "bold $warning",
    "faulted": "bold $error",
}
"""How each guest state is coloured, wherever it is shown."""


class LabHeader(Widget):
    """Kernel, KVM flavour, TSC rate, guest state and guest rings/s.

    Rings/s is over the interval since the previous snapshot, and says so.
    """

    DEFAULT_CSS = """
    LabHeader {
        height: auto;
        background: $panel;
        color: $foreground;
        padding: 0 1;
    }
    """

    snapshot: reactive[Snapshot | None] = reactive(None, layout=True)
    """The latest snapshot, or None before the VM is up."""

    starting_note: reactive[str] = reactive("starting the test VM…", layout=True)
    """What to say before the first snapshot."""

    def render(self) -> Content:
        """The machine, then the guest and its reader; one line under 80 columns.

        A third line in a wide terminal holds the kernel's counters; another
        appears when something is wrong.
        """
        snap = self.snapshot
        if snap is None:
            return Content.assemble(("iofdtui", "bold"), f"  {self.starting_note}")
        m = snap.machine
        if self.app.size.width < 80:  # the terminal's width (the header has padding)
            return self._tiny(snap)
        # Under 100 columns the same facts are said in fewer words, so the
        # header stays two lines on an 80x24 terminal.
        wide = self.size.width >= 100
        parts: list[str | tuple[str, str]] = [("iofdtui", "bold")]
        parts.append(f"  kernel {m.kernel} · " if wide else f" · {m.kernel} · ")
        parts.append(m.kvm_module or "kvm")
        if m.emulated:
            note = " (guest instructions emulated: emulator figures)" if wide else ", emulated"
            parts.append((note, "$warning"))
        elif m.emulated is False and wide:
            parts.append(" (hardware virtualization)")
        reader: list[str | tuple[str, str]] = [" · reader ", (snap.consumer, "bold $accent")]
        modes: list[str | tuple[str, str]] = []
        if snap.pinning is not None:
            # The full placement where there is room; the fact alone in 80 columns.
            modes.append((f" · pinned {snap.pinning}" if wide else " · pinned", "$accent"))
        if snap.vcpus > 1:
            modes.append(f" · {snap.vcpus} vCPUs")
        if snap.pace_us is not None:
            modes.append((f" · paced {snap.pace_us:g} µs", "$accent"))
        state = ["\nguest ", (snap.state, STATE_STYLE.get(snap.state, "bold"))]
        if wide:
            parts.append(f" · TSC {m.tsc_khz:,} kHz")
            parts += [*state, *reader, *modes]
        else:
            # The modes go on the first line, which has room once the TSC is in GHz;
            # the reader leads the second.
            parts += [f" · TSC {m.tsc_khz / 1e6:.2f} GHz", *modes, *state, *reader]
        if snap.fault:
            parts.append((f": {snap.fault}", "$error"))
        if wide:
            parts.append(
                f" · {fmt.rate(snap.ring_rate)} rings/s over the last"
                f" {fmt.seconds(snap.interval_s)} · {fmt.count(snap.total_rings)} rings since reset"
            )
        else:
            # The interval is in the registrations table's title.
            rings = fmt.approx_count(snap.total_rings)
            parts.append(f" · {fmt.rate(snap.ring_rate)} rings/s · {rings} rings")
        if snap.timer_overhead_ns is not None:
            overhead = fmt.ns(snap.timer_overhead_ns)
            parts.append(
                f" · timer overhead {overhead} subtracted" if wide else f" · overhead {overhead}"
            )
        parts += self._kernel_line(snap, wide)
        health = snap.health
        problems = []
        if health.stray_exits:
            problems.append(f"{health.stray_exits} stray exits (last {health.last_stray})")
        if health.garbage_pages:
            problems.append(f"{health.garbage_pages} guest counter pages held garbage")
        if health.unsolicited_parks:
            problems.append(f"{health.unsolicited_parks} unsolicited parks")
        if problems:
            parts.append(("\n⚠ " + "; ".join(problems), "$error"))
        return Content.assemble(*parts)

    def _tiny(self, snap: Snapshot) -> Content:
        """Under 80 columns: one line, cut to fit (a wrapped second line would come
        and go with the figures' lengths), most telling first."""
        m = snap.machine
        parts: list[str | tuple[str, str]] = [("iofdtui", "bold"), " · "]
        parts += [(snap.state, STATE_STYLE.get(snap.state, "bold"))]
        parts += [" · reader ", (snap.consumer, "bold $accent")]
        if snap.pinning is not None:
            parts.append((" · pinned", "$accent"))
        if snap.vcpus > 1:
            parts.append(f" · {snap.vcpus} vCPUs")
        if snap.pace_us is not None:
            parts.append((f" · paced {snap.pace_us:g} µs", "$accent"))
        parts.append(f" · {m.kvm_module or 'kvm'}")
        if m.emulated:
            parts.append((", emulated", "$warning"))
        parts.append(f" · {fmt.rate(snap.ring_rate)} rings/s")
        width = max(1, self.size.width - 2)  # inside the padding
        return Content.assemble(*parts).truncate(width, ellipsis=True)

    @staticmethod
    def _kernel_line(snap: Snapshot, wide: bool) -> list[str | tuple[str, str]]:
        """The kernel's own counters beside ours (wide), or only a broken relation."""
        kernel = snap.checkpoint.kernel if snap.checkpoint else None
        if not wide:
            if kernel is None or kernel.all_hold:
                return []
            broken = [r for r in kernel.relations if not r.holds]
            text = "; ".join(f"{r.stat} {r.kernel:,} ≠ {r.ours:,}" for r in broken)
            return [(f"\n✗ kernel disagrees: {text}", "$error")]
        parts: list[str | tuple[str, str]] = ["\n"]
        if kernel is None:
            parts.append(("kernel counters: from the second exact checkpoint on", "$text-muted"))
            return parts
        parts.append(f"kernel vs ours since checkpoint #{snap.checkpoint.number - 1}: ")
        for i, rel in enumerate(kernel.relations):
            sign = "=" if rel.holds else "≠"
            parts.append(f"{'' if i == 0 else ' · '}{rel.stat} {rel.kernel:,} {sign} {rel.ours:,} ")
            parts.append(("✓", "$success") if rel.holds else (f"✗ ({rel.formula})", "bold $error"))
        if kernel.insn_per_ring is not None:
            parts.append(f" · insn_emulation/ring {kernel.insn_per_ring:.2f}")
        return parts
