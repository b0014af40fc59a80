"""The Rich pieces the reports are built of: a titled table and the machine header."""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping

from rich import box
from rich.table import Table
from rich.text import Text


def titled_table(
    title: str, columns: Iterable[str], left: Container[str] = (), no_wrap: bool = False
) -> Table:
    """A table with its title on the left and one rule under the header; figures are
    right-aligned, the `left` columns (names, not figures) left-aligned."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    for column in columns:
        table.add_column(column, justify="left" if column in left else "right", no_wrap=no_wrap)
    return table


def machine_header(machine: Mapping[str, object], *facts: str) -> Text:
    """Where a run was measured, in two lines: kernel, KVM flavour, TSC, the run's own
    `facts` and the pinning; then the emulation note, loud when the guest is emulated."""
    parts = [
        f"kernel {machine['kernel']}",
        f"/dev/kvm: {machine['kvm_module']}",
        f"TSC {machine['tsc_khz']:,} kHz",
        *facts,
    ]
    if machine["pinning"]:
        parts.append(f"pinned: {machine['pinning']}")
    head = Text("   ".join(parts) + "\n")
    head.append(
        f"{machine['emulation_note']}\n", style="bold yellow" if machine["emulated"] else ""
    )
    return head
