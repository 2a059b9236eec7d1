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

With the frame numbers (root), the frames are also split by what they hold
(:func:`split_frames`): pages of the guests' images, shared across guests or
private to one, and runtime memory. Each frame is read once through
``/proc/PID/mem`` and compared with the images' page digests.
"""

from __future__ import annotations

import json
import os
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
from spacer.core.pages import (PAGE_SIZE, ZERO_DIGEST, Page, image_pages, page_digest,
                               page_stats)

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


PRESENT = 1 << 63  # /proc/PID/pagemap entry: page present in RAM
PFN_MASK = (1 << 55) - 1  # its bits 0-54: the frame number (hidden from non-root readers)


@dataclass
class GuestFrames:
    """The physical frames behind the mergeable (guest RAM) pages of some guests.

    ``owners`` maps each frame to the guests (indices into the pid list) that map it;
    ``where`` gives, per frame, one guest pid and virtual address to read it through.
    ``at_image`` holds the frames that some guest maps at a guest-physical address its
    own image loads to (None when that was not asked for or a guest's RAM was not found).
    """

    owners: dict[int, set[int]]
    where: dict[int, tuple[int, int]]
    present: int  # present pages (mappings), before merging
    at_image: set[int] | None = None


def guest_frames(pids: list[int], ram_bytes: int | None = None,
                 image_addresses: list[frozenset[int]] | None = None) -> GuestFrames | None:
    """Read ``/proc/PID/pagemap`` over the mergeable ranges of every pid (None when
    the kernel hides frame numbers, i.e. without root).

    With ``ram_bytes`` (the guest's RAM size) and ``image_addresses`` (per guest, the
    page addresses its image loads to), also find ``at_image``. QEMU's pc machine
    backs the guest's RAM with one mapping of exactly that size, guest-physical
    address 0 at its start, so an address in it is the guest-physical address.
    """
    owners: dict[int, set[int]] = {}
    where: dict[int, tuple[int, int]] = {}
    at_image: set[int] | None = set() if ram_bytes and image_addresses is not None else None
    present = 0
    for index, pid in enumerate(pids):
        ranges = _mergeable_ranges(pid)
        ram = None
        if at_image is not None:
            ram = next((start for start, end, _ in ranges if end - start == ram_bytes), None)
            if ram is None:
                at_image = None  # not the layout assumed: leave the detail out
        with open(f"/proc/{pid}/pagemap", "rb") as pm:
            for start, end, _ in ranges:
                pm.seek(start // PAGE_SIZE * 8)
                raw = pm.read((end - start) // PAGE_SIZE * 8)
                mine = (image_addresses[index] if at_image is not None and start == ram
                        else None)
                for i, entry in enumerate(memoryview(raw).cast("Q")):
                    if not entry & PRESENT:
                        continue
                    present += 1
                    pfn = entry & PFN_MASK
                    seen = owners.get(pfn)
                    if seen is None:
                        owners[pfn] = {index}
                        where[pfn] = (pid, start + i * PAGE_SIZE)
                    else:
                        seen.add(index)
                    if mine is not None and i * PAGE_SIZE in mine:
                        at_image.add(pfn)
    if present and set(owners) == {0}:
        return None
    return GuestFrames(owners, where, present, at_image)


def frame_digests(where: dict[int, tuple[int, int]]) -> dict[int, bytes]:
    """The digest (:func:`spacer.core.pages.page_digest`) of each frame's 4 KiB, read
    through ``/proc/PID/mem`` at the address ``where`` gives. Only present pages are
    read, so reading faults nothing in and breaks no merge. A frame that cannot be
    read (the guest unmapped it meanwhile) is left out."""
    digests: dict[int, bytes] = {}
    fds: dict[int, int] = {}
    try:
        for pfn, (pid, addr) in where.items():
            fd = fds.get(pid)
            if fd is None:
                fd = fds[pid] = os.open(f"/proc/{pid}/mem", os.O_RDONLY)
            try:
                data = os.pread(fd, PAGE_SIZE, addr)
            except OSError:
                continue
            if len(data) == PAGE_SIZE:
                digests[pfn] = page_digest(data)
    finally:
        for fd in fds.values():
            os.close(fd)
    return digests


@dataclass(frozen=True)
class Split:
    """The frames a set of guests holds, in three parts that add up to its frames.

    A frame is *image* content when its 4 KiB equal a non-zero page of the loaded
    image (:func:`spacer.core.pages.image_pages`) of a guest that maps it; it is
    *shared* when two or more guests map it. Everything else is *runtime* memory:
    stacks, heap, firmware, zero pages, and pages of the image the guest wrote to.
    Three details of the runtime part, which may overlap: ``runtime_shared`` frames
    two or more guests map, ``runtime_zero`` frames of zeros, and ``runtime_written``
    frames with other content that a guest maps at an address its image loads to
    (data and bss it wrote; None when not measured).
    """

    image_shared: int
    image_private: int
    runtime: int
    runtime_shared: int = 0
    runtime_zero: int = 0
    runtime_written: int | None = None

    @property
    def frames(self) -> int:
        return self.image_shared + self.image_private + self.runtime


def split_frames(owners: dict[int, set[int]], digests: dict[int, bytes],
                 images: list[frozenset[bytes]], at_image: set[int] | None = None) -> Split:
    """Sort frames into image pages shared across guests, image pages of one guest,
    and runtime memory. ``owners``: frame -> guest indices; ``digests``: frame ->
    content digest; ``images[i]``: the non-zero page digests of guest i's image;
    ``at_image``: the frames mapped at an address of the mapping guest's image."""
    shared = private = runtime = runtime_shared = runtime_zero = written = 0
    for pfn, guests in owners.items():
        digest = digests.get(pfn)
        many = len(guests) >= 2
        if digest is not None and any(digest in images[g] for g in guests):
            if many:
                shared += 1
            else:
                private += 1
        else:
            runtime += 1
            runtime_shared += many
            zero = digest == ZERO_DIGEST
            runtime_zero += zero
            written += not zero and at_image is not None and pfn in at_image
    return Split(shared, private, runtime, runtime_shared, runtime_zero,
                 written if at_image is not None else None)


@dataclass(frozen=True)
class ImageFacts:
    """What the split needs of one image as loaded: its non-zero page contents, and
    the addresses of all its pages (``p_vaddr``, which Unikraft images load at:
    their ``p_paddr`` is the same)."""

    digests: frozenset[bytes]
    addresses: frozenset[int]

    @classmethod
    def of(cls, pages: list[Page]) -> ImageFacts:
        return cls(frozenset(p.digest for p in pages if not p.zero),
                   frozenset(p.vaddr for p in pages))


def image_content(image: Path) -> ImageFacts:
    """:class:`ImageFacts` of the image file ``image``."""
    return ImageFacts.of(image_pages(Path(image)))


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
    ``method`` says which way was used. Only then is ``split`` known.
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
    split: Split | None = None  # the frames in three parts (method "pagemap" only)
    predicted_pages: int = 0  # static prediction: distinct page contents of the images
    seconds: float = 0.0  # the whole set: boot, KSM wait, reading, stopping

    @property
    def mib(self) -> float:
        return self.frames * PAGE_SIZE / 2**20


def measure_set(session: Session, images: list[Path], instances: int, label: str,
                memory_mib: int = 32, timeout: float = 120.0, scans: int = 3,
                progress: Progress | None = None,
                contents: dict[Path, ImageFacts] | None = None) -> SetMeasurement:
    """Boot ``instances`` guests of every image, let KSM settle, read, stop them.

    With frame numbers readable (root), the frames are also split into image pages
    shared across guests, image pages of one guest, and runtime memory
    (:func:`split_frames`); ``contents`` caches :func:`image_content` per image.
    """
    say = progress or (lambda _msg: None)
    contents = {} if contents is None else contents
    start = time.monotonic()
    todo = [Path(img) for img in images for _ in range(instances)]
    for image in set(todo) - set(contents):
        contents[image] = image_content(image)
    say(f"{label}: booting {len(todo)} guests")
    # Many guests boot slower on few cores: half a second more per guest.
    with running_guests(todo, memory_mib, boot_timeout=60.0 + 0.5 * len(todo)) as guests:
        say(f"{label}: {len(todo)} guests: waiting for KSM to settle")
        pids = [g.proc.pid for g in guests]
        # Watch only our guests' merged pages when the kernel tells them apart.
        probe = (lambda: merging_pages(pids)) if merging_pages(pids) is not None else None
        waited = session.wait_stable(scans=scans, timeout=timeout, probe=probe)
        say(f"{label}: {len(todo)} guests: reading their frames")
        resident = sum(mergeable_resident_pages(pid) for pid in pids)
        counters = session.counters()
        held = guest_frames(pids, memory_mib << 20, [contents[img].addresses for img in todo])
        digests = frame_digests(held.where) if held is not None else {}
    split = None
    if held is not None:
        frames, method = len(held.owners), "pagemap"
        split = split_frames(held.owners, digests, [contents[img].digests for img in todo],
                             held.at_image)
    else:
        frames, method = resident - counters.pages_sharing, "pages_sharing"
    return SetMeasurement(
        label=label, instances=instances, guests=len(todo), resident_pages=resident,
        frames=frames, frames_saved=resident - frames, method=method,
        pages_shared=counters.pages_shared, pages_sharing=counters.pages_sharing,
        ksm_seconds=round(waited.seconds, 2), ksm_scans=waited.scans, stable=waited.stable,
        split=split, seconds=round(time.monotonic() - start, 2))


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


def sweep_steps(counts: list[int], available: int, manifest: Path) -> list[int]:
    """The app counts of a sweep, ascending and each once; every one between 1 and the
    ``available`` apps (else one line naming the ``manifest``)."""
    steps = sorted(set(counts))
    if not steps or steps[0] < 1:
        raise BadInput(f"--sweep needs app counts of at least 1, not {steps[0] if steps else ''}",
                       manifest, "e.g. --sweep 10 25 50 100")
    if steps[-1] > available:
        raise BadInput(f"--sweep {steps[-1]} needs {steps[-1]} apps, the manifest lists "
                       f"{available}", manifest,
                       f"give counts up to {available}, or align more apps")
    return steps


@dataclass
class Point:
    """One step of a run: the first ``apps`` apps, ``instances`` guests of each, both sets."""

    apps: int
    instances: int
    original: SetMeasurement
    aligned: SetMeasurement

    def of(self, label: str) -> SetMeasurement:
        return self.original if label == "original" else self.aligned


@dataclass
class FleetMemory:
    """A run: ``points`` vary ``x`` ("instances" per app, or "apps", the number of
    different apps); a point of n apps measured the first n of ``apps``."""

    apps: list[str]  # sorted by name
    memory_mib: int
    x: str = "instances"
    points: list[Point] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def original(self) -> list[SetMeasurement]:
        return [p.original for p in self.points]

    @property
    def aligned(self) -> list[SetMeasurement]:
        return [p.aligned for p in self.points]


class _Images:
    """Each image cut into pages once per run, for the predictions and the split."""

    def __init__(self) -> None:
        self.pages: dict[Path, list[Page]] = {}
        self.contents: dict[Path, ImageFacts] = {}

    def predicted(self, images: list[Path]) -> int:
        for image in images:
            if image not in self.pages:
                self.pages[image] = image_pages(image)
                self.contents[image] = ImageFacts.of(self.pages[image])
        stats = page_stats([self.pages[image] for image in images])
        return stats.readonly.distinct + stats.writable.distinct


def _measure_point(session: Session, manifest: dict[str, dict[str, Path]], apps: list[str],
                   instances: int, images: _Images, memory_mib: int, timeout: float,
                   progress: Progress | None, prefix: str = "") -> Point:
    """The original set of ``apps``, stopped, then the aligned set."""
    def say(msg: str) -> None:
        if progress is not None:
            progress(prefix + msg)

    sets = {}
    for label in SETS:
        chosen = [manifest[a][label] for a in apps]
        predicted = images.predicted(chosen)
        m = measure_set(session, chosen, instances, label, memory_mib, timeout,
                        progress=say, contents=images.contents)
        m.predicted_pages = predicted
        sets[label] = m
    return Point(len(apps), instances, sets["original"], sets["aligned"])


def measure_fleet(session: Session, manifest: dict[str, dict[str, Path]], counts: list[int],
                  memory_mib: int = 32, timeout: float = 120.0,
                  progress: Progress | None = None) -> FleetMemory:
    """For each instance count: every app's original set, stopped, then the aligned set."""
    start = time.monotonic()
    result = FleetMemory(sorted(manifest), memory_mib, "instances")
    images = _Images()
    for k in counts:
        result.points.append(_measure_point(session, manifest, result.apps, k, images,
                                            memory_mib, timeout, progress))
    result.seconds = round(time.monotonic() - start, 1)
    return result


def measure_sweep(session: Session, manifest: dict[str, dict[str, Path]], app_counts: list[int],
                  instances: int = 1, memory_mib: int = 32, timeout: float = 120.0,
                  progress: Progress | None = None) -> FleetMemory:
    """For each n of ``app_counts`` (ascending): the first n apps by name, ``instances``
    guests each, original set then aligned set."""
    start = time.monotonic()
    result = FleetMemory(sorted(manifest), memory_mib, "apps")
    images = _Images()
    for n in app_counts:
        result.points.append(_measure_point(session, manifest, result.apps[:n], instances,
                                            images, memory_mib, timeout, progress,
                                            f"{n} apps, "))
    result.seconds = round(time.monotonic() - start, 1)
    return result


JSON_VERSION = 1


def set_json(m: SetMeasurement) -> dict:
    """One set's figures as plain data (see the README for the fields)."""
    out = {**asdict(m), "mib": round(m.mib, 3)}
    out["split"] = None if m.split is None else {**asdict(m.split), "frames": m.split.frames}
    return out


def as_json(result: FleetMemory) -> dict:
    """Plain data for ``--json`` and ``--json-out``, version :data:`JSON_VERSION`."""
    return {
        "version": JSON_VERSION,
        "x": result.x,
        "apps": result.apps,
        "memory_mib": result.memory_mib,
        "page_size": PAGE_SIZE,
        "seconds": result.seconds,
        "points": [{"apps": p.apps, "instances": p.instances, "guests": p.original.guests,
                    "original": set_json(p.original), "aligned": set_json(p.aligned)}
                   for p in result.points],
    }


def qemu_available() -> None:
    """Raise ToolMissing now rather than after KSM was switched on."""
    qemu.qemu_binary()
