"""Two looks for one figure: the CLI tables' whole numbers under a unit header, the
UI's short figures with their unit. Both are kept, each for its place."""

from __future__ import annotations

import pytest

from iofdtui.reports import format as fmt


@pytest.mark.parametrize(
    ("value", "table", "screen"),
    [(1380.6, "1,381", "1.38µs"), (812.0, "812", "812ns"), (26_049.0, "26,049", "26.0µs")],
)
def test_a_latency_in_a_table_and_on_screen(value: float, table: str, screen: str) -> None:
    assert fmt.whole(value) == table
    assert fmt.ns(value) == screen


def test_whole_never_shortens_and_dashes_what_is_missing() -> None:
    assert fmt.whole(12_345_678) == "12,345,678"
    assert fmt.whole(618_123_456_789.4) == "618,123,456,789"
    assert fmt.whole(-1_884.2) == "-1,884"
    assert fmt.whole(None) == "—"


def test_fixed_decimals() -> None:
    assert fmt.fixed(0.987) == "0.99"
    assert fmt.fixed(13.66, 1) == "13.7"
    assert fmt.fixed(None) == fmt.fixed(None, 1) == "—"


def test_times_a_reference() -> None:
    assert fmt.times(76_000, 340_000) == "0.22×"
    assert fmt.times(2_803.0, 2_803.0) == "1.00×"
    assert fmt.times(0.0, 340_000) == "0.00×"
    for value, ref in ((None, 1.0), (1.0, None), (1.0, 0.0)):
        assert fmt.times(value, ref) == "—"


def test_a_check_and_a_length() -> None:
    assert [fmt.tick(True), fmt.tick(False), fmt.tick(None)] == ["✓", "✗", "—"]
    assert [fmt.length(0), fmt.length(8)] == ["any", "8"]
