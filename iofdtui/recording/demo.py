"""The demo recording shipped with iofdtui: replay and export work with no /dev/kvm.

Made with `iofdtui record --source demo --seconds 20` (its header's note says
where and when); remake it the same way after a schema change.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

DEMO_NAME = "demo.jsonl.gz"


def demo_path() -> Path:
    """Where the shipped demo recording is (package data)."""
    return Path(str(resources.files("iofdtui.recording").joinpath(DEMO_NAME)))
