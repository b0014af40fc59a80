"""Counting a widget's renders: what tests use to show that an unchanged widget is
not drawn again (and a changed one is)."""

from __future__ import annotations

from collections import Counter

import pytest
from textual.geometry import Region
from textual.widget import Widget


def count_renders(monkeypatch: pytest.MonkeyPatch, *classes: type[Widget]) -> Counter[str]:
    """Count each widget's `render()` calls, by id (or class name when it has none)."""
    calls: Counter[str] = Counter()
    for cls in classes:
        original = cls.render

        def counted(self: Widget, original=original) -> object:  # type: ignore[no-untyped-def]
            calls[self.id or type(self).__name__] += 1
            return original(self)

        monkeypatch.setattr(cls, "render", counted)
    return calls


def paint(*widgets: Widget) -> None:
    """Draw the widgets now, as the screen would: a widget not refreshed since
    its last paint gives its cached lines without rendering."""
    for widget in widgets:
        widget.render_lines(Region(0, 0, *widget.outer_size))
