"""A real QEMU on /dev/kvm running the QEMU doorbell guest (qemu_doorbells.S).

The guest rings QEMU's pci-testdev: some writes QEMU serves with an
ioeventfd in the kernel, others exit to QEMU, and the guest reports each
phase on the debugcon port with QEMU's own count read back from the device
(see the guest's header).  `iofdtui attach` is checked against that report
(tests/attach/test_qemu.py), and the README's screenshot is of this VM:

    python guests/qemu_vm.py            # runs the guest in a loop; prints the PID to attach to

Stdlib only: the tests import it, and it runs without iofdtui installed.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

GUESTS = Path(__file__).resolve().parent
SOURCE = GUESTS / "qemu_doorbells.S"
LINKER_SCRIPT = GUESTS / "multiboot.ld"
QEMU = "qemu-system-x86_64"
QBOOT = Path("/usr/share/qemu/qboot.rom")  # boots in ~0.1 s here, SeaBIOS in ~5 s (all emulated)
PHASE = re.compile(r"phase (pio|mmio) ([0-9a-f]{8}) ([0-9a-f]{8}) ([0-9a-f]{8}) ([0-9a-f]{8})")


class QemuError(RuntimeError):
    """QEMU could not be built for, started or driven; the message says why."""


@dataclass(frozen=True, slots=True)
class Phase:
    """One phase as the guest reported it.

    Attributes:
        bus: "pio" or "mmio".
        addr: the port or guest-physical address written.
        value: the byte written.
        writes: how many times.
        qemu_count: the device's count after the phase: writes that reached QEMU
            and matched the test (width 1 and value 0xfa, or any for a wildcard).
    """

    bus: str
    addr: int
    value: int
    writes: int
    qemu_count: int


def build(out_dir: Path) -> Path:
    """Assemble and link the guest into `out_dir`; returns the image."""
    for tool in ("gcc", "ld"):
        if shutil.which(tool) is None:
            raise QemuError(
                f"building the QEMU guest needs `{tool}` (apt-get install gcc binutils)"
            )
    obj, image = out_dir / "qemu_doorbells.o", out_dir / "qemu_doorbells.bin"
    for cmd in (
        ["gcc", "-m32", "-c", str(SOURCE), "-o", str(obj)],
        ["ld", "-m", "elf_i386", "-T", str(LINKER_SCRIPT), str(obj), "-o", str(image)],
    ):
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise QemuError(f"{' '.join(cmd)}: {done.stderr.strip()}")
    return image


def parse_report(text: str) -> list[Phase]:
    """The phases in the guest's debugcon output."""
    return [
        Phase(m[1], int(m[2], 16), int(m[3], 16), int(m[4], 16), int(m[5], 16))
        for m in PHASE.finditer(text)
    ]


class QemuVm:
    """`qemu-system-x86_64 -accel kvm` on the guest, started paused (`-S`) and
    driven over QMP, so a tracer can attach before the guest's first write.

    A context manager: the process is ended on exit, whatever happens.
    """

    def __init__(self, workdir: Path, loop: bool = False) -> None:
        if shutil.which(QEMU) is None:
            raise QemuError(f"`{QEMU}` is not installed (apt-get install qemu-system-x86)")
        self.workdir = workdir
        self.loop = loop
        self.debugcon = workdir / "debugcon.txt"
        self.qmp_path = workdir / "qmp.sock"
        self.proc: subprocess.Popen[bytes] | None = None
        self._qmp: socket.socket | None = None
        self._buf = b""

    def argv(self, image: Path) -> list[str]:
        """The QEMU command line."""
        argv = [QEMU, "-accel", "kvm", "-nodefaults", "-display", "none", "-no-reboot"]
        if QBOOT.exists():
            argv += ["-bios", str(QBOOT)]
        argv += ["-m", "32", "-kernel", str(image)]
        if self.loop:
            argv += ["-append", "loop"]
        argv += ["-device", "pci-testdev,addr=5", "-debugcon", f"file:{self.debugcon}"]
        argv += ["-qmp", f"unix:{self.qmp_path},server=on,wait=off", "-S"]
        return argv

    @property
    def pid(self) -> int:
        """QEMU's process id."""
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 20.0) -> QemuVm:
        """Start QEMU paused, with its QMP monitor ready; nothing is left running if it fails."""
        try:
            return self._start(timeout)
        except BaseException:
            self.close()
            raise

    def _start(self, timeout: float) -> QemuVm:
        image = build(self.workdir)
        self.proc = subprocess.Popen(
            self.argv(image), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        end = time.monotonic() + timeout
        self._qmp = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._qmp.settimeout(timeout)
        while True:  # the socket file appears at bind(), before QEMU listens on it
            try:
                self._qmp.connect(str(self.qmp_path))
                break
            except (FileNotFoundError, ConnectionRefusedError):
                pass
            if self.proc.poll() is not None:
                out = self.proc.stdout.read().decode(errors="replace") if self.proc.stdout else ""
                raise QemuError(f"QEMU exited {self.proc.returncode}: {out.strip()[-300:]}")
            if time.monotonic() > end:
                raise QemuError(f"QEMU's QMP socket did not answer in {timeout:g} s")
            time.sleep(0.02)
        self._reply()  # the greeting
        self.command("qmp_capabilities")
        return self

    def command(self, name: str) -> dict[str, object]:
        """Run one QMP command; its reply."""
        assert self._qmp is not None
        self._qmp.sendall(json.dumps({"execute": name}).encode() + b"\n")
        while True:
            reply = self._reply()
            if "event" not in reply:
                if "error" in reply:
                    raise QemuError(f"QMP {name}: {reply['error']}")
                return reply

    def _reply(self) -> dict[str, object]:
        assert self._qmp is not None
        while b"\n" not in self._buf:
            chunk = self._qmp.recv(65536)
            if not chunk:
                raise QemuError("QEMU closed its QMP monitor")
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return json.loads(line)

    def resume(self) -> None:
        """Let the guest run (QMP `cont`)."""
        self.command("cont")

    def wait_done(self, timeout: float = 60.0) -> list[Phase]:
        """Wait for the guest's "done" (it then halts); its phases."""
        end = time.monotonic() + timeout
        while True:
            text = self.debugcon.read_text(errors="replace") if self.debugcon.exists() else ""
            if "done\n" in text:
                return parse_report(text)
            if self.proc is not None and self.proc.poll() is not None:
                raise QemuError(f"QEMU exited {self.proc.returncode} before the guest was done")
            if time.monotonic() > end:
                raise QemuError(f"the guest was not done in {timeout:g} s: {text[-200:]!r}")
            time.sleep(0.05)

    def close(self) -> None:
        """End QEMU."""
        if self._qmp is not None:
            self._qmp.close()
            self._qmp = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self) -> QemuVm:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def main(argv: list[str] | None = None) -> int:
    """Run the guest in a loop until Ctrl-C or SIGTERM; print QEMU's PID."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="iofdtui-qemu-") as tmp:
        try:
            vm = QemuVm(Path(tmp), loop=True).start()
        except QemuError as e:
            print(f"qemu_vm: {e}", file=sys.stderr)
            return 2
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            vm.resume()
            print(f"QEMU pid {vm.pid}: iofdtui attach {vm.pid}   (Ctrl-C ends it)", flush=True)
            while vm.proc is not None and vm.proc.poll() is None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            vm.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
