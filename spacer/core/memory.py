"""Measure the host memory a running fleet really uses, with KSM merging its pages.

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
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from spacer.core import qemu
from spacer.core.errors import BadInput, ExternalFailure, ToolMissing
from spacer.core.ksm import Session
from spacer.core.pages import PAGE_SIZE, PageStats, fleet_page_stats

SETS = ("original", "aligned")
Progress = Callable[[str], None]


def guest_argv(image: Path, memory_mib: int = 32) -> list[str]:
    """QEMU's argv for a guest that stays resident after it is done.

    Starts from :func:`spacer.core.qemu.qemu_argv` and drops the two options
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


def _mergeable_ranges(pid: int) -> list[tuple[int, int, int]]:
    """(start, end, Rss in KiB) of every mapping whose VmFlags hold ``mg``."""
    ranges = []
    start = end = rss = 0
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split(None, 1)[0]
            if "-" in head and not head.endswith(":"):
                lo, hi = head.split("-")
                start, end, rss = int(lo, 16), int(hi, 16), 0
            elif head == "Rss:":
                rss = int(line.split()[1])
            elif head == "VmFlags:" and "mg" in line.split()[1:]:
                ranges.append((start, end, rss))
    return ranges


def mergeable_resident_pages(pid: int) -> int:
    """Resident 4 KiB pages of the process's KSM-mergeable mappings (its guest RAM)."""
    return sum(rss for _, _, rss in _mergeable_ranges(pid)) * 1024 // PAGE_SIZE


def mergeable_frames(pids: list[int]) -> set[int] | None:
    """Physical frame numbers behind the mergeable pages of ``pids`` (None without root).

    A cross-check of the counters that no other KSM user on the host can skew.
    """
    frames: set[int] = set()
    present = 0
    for pid in pids:
        with open(f"/proc/{pid}/pagemap", "rb") as pm:
            for start, end, _ in _mergeable_ranges(pid):
                pm.seek(start // PAGE_SIZE * 8)
                raw = pm.read((end - start) // PAGE_SIZE * 8)
                for entry in memoryview(raw).cast("Q"):
                    if entry >> 63:  # page present
                        present += 1
                        frames.add(entry & ((1 << 55) - 1))
    if present and frames == {0}:
        return None  # the kernel hides frame numbers from non-root readers
    return frames


def merging_pages(pids: list[int]) -> int | None:
    """Pages of ``pids`` that KSM has merged (``/proc/PID/ksm_merging_pages``, Linux 6.1+)."""
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/ksm_merging_pages").read_text())
        except (FileNotFoundError, ValueError):
            return None
    return total


@dataclass
class SetMeasurement:
    """One set (original or aligned) of guests, measured after KSM settled.

    ``frames`` is the headline: resident mergeable guest pages minus the KSM
    mappings that point at a frame already counted. The global
    ``pages_sharing`` counts every KSM user on the host (another QEMU
    running beside us inflates it), so when ``/proc/PID/pagemap`` shows the
    frame numbers (root) the frames are counted there, distinct, and
    ``method`` says which way was used.
    """

    label: str
    instances: int  # per app
    guests: int
    resident_pages: int
    frames: int  # physical frames the guests really hold
    frames_saved: int  # resident_pages - frames
    method: str  # "pagemap" or "pages_sharing"
    pages_shared: int  # global KSM counters, as read
    pages_sharing: int
    ksm_seconds: float
    ksm_scans: int
    stable: bool

    @property
    def mib(self) -> float:
        return self.frames * PAGE_SIZE / 2**20


def measure_set(session: Session, images: list[Path], instances: int, label: str,
                memory_mib: int = 32, timeout: float = 120.0, scans: int = 3,
                progress: Progress | None = None) -> SetMeasurement:
    """Boot ``instances`` guests of every image, let KSM settle, read, stop them."""
    say = progress or (lambda _msg: None)
    todo = [img for img in images for _ in range(instances)]
    say(f"{label}: booting {len(todo)} guests")
    with running_guests(todo, memory_mib) as guests:
        say(f"{label}: waiting for KSM to settle")
        pids = [g.proc.pid for g in guests]
        # Watch only our guests' merged pages when the kernel tells them apart.
        probe = (lambda: merging_pages(pids)) if merging_pages(pids) is not None else None
        waited = session.wait_stable(scans=scans, timeout=timeout, probe=probe)
        resident = sum(mergeable_resident_pages(pid) for pid in pids)
        counters = session.counters()
        held = mergeable_frames(pids)
    if held is not None:
        frames, method = len(held), "pagemap"
    else:
        frames, method = resident - counters.pages_sharing, "pages_sharing"
    return SetMeasurement(
        label=label, instances=instances, guests=len(todo), resident_pages=resident,
        frames=frames, frames_saved=resident - frames, method=method,
        pages_shared=counters.pages_shared, pages_sharing=counters.pages_sharing,
        ksm_seconds=round(waited.seconds, 2), ksm_scans=waited.scans, stable=waited.stable)


def load_manifest(path: Path, apps: list[str] | None = None) -> dict[str, dict[str, Path]]:
    """``manifest.json`` -> {app: {"original": image, "aligned": image}} for the chosen apps."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        entries = data["apps"]
        table = {app: {s: Path(entry[s]["image"]) for s in SETS} for app, entry in entries.items()}
    except FileNotFoundError:
        raise BadInput("no manifest.json", path, "run `spacer align` first") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BadInput(f"not a spacer manifest ({type(exc).__name__}: {exc})", path) from None
    if apps:
        unknown = sorted(set(apps) - set(table))
        if unknown:
            raise BadInput(f"no app {unknown[0]!r} in the manifest", path,
                           f"known: {', '.join(sorted(table))}")
        table = {app: table[app] for app in apps}
    if not table:
        raise BadInput("the manifest lists no apps", path)
    for sets in table.values():
        for image in sets.values():
            if not image.is_file():
                raise BadInput("image listed in the manifest is missing", image,
                               "rerun `spacer align`")
    return table


def instance_steps(k: int) -> list[int]:
    """1, 2, 4, ... up to ``k``, ``k`` always last."""
    steps, n = [], 1
    while n < k:
        steps.append(n)
        n *= 2
    return steps + [k]


@dataclass
class FleetMemory:
    apps: list[str]
    memory_mib: int
    # One measurement per instance count, for each set.
    original: list[SetMeasurement] = field(default_factory=list)
    aligned: list[SetMeasurement] = field(default_factory=list)
    static: dict[str, PageStats] = field(default_factory=dict)

    def predicted_pages(self, label: str) -> int:
        """Static prediction: distinct page contents of the set's images."""
        s = self.static[label]
        return s.readonly.distinct + s.writable.distinct


def measure_fleet(session: Session, manifest: dict[str, dict[str, Path]], counts: list[int],
                  memory_mib: int = 32, timeout: float = 120.0,
                  progress: Progress | None = None) -> FleetMemory:
    """For each instance count: the original set, stopped, then the aligned set."""
    result = FleetMemory(sorted(manifest), memory_mib)
    for label in SETS:
        result.static[label] = fleet_page_stats([manifest[a][label] for a in result.apps])
    for k in counts:
        for label in SETS:
            images = [manifest[a][label] for a in result.apps]
            m = measure_set(session, images, k, label, memory_mib, timeout, progress=progress)
            getattr(result, label).append(m)
    return result


def as_json(result: FleetMemory) -> dict:
    """Plain data for ``--json``: every measurement plus the static prediction."""
    def one(m: SetMeasurement) -> dict:
        return {**asdict(m), "mib": round(m.mib, 3)}

    return {
        "apps": result.apps,
        "memory_mib": result.memory_mib,
        "original": [one(m) for m in result.original],
        "aligned": [one(m) for m in result.aligned],
        "static": {k: asdict(v) for k, v in result.static.items()},
        "predicted_pages": {k: result.predicted_pages(k) for k in result.static},
    }


def qemu_available() -> None:
    """Raise ToolMissing now rather than after KSM was switched on."""
    qemu.qemu_binary()
