"""Physical frames behind guest RAM: /proc/PID/pagemap, KSM counters, and the split of
frames into image pages (shared or private) and runtime memory."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from spacer.core.sharing.pages import (
    PAGE_SIZE,
    ZERO_DIGEST,
    Page,
    image_pages,
    page_digest,
)


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
    """The digest (:func:`spacer.core.sharing.pages.page_digest`) of each frame's 4 KiB, read
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
    image (:func:`spacer.core.sharing.pages.image_pages`) of a guest that maps it; it is
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
