"""Physical frames behind guest RAM: /proc/PID/pagemap, KSM counters, and the split of
frames into image pages (shared or private), QEMU's firmware and runtime memory."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from spacer.measure.ramblocks import RAM_NAMES, RamBlock, is_firmware, name_ranges
from spacer.core.sharing.pages import (
    PAGE_SIZE,
    ZERO_DIGEST,
    Page,
    image_pages,
    page_digest,
)


def parse_mergeable_ranges(lines: Iterable[str]) -> list[tuple[int, int, int]]:
    """(start, end, Rss in KiB) of every mapping of an smaps text whose VmFlags hold
    ``mg`` (KSM-mergeable: QEMU marks each of its RAM blocks so)."""
    ranges = []
    start = end = rss = 0
    for line in lines:
        head = line.split(None, 1)[0] if line.strip() else ""
        if "-" in head and not head.endswith(":"):
            lo, hi = head.split("-")
            start, end, rss = int(lo, 16), int(hi, 16), 0
        elif head == "Rss:":
            rss = int(line.split()[1])
        elif head == "VmFlags:" and "mg" in line.split()[1:]:
            ranges.append((start, end, rss))
    return ranges


def _mergeable_ranges(pid: int) -> list[tuple[int, int, int]]:
    with open(f"/proc/{pid}/smaps") as f:
        return parse_mergeable_ranges(f)


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
    ``firmware`` holds the frames that only QEMU's firmware blocks map (BIOS, ROMs,
    ACPI tables: every mergeable mapping but the guest's RAM); a frame that a guest's
    RAM maps too stays out of it. ``firmware_pages`` counts their present pages.
    """

    owners: dict[int, set[int]]
    where: dict[int, tuple[int, int]]
    present: int  # present pages (mappings), before merging
    at_image: set[int] | None = None
    firmware: set[int] | None = None
    firmware_pages: int = 0


def guest_frames(pids: list[int], ram_bytes: int | None = None,
                 image_addresses: list[frozenset[int]] | None = None,
                 blocks: list[list[RamBlock] | None] | None = None) -> GuestFrames | None:
    """Read ``/proc/PID/pagemap`` over the mergeable ranges of every pid (None when
    the kernel hides frame numbers, i.e. without root).

    With ``ram_bytes`` (the guest's RAM size), also tell the guest's RAM from the
    firmware blocks, by the ``blocks`` QEMU lists per guest (or, without them, by
    size: see :mod:`spacer.measure.ramblocks`). With ``image_addresses`` (per guest,
    the page addresses its image loads to), also find ``at_image``. QEMU's pc machine
    backs the guest's RAM with one mapping, guest-physical address 0 at its start, so
    an address in it is the guest-physical address.
    """
    owners: dict[int, set[int]] = {}
    where: dict[int, tuple[int, int]] = {}
    at_image: set[int] | None = set() if ram_bytes and image_addresses is not None else None
    in_ram: set[int] = set()
    in_firmware: set[int] | None = set() if ram_bytes else None
    firmware_pages = 0
    present = 0
    for index, pid in enumerate(pids):
        ranges = _mergeable_ranges(pid)
        names = (name_ranges(ranges, blocks[index] if blocks else None, ram_bytes)
                 if ram_bytes else [None] * len(ranges))
        ram = [start for (start, _, _), name in zip(ranges, names, strict=True) if name in RAM_NAMES]
        if len(ram) != 1:
            at_image = in_firmware = None  # not the layout assumed: leave the details out
        with open(f"/proc/{pid}/pagemap", "rb") as pm:
            for (start, end, _), name in zip(ranges, names, strict=True):
                pm.seek(start // PAGE_SIZE * 8)
                raw = pm.read((end - start) // PAGE_SIZE * 8)
                is_ram = bool(ram) and start == ram[0]
                mine = image_addresses[index] if at_image is not None and is_ram else None
                firmware = name is not None and is_firmware(name)
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
                    if firmware:
                        firmware_pages += 1
                        if in_firmware is not None:
                            in_firmware.add(pfn)
                    elif is_ram:
                        in_ram.add(pfn)
    if present and set(owners) == {0}:
        return None
    return GuestFrames(owners, where, present, at_image,
                       None if in_firmware is None else in_firmware - in_ram, firmware_pages)


def firmware_resident(ranges: list[tuple[int, int, int]], names: list[str]) -> dict[str, int]:
    """Resident pages (Rss: before KSM merged them) of each firmware block, by name."""
    pages: dict[str, int] = {}
    for (_, _, rss), name in zip(ranges, names, strict=True):
        if is_firmware(name):
            pages[name] = pages.get(name, 0) + rss * 1024 // PAGE_SIZE
    return pages


def resident_by_block(pid: int, blocks: list[RamBlock] | None, ram_bytes: int) -> dict[str, int]:
    """:func:`firmware_resident` of a running QEMU."""
    ranges = _mergeable_ranges(pid)
    return firmware_resident(ranges, name_ranges(ranges, blocks, ram_bytes))


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
    """The frames a set of guests holds, in four parts that add up to its frames.

    A frame is *firmware* when only QEMU's firmware blocks map it (no guest's RAM).
    Else it is *image* content when its 4 KiB equal a non-zero page of the loaded
    image (:func:`spacer.core.sharing.pages.image_pages`) of a guest that maps it; it is
    *shared* when two or more guests map it. Everything else is *runtime* memory:
    stacks, heap, zero pages, firmware copied into RAM, and pages of the image the
    guest wrote to.
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
    firmware: int = 0  # frames only QEMU's firmware blocks map (BIOS, ROMs, ACPI tables)

    @property
    def frames(self) -> int:
        return self.image_shared + self.image_private + self.firmware + self.runtime


def split_frames(owners: dict[int, set[int]], digests: dict[int, bytes],
                 images: list[frozenset[bytes]], at_image: set[int] | None = None,
                 firmware: set[int] | None = None) -> Split:
    """Sort frames into image pages shared across guests, image pages of one guest,
    and runtime memory. ``owners``: frame -> guest indices; ``digests``: frame ->
    content digest; ``images[i]``: the non-zero page digests of guest i's image;
    ``at_image``: the frames mapped at an address of the mapping guest's image;
    ``firmware``: the frames only QEMU's firmware blocks map, a part of their own."""
    shared = private = runtime = runtime_shared = runtime_zero = written = fw = 0
    firmware = firmware or set()
    for pfn, guests in owners.items():
        if pfn in firmware:
            fw += 1
            continue
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
                 written if at_image is not None else None, fw)


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
