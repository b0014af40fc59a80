"""Build the doorbell guest from its source, for the package build.

The guest is assembled and linked into a flat image with the system's own
gcc and GNU ld, then emitted as a C array that is compiled into the engine's
extension module: the bytes exist only in build output, never in the tree.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

GUESTS = Path(__file__).resolve().parent
SOURCE = GUESTS / "doorbell.S"
LINKER_SCRIPT = GUESTS / "guest.ld"


class GuestBuildError(RuntimeError):
    """The guest could not be built; the message says what to install."""


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise GuestBuildError(
            f"iofdtui: building the guest needs `{name}`, which is not installed; "
            "install a C toolchain (Debian/Ubuntu: apt-get install gcc binutils)"
        )
    return path


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise GuestBuildError(
            f"iofdtui: building the guest failed: {' '.join(cmd)}\n{done.stderr.strip()}"
        )


def build_image(out_dir: str | Path) -> Path:
    """Assemble and link the guest, returning the flat image's path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    obj = out / "doorbell.o"
    image = out / "doorbell.bin"
    _run([_tool("gcc"), "-m32", "-c", f"-I{GUESTS}", str(SOURCE), "-o", str(obj)])
    _run([_tool("ld"), "-m", "elf_i386", "-T", str(LINKER_SCRIPT), str(obj), "-o", str(image)])
    return image


def build_image_source(out_dir: str | Path) -> Path:
    """Build the guest and write it as `guest_image.c` for the extension."""
    image = build_image(out_dir).read_bytes()
    lines = [
        "/* Generated at build time from guests/doorbell.S; do not edit. */",
        f"const unsigned int iofdtui_guest_image_len = {len(image)};",
        "const unsigned char iofdtui_guest_image[] = {",
    ]
    for i in range(0, len(image), 16):
        lines.append("    " + ", ".join(f"0x{b:02x}" for b in image[i : i + 16]) + ",")
    lines.append("};")
    path = Path(out_dir) / "guest_image.c"
    path.write_text("\n".join(lines) + "\n")
    return path
