"""`iofdtui replay`'s flags and files: every problem is one line and exit 2, before any TUI."""

from __future__ import annotations

from pathlib import Path

import pytest

from iofdtui.cli import main
from tests.ui.replay_frames import write_recording


def _one_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    with pytest.raises(SystemExit) as done:
        code = main(argv)
        raise SystemExit(code)
    assert done.value.code == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["replay"], "name the recording"),
        (["replay", "a.jsonl", "--demo"], "not both"),
        (["replay", "--demo", "--follow"], "--follow"),
    ],
)
def test_flags_that_do_not_go_together(
    capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    line = _one_line(capsys, argv)
    assert line.startswith("iofdtui replay: ") and says in line


def test_a_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    assert (
        _one_line(capsys, ["replay", str(missing)])
        == f"iofdtui: {missing}: no such file; check the name"
    )
    line = _one_line(capsys, ["replay", "--follow", str(missing)])
    assert line.startswith(f"iofdtui: {missing}: no such file")


def test_a_newer_schema(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write_recording(tmp_path / "r.jsonl", count=2)
    text = path.read_text().replace('"schema":1', '"schema":99', 1)
    path.write_text(text)
    line = _one_line(capsys, ["replay", str(path)])
    assert line.startswith(f"iofdtui: {path}: line 1") and "99" in line


def test_a_corrupt_middle_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write_recording(tmp_path / "r.jsonl", count=5)
    lines = path.read_text().splitlines()
    lines[2] = lines[2][:50] + "garbage" + lines[2][60:]
    path.write_text("\n".join(lines) + "\n")
    line = _one_line(capsys, ["replay", str(path)])
    assert line.startswith(f"iofdtui: {path}: line 3")


def test_no_terminal_after_a_good_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = write_recording(tmp_path / "r.jsonl", count=2)
    assert "needs a terminal" in _one_line(capsys, ["replay", str(path)])
