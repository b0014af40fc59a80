"""The engine is headless: importing any of it never loads Textual or Rich (the
UI and the reports draw; the engine only measures).

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
    "experiments.bench",
    "model",
    "snapshot",
    "experiments.wake",
    "experiments.scale",
    "experiments.vcpus",
    "kvm_stats",
    "kernel_counters",
    "native",
]
# Every module, subpackages' too, found rather than listed, so a new one is
# checked too (`_lab` is the compiled core, imported by `native`; `native.build`
# is the cffi build script, never imported at run time).
DISCOVERED = sorted(
    info.name.removeprefix("iofdtui.engine.")
    for info in pkgutil.walk_packages(iofdtui.engine.__path__, "iofdtui.engine.")
    if not info.name.rsplit(".", 1)[-1].startswith("_")
    and info.name != "iofdtui.engine.native.build"
)
MODULES = ["iofdtui.engine"] + [f"iofdtui.engine.{name}" for name in DISCOVERED]

CHECK = """
import importlib, sys
importlib.import_module(sys.argv[1])
leaked = sorted(m for m in sys.modules if m.split(".")[0] in ("textual", "rich"))
print(" ".join(leaked))
"""


def test_every_listed_engine_module_is_checked() -> None:
    assert set(LISTED) <= set(DISCOVERED)


@pytest.mark.parametrize("module", ["textual.app", "rich.table"])
def test_the_check_sees_textual_and_rich_when_they_are_imported(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHECK, module], capture_output=True, text=True, check=False
    )
    assert module in result.stdout.split()


@pytest.mark.parametrize("module", MODULES)
def test_importing_the_engine_leaves_textual_and_rich_out(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHECK, module],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"{module} imports {result.stdout.strip()}"
