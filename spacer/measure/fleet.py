"""The memory of a fleet: sets of guests measured one after the other (original, then
aligned), at growing numbers of instances or of different apps, and its JSON."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from spacer.core.errors import BadInput
from spacer.core.formats.manifest import read_manifest
from spacer.core.sharing.pages import (
    PAGE_SIZE,
    Page,
    image_pages,
    page_stats,
)
from spacer.measure.frames import (
    ImageFacts,
    Split,
    frame_digests,
    guest_frames,
    image_content,
    mergeable_resident_pages,
    merging_pages,
    resident_by_block,
    split_frames,
)
from spacer.measure.guests import LEAN_OPTIONS, Launch, running_guests
from spacer.measure.ksm import RUN, Session, Wait
from spacer.measure.ramblocks import query_ramblocks
from spacer.measure.timeline import Timeline

Progress = Callable[[str], None]


@dataclass(frozen=True)
class SetKind:
    """A set of guests: which images it boots (``source``), and whether KSM runs."""

    label: str
    source: str  # "original", "aligned" or "pooled" (booted from the pool, -c)
    ksm: bool


# In the order they are measured. Without KSM, a set is counted once its guests
# booted and went quiet; with it, once KSM settled.
SET_KINDS = {k.label: k for k in (
    SetKind("original_no_ksm", "original", False),
    SetKind("original", "original", True),
    SetKind("aligned", "aligned", True),
    SetKind("pooled_no_ksm", "pooled", False),
    SetKind("pooled", "pooled", True),
)}
PLAIN_SETS = ("original", "aligned")
POOL_SETS = tuple(SET_KINDS)

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
    split: Split | None = None  # the frames in four parts (method "pagemap" only)
    predicted_pages: int = 0  # static prediction: distinct page contents of the images
    seconds: float = 0.0  # the whole set: boot, KSM wait, reading, stopping
    # QEMU's firmware blocks (BIOS, ROMs, ACPI tables) before KSM: resident pages of
    # all guests, in all and by block name; after KSM they are the split's firmware part.
    firmware_pages: int = 0
    firmware_blocks: dict[str, int] = field(default_factory=dict)

    @property
    def mib(self) -> float:
        return self.frames * PAGE_SIZE / 2**20


def measure_set(session: Session, images: list[Path | Launch], instances: int, label: str,
                memory_mib: int = 32, timeout: float = 120.0, scans: int = 3,
                progress: Progress | None = None,
                contents: dict[Path, ImageFacts] | None = None,
                lean: bool = False, ksm: bool = True) -> SetMeasurement:
    """Boot ``instances`` guests of every image, let KSM settle, read, stop them.
    Without ``ksm``, KSM is paused for the set, and the guests are read once they
    booted and went quiet.

    With frame numbers readable (root), the frames are also split into image pages
    shared across guests, image pages of one guest, and runtime memory
    (:func:`split_frames`); ``contents`` caches :func:`image_content` per image.
    """
    say = progress or (lambda _msg: None)
    contents = {} if contents is None else contents
    start = time.monotonic()
    todo = [img if isinstance(img, Launch) else Launch(Path(img))
            for img in images for _ in range(instances)]
    seen = [launch.seen for launch in todo]
    for image in set(seen) - set(contents):
        contents[image] = image_content(image)
    say(f"{label}: booting {len(todo)} guests")
    session.set({RUN: "1" if ksm else "0"})
    try:
        # Many guests boot slower on few cores: half a second more per guest.
        with running_guests([t.image for t in todo], memory_mib,
                            boot_timeout=60.0 + 0.5 * len(todo), lean=lean, qmp=True,
                            extras=[t.extra for t in todo]) as guests:
            pids = [g.proc.pid for g in guests]
            blocks = [query_ramblocks(g.qmp) for g in guests]
            if ksm:
                say(f"{label}: {len(todo)} guests: waiting for KSM to settle")
                # Watch only our guests' merged pages when the kernel tells them apart.
                probe = ((lambda: merging_pages(pids)) if merging_pages(pids) is not None
                         else None)
                waited = session.wait_stable(scans=scans, timeout=timeout, probe=probe)
            else:
                waited = Wait(session.counters(), True, 0.0, 0)
            result = _read_set(session, pids, blocks, seen, contents, memory_mib, say,
                               label)
    finally:
        session.set({RUN: "1"})
    frames, method, split, resident, counters, firmware_blocks = result
    return SetMeasurement(
        label=label, instances=instances, guests=len(todo), resident_pages=resident,
        frames=frames, frames_saved=resident - frames, method=method,
        pages_shared=counters.pages_shared, pages_sharing=counters.pages_sharing,
        ksm_seconds=round(waited.seconds, 2), ksm_scans=waited.scans, stable=waited.stable,
        split=split, seconds=round(time.monotonic() - start, 2),
        firmware_pages=sum(firmware_blocks.values()), firmware_blocks=firmware_blocks)


def _read_set(session: Session, pids: list[int], blocks: list, seen: list[Path],
              contents: dict[Path, ImageFacts], memory_mib: int, say: Progress,
              label: str) -> tuple:
    """The frames the running ``guests`` hold, and their split."""
    say(f"{label}: {len(seen)} guests: reading their frames")
    resident = sum(mergeable_resident_pages(pid) for pid in pids)
    counters = session.counters()
    held = guest_frames(pids, memory_mib << 20, [contents[img].addresses for img in seen],
                        blocks)
    digests = frame_digests(held.where) if held is not None else {}
    firmware_blocks: dict[str, int] = {}
    for pid, listed in zip(pids, blocks, strict=True):
        for name, pages in resident_by_block(pid, listed, memory_mib << 20).items():
            firmware_blocks[name] = firmware_blocks.get(name, 0) + pages
    if held is None:
        return (resident - counters.pages_sharing, "pages_sharing", None, resident, counters,
                firmware_blocks)
    split = split_frames(held.owners, digests, [contents[img].digests for img in seen],
                         held.at_image, held.firmware)
    return len(held.owners), "pagemap", split, resident, counters, firmware_blocks


def load_manifest(path: Path, apps: list[str] | None = None, pool: bool = False,
                  memory_mib: int = 32) -> dict[str, dict[str, Launch]]:
    """``manifest.json`` -> {app: {"original": launch, "aligned": launch}} for the chosen
    apps; with ``pool``, also "pooled": the app's loader image booted from the fleet's
    pool (``spacer align -c``), checked before any guest starts."""
    path = Path(path)
    try:
        manifest = read_manifest(path)
    except FileNotFoundError:
        raise BadInput("no manifest.json", path, "run `spacer align` first") from None
    table = {app: {s: Launch(Path(getattr(entry, s).image)) for s in PLAIN_SETS}
             for app, entry in manifest.apps.items()}
    if apps:
        unknown = sorted(set(apps) - set(table))
        if unknown:
            raise BadInput(f"no app {unknown[0]!r} in the manifest", path,
                           f"known: {', '.join(sorted(table))}")
        table = {app: table[app] for app in apps}
    if not table:
        raise BadInput("the manifest lists no apps", path)
    if pool:
        _add_pool(table, path, memory_mib)
    for sets in table.values():
        for launch in sets.values():
            if not launch.image.is_file():
                raise BadInput("image listed in the manifest is missing", launch.image,
                               "rerun `spacer align`")
    return table


def _add_pool(table: dict[str, dict[str, Launch]], manifest: Path, memory_mib: int) -> None:
    from spacer.core.formats.pool import read_pool
    from spacer.measure.pool import check_pool, pool_app, pool_options

    where = manifest.parent / "pool" / "pool.json"
    if not where.is_file():
        raise BadInput("--pool: no pool beside the manifest", where,
                       "align the fleet with spacer align -c")
    facts = read_pool(where)
    check_pool(facts, memory_mib, where)
    for app, sets in table.items():
        entry = pool_app(facts, app, where)
        sets["pooled"] = Launch(Path(entry.image), pool_options(facts, entry, memory_mib),
                                sets["aligned"].image)


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
    """One step of a run: the first ``apps`` apps, ``instances`` guests of each, every
    set (by label: :data:`SET_KINDS`)."""

    apps: int
    instances: int
    sets: dict[str, SetMeasurement]

    @property
    def original(self) -> SetMeasurement:
        return self.sets["original"]

    @property
    def aligned(self) -> SetMeasurement:
        return self.sets["aligned"]

    def of(self, label: str) -> SetMeasurement:
        return self.sets[label]


@dataclass
class FleetMemory:
    """A run: ``points`` vary ``x`` ("instances" per app, or "apps", the number of
    different apps); a point of n apps measured the first n of ``apps``."""

    apps: list[str]  # sorted by name
    memory_mib: int
    x: str = "instances"
    points: list[Point] = field(default_factory=list)
    seconds: float = 0.0
    lean: bool = False  # QEMU ran with LEAN_OPTIONS
    timeline: Timeline | None = None
    labels: tuple[str, ...] = PLAIN_SETS  # the sets of each point, in order

    @property
    def original(self) -> list[SetMeasurement]:
        return [p.original for p in self.points]

    @property
    def aligned(self) -> list[SetMeasurement]:
        return [p.aligned for p in self.points]

    def of(self, label: str) -> list[SetMeasurement]:
        return [p.of(label) for p in self.points]


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


def _measure_point(session: Session, manifest: dict[str, dict[str, Launch]], apps: list[str],
                   instances: int, images: _Images, memory_mib: int, timeout: float,
                   progress: Progress | None, prefix: str = "", lean: bool = False,
                   labels: tuple[str, ...] = PLAIN_SETS) -> Point:
    """Each set of ``labels`` of ``apps`` in turn, each stopped before the next starts."""
    def say(msg: str) -> None:
        if progress is not None:
            progress(prefix + msg)

    sets = {}
    for label in labels:
        kind = SET_KINDS[label]
        chosen = [manifest[a][kind.source] for a in apps]
        predicted = images.predicted([c.seen for c in chosen])
        m = measure_set(session, chosen, instances, label, memory_mib, timeout,
                        progress=say, contents=images.contents, lean=lean, ksm=kind.ksm)
        m.predicted_pages = predicted
        sets[label] = m
    return Point(len(apps), instances, sets)


def measure_fleet(session: Session, manifest: dict[str, dict[str, Launch]], counts: list[int],
                  memory_mib: int = 32, timeout: float = 120.0,
                  progress: Progress | None = None, lean: bool = False,
                  labels: tuple[str, ...] = PLAIN_SETS) -> FleetMemory:
    """For each instance count: every app's sets of ``labels``, one after the other."""
    start = time.monotonic()
    result = FleetMemory(sorted(manifest), memory_mib, "instances", lean=lean, labels=labels)
    images = _Images()
    for k in counts:
        result.points.append(_measure_point(session, manifest, result.apps, k, images,
                                            memory_mib, timeout, progress, lean=lean,
                                            labels=labels))
    result.seconds = round(time.monotonic() - start, 1)
    return result


def measure_sweep(session: Session, manifest: dict[str, dict[str, Launch]],
                  app_counts: list[int], instances: int = 1, memory_mib: int = 32,
                  timeout: float = 120.0, progress: Progress | None = None,
                  lean: bool = False, labels: tuple[str, ...] = PLAIN_SETS) -> FleetMemory:
    """For each n of ``app_counts`` (ascending): the first n apps by name, ``instances``
    guests each, the sets of ``labels`` one after the other."""
    start = time.monotonic()
    result = FleetMemory(sorted(manifest), memory_mib, "apps", lean=lean, labels=labels)
    images = _Images()
    for n in app_counts:
        result.points.append(_measure_point(session, manifest, result.apps[:n], instances,
                                            images, memory_mib, timeout, progress,
                                            f"{n} apps, ", lean=lean, labels=labels))
    result.seconds = round(time.monotonic() - start, 1)
    return result


# 2: the split's runtime part no longer holds QEMU's firmware blocks, a part of their own.
JSON_VERSION = 2


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
        "lean": result.lean,
        "qemu_options": list(LEAN_OPTIONS) if result.lean else [],
        "sets": list(result.labels),
        "points": [{"apps": p.apps, "instances": p.instances, "guests": p.original.guests,
                    **{label: set_json(m) for label, m in p.sets.items()}}
                   for p in result.points],
        "timeline": None if result.timeline is None else result.timeline.to_json(),
    }
