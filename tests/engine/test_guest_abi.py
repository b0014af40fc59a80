"""The pure-Python guest ABI (`engine/guest_abi.py`) says what the built engine says.

Replay imports the snapshot types without the native library, so the
constants they need are copied from `guests/guest_abi.h`; this is the check
that the copy and the header cannot drift apart.
"""

from __future__ import annotations

import pytest

from iofdtui.engine import guest_abi


@pytest.mark.parametrize("name", guest_abi.NAMES)
def test_each_constant_equals_the_engines(name: str) -> None:
    from iofdtui.engine.native import lib

    assert getattr(guest_abi, name) == getattr(lib, name)


def test_every_public_constant_is_checked() -> None:
    public = {n for n in vars(guest_abi) if n.isupper() and n != "NAMES"}
    assert public == set(guest_abi.NAMES)


def test_the_kinds_cover_the_engines_kinds() -> None:
    from iofdtui.engine.native import lib

    kinds = [v for n, v in vars(guest_abi).items() if n.startswith("KIND_")]
    assert sorted(kinds) == list(range(lib.NKINDS))
