"""Time to sharing: a set's frames sampled every second from the moment its guests
start, at a given KSM scan rate. A function instance that lives for seconds is
never merged (DESIGN.md section 10); this shows how long merging takes.

Every series is taken the same way: no guest of any other series running, KSM's
rate set before the guests start, samples due at whole intervals from the start.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from spacer.measure import ksm
from spacer.measure.frames import guest_frames, mergeable_resident_pages
from spacer.measure.guests import (
    Guest,
    Launch,
    check_not_crashed,
    check_running,
    running_guests,
)

Progress = Callable[[str], None]

# The kernel's default rate against the bench's own (fast) one.
RATES = {"default": ksm.KERNEL_DEFAULT_SCAN, "fast": ksm.FAST_SCAN}


@dataclass
class Series:
    """One set at one scan rate: ``frames[i]`` and ``resident_pages[i]`` at ``t[i]``
    seconds after its guests started."""

    set: str
    rate: str
    method: str  # "pagemap" (distinct frames) or "pages_sharing" (without root)
    t: list[float] = field(default_factory=list)
    frames: list[int] = field(default_factory=list)
    resident_pages: list[int] = field(default_factory=list)

    def add(self, t: float, frames: int, resident: int) -> None:
        self.t.append(round(t, 2))
        self.frames.append(frames)
        self.resident_pages.append(resident)


@dataclass
class Timeline:
    seconds: float
    interval: float
    apps: list[str]
    instances: int
    guests: int
    series: list[Series] = field(default_factory=list)

    def to_json(self) -> dict:
        rates = {name: {k.split("/")[-1]: int(v) for k, v in rate.items()}
                 for name, rate in RATES.items()}
        return {**asdict(self), "rates": rates}


def sample_every(series: Series, sample: Callable[[], tuple[int, int]], seconds: float,
                 interval: float = 1.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> Series:
    """Call ``sample`` (-> frames, resident pages) at 0, ``interval``, 2 ``interval``
    ... ``seconds`` after now. A late sample is taken at once and records its real
    time; the next stays due at its own whole interval, so the series never drifts."""
    start = clock()
    for k in range(int(seconds / interval + 1e-9) + 1):
        wait = start + k * interval - clock()
        if wait > 0:
            sleep(wait)
        frames, resident = sample()
        series.add(clock() - start, frames, resident)
    return series


def frame_sampler(guests: list[Guest], session: ksm.Session,
                  by_frame: bool) -> Callable[[], tuple[int, int]]:
    """Frames and resident mergeable pages of ``guests`` now: distinct frame numbers
    (``by_frame``, root), else resident pages minus KSM's global ``pages_sharing``."""
    pids = [g.proc.pid for g in guests]

    def sample() -> tuple[int, int]:
        check_running(guests)
        if by_frame:
            held = guest_frames(pids)
            if held is not None:  # one read gives both: they agree even while QEMU starts
                return len(held.owners), held.present
        resident = sum(mergeable_resident_pages(pid) for pid in pids)
        return resident - session.counters().pages_sharing, resident
    return sample


def measure_timeline(session: ksm.Session, sets: dict[str, list[Path | Launch]],
                     apps: list[str], instances: int, memory_mib: int = 32,
                     seconds: float = 30.0,
                     interval: float = 1.0, lean: bool = False,
                     progress: Progress | None = None) -> Timeline:
    """For each rate of :data:`RATES`, each set of ``sets`` (label -> images, or guests
    to launch) in turn: start ``instances`` guests per image and sample their frames
    for ``seconds``."""
    say = progress or (lambda _msg: None)
    by_frame = os.geteuid() == 0  # the kernel shows frame numbers to root only
    method = "pagemap" if by_frame else "pages_sharing"
    guests_per_set = len(next(iter(sets.values()))) * instances
    timeline = Timeline(seconds, interval, apps, instances, guests_per_set)
    for rate, settings in RATES.items():
        session.set(settings)
        for label, images in sets.items():
            todo = [img if isinstance(img, Launch) else Launch(Path(img))
                    for img in images for _ in range(instances)]
            say(f"timeline: {label}, KSM rate {rate}: {len(todo)} guests, {seconds:g} s")
            with running_guests([t.image for t in todo], memory_mib, lean=lean, wait=False,
                                extras=[t.extra for t in todo]) as guests:
                series = sample_every(Series(label, rate, method),
                                      frame_sampler(guests, session, by_frame),
                                      seconds, interval)
                check_not_crashed(guests, lean)
            timeline.series.append(series)
    session.set(ksm.FAST_SCAN)  # back to the bench's rate for anything after
    return timeline
