"""UI test fixtures: a frozen cursor and apps built around the fake lab."""

from __future__ import annotations

import pytest
from textual.widgets import Input


@pytest.fixture(autouse=True)
def no_cursor_blink(monkeypatch: pytest.MonkeyPatch) -> None:
    """A blinking cursor would make SVG snapshots depend on timing."""
    monkeypatch.setattr(Input, "_toggle_cursor", lambda self: None)
