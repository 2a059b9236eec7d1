"""Stage 7, whole fleet, with ``-c``: the pool and each app's loader image and patch.

The pool file holds, at its guest-physical address, every page of the pool region
that an image holds (its shared slots' sections), with the content most of those
images have there; a tie keeps the previous pool's content, so adding an app whose
pages the pool already holds changes nothing else. Each app gets its bootable image
without the pool's segments (QEMU's multiboot loader would write the whole span of
a loaded image, pool pages included), and, where its pages of the region differ
from the pool's, a patch that QEMU's generic loader writes at reset
(:mod:`spacer.core.rewrite.loader`).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from spacer.core.errors import BadInput
from spacer.core.formats.layout import read_layout
from spacer.core.formats.pool import PoolApp, PoolFacts, read_pool
from spacer.core.outputs.atomic import write_bytes_atomic, write_json_atomic
from spacer.core.outputs.paths import OutputLayout, debug_image
from spacer.core.outputs.poolfile import PAGE, write_pool_file
from spacer.core.planner.plan import POOL_ROOM
from spacer.core.readers.elf import SHF_ALLOC, SHT_NOBITS, ElfFile, reading
from spacer.core.readers.workspace import AppBuild
from spacer.core.rewrite.loader import loader_image, own_span_end, patch_elf
from spacer.core.sharing.pages import loaded_memory, page_digest

ZERO = bytes(PAGE)
PADDING = ".spacer.pool."  # the sections that only cover the region (ldscript)


def held_pages(debug: Path, base: int, end: int) -> set[int]:
    """Pages of ``[base, end)`` that the image's own sections fill with bytes (not its
    padding, nor its bss: zeros, which the pool's holes give)."""
    pages: set[int] = set()
    with debug.open("rb") as f, reading(debug), ElfFile.open(f) as elf:
        for s in elf.sections:
            if (s.flags & SHF_ALLOC and s.size and s.type != SHT_NOBITS
                    and base <= s.addr < end and not s.name.startswith(PADDING)):
                first = s.addr - s.addr % PAGE
                pages.update(range(first, s.addr + s.size, PAGE))
    return pages


def _previous_pages(layout: OutputLayout) -> dict[int, bytes]:
    """The previous pool's digest per page, to break ties in its favour."""
    try:
        old = read_pool(layout.pool_facts)
    except (FileNotFoundError, BadInput):
        return {}
    found: dict[int, bytes] = {}
    try:
        with open(old.file, "rb") as f:
            for addr in range(old.base, old.end, PAGE):
                f.seek(addr)
                found[addr] = page_digest(f.read(PAGE))
    except OSError:
        return {}
    return found


def _write_if_changed(path: Path, data: bytes) -> None:
    if not (path.is_file() and path.read_bytes() == data):
        write_bytes_atomic(path, data)


def run_pool(apps: list[AppBuild], layout: OutputLayout, memory_mib: int) -> None:
    plan = read_layout(layout.layout)
    region = plan.pool
    if region is None:
        raise BadInput("the layout has no pool region", layout.layout, "run spacer align -c")
    base, end, size = region.base, region.end, memory_mib << 20
    if end > size:
        raise BadInput(f"the pool region ends at {end:#x}, past --pool-memory {memory_mib} "
                       "MiB", layout.layout, f"use --pool-memory {-(-end >> 20) + 1} or more")
    votes: dict[int, Counter] = {}
    content: dict[bytes, bytes] = {}
    mine: dict[str, dict[int, bytes]] = {}  # app -> its held pages' digests
    for app in sorted(apps, key=lambda a: a.name):
        image = layout.image(app)
        pages, _, _ = loaded_memory(image)
        held = {}
        for addr in sorted(held_pages(debug_image(image), base, end)):
            data = bytes(pages.get(addr, ZERO))
            digest = page_digest(data)
            content.setdefault(digest, data)
            votes.setdefault(addr, Counter())[digest] += 1
            held[addr] = digest
        mine[app.name] = held
    before = _previous_pages(layout)
    chosen = {}
    for addr, counts in votes.items():
        best = max(counts.values())
        tied = [d for d, n in counts.items() if n == best]  # in the order apps met them
        chosen[addr] = before[addr] if before.get(addr) in tied else tied[0]
    pool_pages = {a: content[d] for a, d in chosen.items() if content[d] != ZERO}
    file, digest = write_pool_file(layout.pool_dir, size, pool_pages)
    entries = {}
    for app in apps:
        image = layout.image(app)
        data = image.read_bytes()
        loader = loader_image(data, base, end, image)
        with reading(image):
            span = own_span_end(ElfFile(data).program_headers(), base)
        if span + POOL_ROOM > base:
            raise BadInput(f"the image's own pages end at {span:#x}, too close to the pool "
                           f"region at {base:#x} (QEMU's loader needs {POOL_ROOM >> 10} KiB "
                           "after them)", image, "run spacer align -c --replan")
        _write_if_changed(layout.pool_image(app), loader)
        patch = {a: content[d] for a, d in mine[app.name].items() if d != chosen[a]}
        target = layout.pool_patch(app.name)
        if patch:
            _write_if_changed(target, patch_elf(patch))
        else:
            target.unlink(missing_ok=True)
        entries[app.name] = PoolApp(str(layout.pool_image(app).resolve()),
                                    str(target.resolve()) if patch else None,
                                    len(mine[app.name]) - len(patch), len(patch))
    facts = PoolFacts(str(file.resolve()), size, digest, base, end, len(pool_pages), entries)
    write_json_atomic(layout.pool_facts, facts.to_json(), only_if_changed=True)
