"""The engine is headless: importing any of it never loads Textual.

Each import runs in a fresh interpreter, so what this process has already
imported (the UI tests load Textual) cannot hide a leak.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import iofdtui.engine

LISTED = [
    "lab",
    "bench",
    "model",
    "snapshot",
    "wake",
    "scale",
    "vcpus_bench",
    "kvm_stats",
    "kernel_counters",
]
# Every submodule, found rather than listed, so a new one is checked too
# (`_lab` is the compiled core, imported by `native`).
DISCOVERED = sorted(
    info.name
    for info in pkgutil.iter_modules(iofdtui.engine.__path__)
    if not info.name.startswith("_")
)
MODULES = ["iofdtui.engine"] + [f"iofdtui.engine.{name}" for name in DISCOVERED]

CHECK = """
import importlib, sys
importlib.import_module(sys.argv[1])
leaked = sorted(m for m in sys.modules if m == "textual" or m.startswith("textual."))
print(" ".join(leaked))
"""


def test_every_listed_engine_module_is_checked() -> None:
    assert set(LISTED) <= set(DISCOVERED)


def test_the_check_sees_textual_when_it_is_imported() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHECK, "textual.app"], capture_output=True, text=True, check=False
    )
    assert "textual" in result.stdout.split()


@pytest.mark.parametrize("module", MODULES)
def test_importing_the_engine_leaves_textual_out(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHECK, module],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"{module} imports {result.stdout.strip()}"
