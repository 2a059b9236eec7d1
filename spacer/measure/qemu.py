"""Boot a unikernel image under QEMU and read what it prints and how it exits.

Images talk to the host through COM1 (the serial console) and leave through
QEMU's ``isa-debug-exit`` device at I/O port 0x501, as Unikraft's QEMU setups
do: a guest writing ``code`` there makes QEMU exit with ``(code << 1) | 1``.
"""

from __future__ import annotations

import os
import shutil
import struct
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


MULTIBOOT_MAGIC = 0x1BADB002
MULTIBOOT_SEARCH = 8192  # the header must sit in the first 8 KiB, 4-byte aligned
BOOTABLE_HINT = "pass the bootable image, e.g. build/<app>_qemu-x86_64"


def has_multiboot_header(head: bytes) -> bool:
    """A multiboot (v1) header in ``head``: magic, flags, checksum summing to zero,
    at a 4-byte aligned offset (Multiboot Specification 0.6.96, section 3.1.1)."""
    for off in range(0, min(len(head), MULTIBOOT_SEARCH) - 11, 4):
        magic, flags, checksum = struct.unpack_from("<III", head, off)
        if magic == MULTIBOOT_MAGIC and (magic + flags + checksum) & 0xFFFFFFFF == 0:
            return True
    return False


def check_image(image: Path) -> None:
    """Fail early, with one line, on what QEMU would reject with a vague message (or
    refuse and still exit as if the guest had exited with 0): QEMU's ``-kernel`` boots
    an ELF32 image with a multiboot header, which Unikraft's post-link step makes."""
    if not image.is_file():
        raise BadInput("no such image", image, "build it first or check the path")
    with image.open("rb") as f:
        head = f.read(MULTIBOOT_SEARCH)
    if head[:4] != b"\x7fELF":
        raise BadInput("not an ELF file", image, BOOTABLE_HINT)
    kind = {1: "ELF32", 2: "ELF64"}.get(head[4], "ELF of unknown class")
    elf_type = int.from_bytes(head[16:18], "little") if len(head) >= 18 else 0
    if elf_type == 1:  # ET_REL
        raise BadInput("a relocatable object, not a bootable image", image, BOOTABLE_HINT)
    if kind != "ELF32":
        raise BadInput(f"an {kind} image; QEMU boots the ELF32 multiboot form", image,
                       f"{BOOTABLE_HINT}, not the .dbg debug image")
    if not has_multiboot_header(head):
        raise BadInput("no multiboot header in the first 8 KiB", image, BOOTABLE_HINT)


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
         memory_mib: int = 32, extra: tuple[str, ...] = ()) -> BootResult:
    """Run ``image`` until it exits or ``timeout`` seconds pass (``extra``: more QEMU
    options)."""
    image = Path(image)
    check_image(image)
    argv = qemu_argv(image, memory_mib, append, extra)
    try:
        proc = subprocess.run(argv, check=False, capture_output=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode("utf-8", "replace")
        return BootResult(out, None, True, None)
    out = proc.stdout.decode("utf-8", "replace")
    errors = qemu_errors(proc.stderr.decode("utf-8", "replace"))
    if proc.returncode != 0 and errors and (not proc.returncode & 1 or proc.returncode == 1):
        # QEMU itself failed (cannot load the image, bad option). It then exits with 1,
        # which isa-debug-exit would also give for a guest exiting with 0: its message
        # on stderr tells the two apart.
        raise ExternalFailure(f"QEMU failed (exit status {proc.returncode}): {errors[0]}",
                              image)
    if proc.returncode < 0:
        raise ExternalFailure(f"QEMU was killed by signal {-proc.returncode}", image)
    return BootResult(out, app_exit_code(proc.returncode), False, proc.returncode)


def qemu_errors(stderr: str) -> list[str]:
    """QEMU's error lines on stderr; warnings (e.g. a CPU feature TCG lacks) left out."""
    return [ln.strip() for ln in stderr.splitlines()
            if ln.strip() and "warning:" not in ln.lower()]
