"""The header: what machine the figures come from and what the guest is doing."""

from __future__ import annotations

from pathlib import Path

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


def header_content(snap: Snapshot, width: int, terminal_width: int) -> Content:
    """The machine, then the guest and its reader, for a header `width` cells wide
    (padding included); one line in a terminal under 80 columns.

    A third line in a wide header holds the kernel's counters; another
    appears when something is wrong.
    """
    m = snap.machine
    if terminal_width < 80:
        return _tiny(snap, width)
    # Under 100 columns the same facts are said in fewer words, so the
    # header stays two lines on an 80x24 terminal.
    wide = width >= 100
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
    parts += _kernel_line(snap, wide)
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


def _tiny(snap: Snapshot, width: int) -> Content:
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
    return Content.assemble(*parts).truncate(max(1, width - 2), ellipsis=True)  # inside padding


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


class LabHeader(Widget):
    """Kernel, KVM flavour, TSC rate, guest state and guest rings/s.

    Rings/s is over the interval since the previous snapshot, and says so.
    A snapshot that reads the same as the one drawn (a paused guest) repaints
    nothing, and one that keeps the header's height repaints it without a
    layout of the screen.
    """

    DEFAULT_CSS = """
    LabHeader {
        height: auto;
        background: $panel;
        color: $foreground;
        padding: 0 1;
    }
    """

    snapshot: reactive[Snapshot | None] = reactive(None, repaint=False)
    """The latest snapshot, or None before the VM is up (`watch_snapshot` repaints)."""

    starting_note: reactive[str] = reactive("starting the test VM…", layout=True)
    """What to say before the first snapshot."""

    recording: reactive[str | None] = reactive(None, layout=True)
    """The file the session is recorded to (shown as `● REC <file>`), or None."""

    banner: reactive[Content | None] = reactive(None, layout=True)
    """A last line kept under the lab's facts (where `iofdtui serve` serves the lab);
    left out of the one-line header under 80 columns."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._drawn: tuple[str, tuple[object, ...]] | None = None

    def _content(self) -> Content:
        snap = self.snapshot
        if snap is None:
            content = Content.assemble(("iofdtui", "bold"), f"  {self.starting_note}")
        else:
            # The terminal's width picks the one-line form (the header has padding).
            content = header_content(snap, self.size.width, self.app.size.width)
        tiny = self.app.size.width < 80
        if self.recording is not None and snap is not None:
            # The file's name where the first line has room for it (wide), the mark alone
            # elsewhere.
            mark = f"● REC {Path(self.recording).name} · " if self.size.width >= 100 else "● REC · "
            content = Content.assemble((mark, "bold $error"), content)
            if tiny:
                content = content.truncate(max(1, self.size.width - 2), ellipsis=True)
        if self.banner is None or tiny:
            return content
        return Content.assemble(content, "\n", self.banner)

    def watch_snapshot(self) -> None:
        """Repaint when what the header would show differs from what it shows."""
        content = self._content()
        if (content.plain, tuple(content.spans)) == self._drawn:
            return
        width = self.content_size.width
        height = content.get_height(self.styles, width) if width else 0
        # Lay the screen out again only if the header's height changes.
        self.refresh(layout=height != self.content_size.height)

    def render(self) -> Content:
        """The header for the latest snapshot, at the current size."""
        content = self._content()
        self._drawn = (content.plain, tuple(content.spans))
        return content
