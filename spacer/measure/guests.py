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


# A lean QEMU: no ACPI tables, so no blocks for them in host memory (``-nodefaults``
# is in every QEMU line already). Only for images that boot without ACPI.
LEAN_OPTIONS = ("-machine", "pc,acpi=off")


def guest_argv(image: Path, memory_mib: int = 32, lean: bool = False,
               qmp: Path | None = None, extra: tuple[str, ...] = ()) -> list[str]:
    """QEMU's argv for a guest that stays resident after it is done.

    Starts from :func:`spacer.measure.qemu.qemu_argv` and drops the two options
    that would end QEMU: the isa-debug-exit device and ``-no-reboot``. ``lean`` adds
    :data:`LEAN_OPTIONS`; ``qmp``, a QMP socket to ask QEMU for its RAM blocks;
    ``extra``, more options (booting from the pool).
    """
    extra = (*(LEAN_OPTIONS if lean else ()), *extra)
    if qmp is not None:
        extra = (*extra, "-qmp", f"unix:{qmp},server=on,wait=off")
    argv = qemu.qemu_argv(Path(image), memory_mib, extra=extra)
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


@dataclass(frozen=True)
class Launch:
    """One guest to start: the image QEMU boots, the QEMU options it adds, and the image
    whose pages the guest sees once loaded (for the split; by default the one booted:
    a guest booted from the pool sees its full aligned image)."""

    image: Path
    extra: tuple[str, ...] = ()
    content: Path | None = None

    @property
    def seen(self) -> Path:
        return self.content or self.image


@dataclass
class Guest:
    image: Path
    proc: subprocess.Popen
    log: Path
    qmp: Path | None = None

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


CRASH_MARKERS = ("Assertion failure", "CRIT:")  # what a Unikraft guest prints as it dies


def crash_line(output: str) -> str | None:
    """The first line of ``output`` that says the guest crashed, if any."""
    for line in output.splitlines():
        if any(marker in line for marker in CRASH_MARKERS):
            return line.strip()
    return None


def check_not_crashed(guests: list[Guest], lean: bool) -> None:
    """A crashed guest is no measurement of a running one: one line naming it."""
    for g in guests:
        line = crash_line(g.output().decode("utf-8", "replace"))
        if line is not None:
            hint = ("it may need ACPI: run without --lean" if lean
                    else "does it boot with `qemu-system-x86_64 -kernel`?")
            raise ExternalFailure(f"guest crashed: {line}", g.image, hint)


def check_running(guests: list[Guest]) -> None:
    """One line naming the first guest whose QEMU has stopped, with its first error."""
    for g in guests:
        if g.proc.poll() is not None:
            err = g.log.with_suffix(".err").read_text("utf-8", "replace").strip()
            first = err.splitlines()[0] if err else f"exit status {g.proc.returncode}"
            raise ExternalFailure(f"QEMU stopped before the measurement: {first}", g.image)


def _wait_booted(guests: list[Guest], timeout: float, settle: float) -> None:
    """Wait until every guest has printed and then gone quiet for ``settle`` seconds."""
    start = time.monotonic()
    sizes = {id(g): -1 for g in guests}
    since = {id(g): start for g in guests}
    while True:
        now = time.monotonic()
        pending = 0
        check_running(guests)
        for g in guests:
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
                   settle: float = 1.0, lean: bool = False, qmp: bool = False,
                   wait: bool = True,
                   extras: list[tuple[str, ...]] | None = None) -> Iterator[list[Guest]]:
    """Start one guest per entry of ``images``; stop them all on exit, even on Ctrl-C.
    With ``wait`` (the default), yield once every guest booted and went quiet; ``qmp``
    gives each guest a QMP socket (:attr:`Guest.qmp`); ``extras``, more QEMU options
    per guest."""
    guests: list[Guest] = []
    with tempfile.TemporaryDirectory(prefix="spacer-guests-") as tmp:
        try:
            for i, image in enumerate(images):
                qemu.check_image(Path(image))
                log = Path(tmp) / f"{i}.out"
                sock = Path(tmp) / f"{i}.qmp" if qmp else None
                with log.open("wb") as out, log.with_suffix(".err").open("wb") as err:
                    # Own session: Ctrl-C reaches spacer only, which then stops them in order.
                    proc = subprocess.Popen(
                        die_with_parent(guest_argv(Path(image), memory_mib, lean, sock,
                                                   extras[i] if extras else ())),
                        stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                        start_new_session=True)
                guests.append(Guest(Path(image), proc, log, sock))
            if wait:
                _wait_booted(guests, boot_timeout, settle)
                check_not_crashed(guests, lean)
            yield guests
        finally:
            stop_guests(guests)


def qemu_available() -> None:
    """Raise ToolMissing now rather than after KSM was switched on."""
    qemu.qemu_binary()
