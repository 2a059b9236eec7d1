"""Boot a unikernel image under QEMU and read what it prints and how it exits.

Images talk to the host through COM1 (the serial console) and leave through
QEMU's ``isa-debug-exit`` device at I/O port 0x501, as Unikraft's QEMU setups
do: a guest writing ``code`` there makes QEMU exit with ``(code << 1) | 1``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from spacer.core.errors import BadInput, ExternalFailure, ToolMissing

QEMU = "qemu-system-x86_64"
DEBUG_EXIT = "isa-debug-exit,iobase=0x501,iosize=4"
INSTALL_HINT = "install it with: apt-get install qemu-system-x86"


@dataclass(frozen=True)
class BootResult:
    output: str
    exit_code: int | None  # the app's exit code; None when it never reached isa-debug-exit
    timed_out: bool
    qemu_status: int | None


def qemu_binary() -> str:
    path = shutil.which(QEMU)
    if path is None:
        raise ToolMissing(f"{QEMU} not found", hint=INSTALL_HINT)
    return path


def kvm_usable() -> bool:
    """KVM only on request (``SPACER_ACCEL=kvm``): on cloud VMs /dev/kvm may open and
    still fail at the first MSR write, so software emulation is the safe default."""
    return os.environ.get("SPACER_ACCEL") == "kvm" and os.access("/dev/kvm", os.R_OK | os.W_OK)


def check_image(image: Path) -> None:
    """Fail early, with one line, on what QEMU would reject with a vague message."""
    if not image.is_file():
        raise BadInput("no such image", image, "build it first or check the path")
    with image.open("rb") as f:
        head = f.read(5)
    if head[:4] != b"\x7fELF":
        raise BadInput("not an ELF file", image, "pass the bootable image, e.g. build/<app>_qemu-x86_64")


def qemu_argv(image: Path, memory_mib: int = 32, append: str | None = None,
              extra: tuple[str, ...] = ()) -> list[str]:
    accel = ["-accel", "kvm", "-cpu", "host"] if kvm_usable() else ["-accel", "tcg", "-cpu", "max"]
    argv = [qemu_binary(), *accel, "-m", str(memory_mib), "-display", "none",
            "-serial", "stdio", "-monitor", "none", "-no-reboot", "-nodefaults",
            "-device", DEBUG_EXIT, "-kernel", str(image)]
    if append:
        argv += ["-append", append]
    return argv + list(extra)


def app_exit_code(qemu_status: int) -> int | None:
    """Undo isa-debug-exit's encoding; an even status means QEMU stopped on its own."""
    return qemu_status >> 1 if qemu_status & 1 else None


def boot(image: Path, append: str | None = None, timeout: float = 30,
         memory_mib: int = 32) -> BootResult:
    """Run ``image`` until it exits or ``timeout`` seconds pass."""
    image = Path(image)
    check_image(image)
    argv = qemu_argv(image, memory_mib, append)
    try:
        proc = subprocess.run(argv, check=False, capture_output=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode("utf-8", "replace")
        return BootResult(out, None, True, None)
    out = proc.stdout.decode("utf-8", "replace")
    err = proc.stderr.decode("utf-8", "replace").strip()
    if proc.returncode != 0 and not proc.returncode & 1 and err:
        # QEMU itself refused (bad image, bad option): its first line says why.
        raise ExternalFailure(f"QEMU refused to boot it: {err.splitlines()[0]}", image)
    return BootResult(out, app_exit_code(proc.returncode), False, proc.returncode)
