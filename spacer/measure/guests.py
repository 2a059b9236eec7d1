"""Guests of a fleet under QEMU, kept resident after they finish, so KSM can merge them.

Guests run under QEMU without the ``isa-debug-exit`` device: when a Unikraft
guest is done it writes its exit code to port 0x501, which with that device
would end QEMU and free its memory. Without it the write goes nowhere and the
guest halts (``cli; hlt``), so its memory stays resident for KSM to merge.
``-action reboot=shutdown,shutdown=pause`` keeps a guest that powers off or
reboots resident as well.

The headline figure is *frames*: resident mergeable guest pages (the ``mg``
mappings in ``/proc/PID/smaps``: QEMU marks guest RAM mergeable) minus KSM's
``pages_sharing``, i.e. the distinct physical frames behind those pages. The original and the aligned fleet are measured one after
the other, never together: running together, KSM would merge across the two
sets and neither figure would be honest.

With the frame numbers (root), the frames are also split by what they hold
(:func:`split_frames`): pages of the guests' images, shared across guests or
private to one, and runtime memory. Each frame is read once through
``/proc/PID/mem`` and compared with the images' page digests.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from spacer.core.errors import ExternalFailure, ToolMissing
from spacer.measure import qemu

SETS = ("original", "aligned")
Progress = Callable[[str], None]


def guest_argv(image: Path, memory_mib: int = 32) -> list[str]:
    """QEMU's argv for a guest that stays resident after it is done.

    Starts from :func:`spacer.measure.qemu.qemu_argv` and drops the two options
    that would end QEMU: the isa-debug-exit device and ``-no-reboot``.
    """
    argv = qemu.qemu_argv(Path(image), memory_mib)
    out: list[str] = []
    skip = False
    for i, arg in enumerate(argv):
        if skip:
            skip = False
            continue
        if arg == "-no-reboot":
            continue
        if arg == "-device" and i + 1 < len(argv) and argv[i + 1].startswith("isa-debug-exit"):
            skip = True
            continue
        out.append(arg)
    return out + ["-action", "reboot=shutdown,shutdown=pause"]


SETPRIV = "setpriv"  # util-linux


def die_with_parent(argv: list[str]) -> list[str]:
    """``argv`` run through ``setpriv --pdeathsig KILL``: a guest must not outlive spacer,
    even when spacer is killed outright.

    The kernel's parent-death signal is set by setpriv in the child, after the fork,
    instead of by a Python ``preexec_fn``: forking while another thread runs (rich's
    refresh thread) and then running Python code in the child can deadlock. If setpriv
    cannot set the signal it exits with its message, and the guest counts as failed.
    """
    tool = shutil.which(SETPRIV)
    if tool is None:
        raise ToolMissing(f"{SETPRIV} not found, needed to stop guests if spacer dies",
                          hint="install util-linux")
    return [tool, "--pdeathsig", "KILL", "--", *argv]


@dataclass
class Guest:
    image: Path
    proc: subprocess.Popen
    log: Path

    def output(self) -> bytes:
        try:
            return self.log.read_bytes()
        except FileNotFoundError:
            return b""


def stop_guests(guests: list[Guest], grace: float = 5.0) -> None:
    """Terminate, then kill what is still running, and reap every process."""
    for g in guests:
        if g.proc.poll() is None:
            g.proc.terminate()
    deadline = time.monotonic() + grace
    for g in guests:
        try:
            g.proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            g.proc.kill()
            g.proc.wait()


def _wait_booted(guests: list[Guest], timeout: float, settle: float) -> None:
    """Wait until every guest has printed and then gone quiet for ``settle`` seconds."""
    start = time.monotonic()
    sizes = {id(g): -1 for g in guests}
    since = {id(g): start for g in guests}
    while True:
        now = time.monotonic()
        pending = 0
        for g in guests:
            if g.proc.poll() is not None:
                err = g.log.with_suffix(".err").read_text("utf-8", "replace").strip()
                first = err.splitlines()[0] if err else f"exit status {g.proc.returncode}"
                raise ExternalFailure(f"QEMU stopped before the measurement: {first}", g.image)
            size = len(g.output())
            if size != sizes[id(g)]:
                sizes[id(g)], since[id(g)] = size, now
            if size == 0 or now - since[id(g)] < settle:
                pending += 1
        if not pending:
            return
        if now - start > timeout:
            silent = [g for g in guests if sizes[id(g)] == 0]
            if silent:
                raise ExternalFailure(f"guest printed nothing in {timeout:.0f} s", silent[0].image,
                                      "does it boot with `qemu-system-x86_64 -kernel`?")
            return  # still printing: measure anyway, the counters wait will follow it
        time.sleep(0.1)


@contextmanager
def running_guests(images: list[Path], memory_mib: int = 32, boot_timeout: float = 60.0,
                   settle: float = 1.0) -> Iterator[list[Guest]]:
    """Start one guest per entry of ``images``; stop them all on exit, even on Ctrl-C."""
    guests: list[Guest] = []
    with tempfile.TemporaryDirectory(prefix="spacer-guests-") as tmp:
        try:
            for i, image in enumerate(images):
                qemu.check_image(Path(image))
                log = Path(tmp) / f"{i}.out"
                with log.open("wb") as out, log.with_suffix(".err").open("wb") as err:
                    # Own session: Ctrl-C reaches spacer only, which then stops them in order.
                    proc = subprocess.Popen(
                        die_with_parent(guest_argv(Path(image), memory_mib)),
                        stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                        start_new_session=True)
                guests.append(Guest(Path(image), proc, log))
            _wait_booted(guests, boot_timeout, settle)
            yield guests
        finally:
            stop_guests(guests)


def qemu_available() -> None:
    """Raise ToolMissing now rather than after KSM was switched on."""
    qemu.qemu_binary()
