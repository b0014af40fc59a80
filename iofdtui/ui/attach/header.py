"""The attached VM's header: which process, and what tracing it costs."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.widgets import Static

from iofdtui.engine.attach.snapshot import AttachSnapshot
from iofdtui.reports import format as fmt


def header_text(
    snap: AttachSnapshot,
    cpu_share: float | None,
    ended: str | None,
    recording: str | None = None,
    width: int = 160,
) -> Text:
    """Two lines: the process and its threads; the tracing's own cost (or why it stopped).

    While recording, the first line starts `● REC <file>` (`● REC` under 100 columns),
    as the lab's header does.
    """
    text = Text()
    if recording is not None:
        mark = f"● REC {Path(recording).name} · " if width >= 100 else "● REC · "
        text.append(mark, style="bold red")
    text.append("ATTACHED ", style="bold reverse")
    text.append(f" pid {snap.pid} ({snap.comm})", style="bold")
    threads = " ".join(str(t) for t in snap.threads) or "none yet"
    text.append(f" · vCPU threads seen: {threads} · tracefs instance {snap.instance}\n")
    c = snap.cost
    cpu = fmt.DASH if cpu_share is None else f"{100 * cpu_share:.0f}%"
    text.append(
        f"tracing: {fmt.rate(c.events_per_s)} events/s · {fmt.count(c.events)} events · "
        f"reading them {cpu} of a CPU · "
    )
    text.append(f"{fmt.count(c.lost)} lost", style="bold red" if c.lost else "")
    text.append(f" · {snap.elapsed_s:,.0f} s · exits with no traced access {snap.unmatched_exits}")
    if ended:
        text.append(f"\n{ended}", style="bold")
    return text


class AttachHeader(Static):
    """Two or three lines on top of the attached VM's app."""

    DEFAULT_CSS = """
    AttachHeader {
        height: auto;
        padding: 0 1;
        background: $boost;
    }
    """
