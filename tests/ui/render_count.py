"""Counting a widget's renders: what tests use to show that an unchanged widget is
not drawn again (and a changed one is)."""

from __future__ import annotations

from collections import Counter

import pytest
from textual.geometry import Region
from textual.widget import Widget


def count_renders(
    monkeypatch: pytest.MonkeyPatch,
    *classes: type[Widget],
    method: str = "render",
    into: Counter[str] | None = None,
) -> Counter[str]:
    """Count each widget's `render()` (or other `method`) calls, by id (or class
    name when it has none), in `into` or a new counter."""
    calls: Counter[str] = Counter() if into is None else into
    for cls in classes:
        original = getattr(cls, method)

        def counted(self: Widget, *args, original=original) -> object:  # type: ignore[no-untyped-def]
            calls[self.id or type(self).__name__] += 1
            return original(self, *args)

        monkeypatch.setattr(cls, method, counted)
    return calls


def paint(*widgets: Widget) -> None:
    """Draw the widgets now, as the screen would: a widget not refreshed since
    its last paint gives its cached lines without rendering."""
    for widget in widgets:
        widget.render_lines(Region(0, 0, *widget.outer_size))
