"""`iofdtui export`: the CSV and JSON tables and their columns."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from iofdtui import cli
from iofdtui.recording.export import COLUMNS, column_help, csv_text, write_json
from iofdtui.recording.reader import read_recording
from tests.recording.test_files import write_sample


@pytest.fixture
def recorded(tmp_path: Path) -> Path:
    path = tmp_path / "rec.jsonl.gz"
    write_sample(path, frames=3)
    return path


def test_csv_columns_and_rows(recorded: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(csv_text(read_recording(recorded)))))
    assert tuple(rows[0]) == COLUMNS
    assert COLUMNS[:8] == (
        "table",
        "time_s",
        "state",
        "reader",
        "pace_us",
        "checkpoint",
        "bus",
        "addr",
    )
    # Each frame: its 2 registrations, then its 4 doorbells.
    assert [r["table"] for r in rows[:6]] == ["registration"] * 2 + ["doorbell"] * 4
    assert len(rows) == 3 * 6
    reg = rows[0]
    assert (reg["time_s"], reg["id"], reg["bus"], reg["addr"], reg["width"], reg["trigger"]) == (
        "0.0",
        "1",
        "pio",
        "0x03f8",
        "1",
        "",
    )
    assert (reg["signals"], reg["signals_per_s"], reg["rings"], reg["exits"]) == (
        "134919",
        "45012.0",
        "134919",
        "0",
    )
    assert (reg["p50_ns"], reg["p99_ns"], reg["samples"]) == ("1470.0", "14500.0", "263")
    # Its baseline, the PIO 1-byte userspace exit of the same reading.
    assert (reg["base_p50_ns"], reg["base_p99_ns"], reg["ratio"]) == ("6770.0", "10700.0", "4.61")
    assert reg["issued"] == "" and reg["live_ok"] == ""  # doorbell columns stay empty
    mmio = rows[1]
    assert (mmio["trigger"], mmio["exits"]) == ("0x1", "134919")  # the misses at its doorbell
    door = rows[2]
    assert (door["bus"], door["addr"], door["rings"], door["signals"], door["exits"]) == (
        "mmio",
        "0xfe000000",
        "269838",
        "134919",
        "134919",
    )
    assert (door["issued"], door["live_ok"], door["exact"], door["checkpoint"]) == (
        "269855",
        "true",
        "true",
        "4",
    )
    assert door["id"] == "" and door["p50_ns"] == ""
    assert rows[6]["time_s"] == "0.5"


def test_json_tables(recorded: Path) -> None:
    out = io.StringIO()
    count = write_json(read_recording(recorded), out)
    doc = json.loads(out.getvalue())
    assert count == 18
    assert doc["recording"]["source"] == "headless"
    assert len(doc["registrations"]) == 6 and len(doc["doorbells"]) == 12
    assert "table" not in doc["registrations"][0]
    assert doc["registrations"][0]["trigger"] is None
    assert doc["doorbells"][0]["live_ok"] is True


def test_every_column_is_documented() -> None:
    text = column_help()
    for column in COLUMNS:
        assert f"  {column} " in text, column
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    for column in COLUMNS:
        assert f"`{column}`" in readme, f"README's export section lacks {column}"


def test_the_command(recorded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.csv"
    assert cli.main(["export", str(recorded), "--csv", str(out)]) == 0
    assert capsys.readouterr().err == f"exported 18 rows from 3 frames to {out}\n"
    assert out.read_text().splitlines()[0] == ",".join(COLUMNS)
    assert cli.main(["export", str(recorded), "--json", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["recording"]["schema"] == 1


def test_the_command_refuses_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("hello\n")
    assert cli.main(["export", str(bad), "--csv", "-"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "iofdtui export: line 1: not JSON (Expecting value: line 1 column 1 (char 0)): "
        "the file is not an iofdtui recording\n"
    )
    with pytest.raises(SystemExit) as caught:
        cli.main(["export", str(bad)])
    assert caught.value.code == 2
    assert "one of the arguments --csv --json is required" in capsys.readouterr().err
