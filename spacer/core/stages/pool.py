"""Stage 7, whole fleet, with ``-c``: the pool and each app's loader and patch.

The pool file holds, at its guest-physical address, every page the fleet's aligned
images load, with the content that leaves the fewest images a patch page there
(:func:`_choose`), and keeps it while an image still loads it, so that adding an app
whose pages the pool holds changes nothing else. Only the bytes an image uses count
(:mod:`spacer.core.sharing.unused`): room for a library it does not link may hold
the library another image links there. Each app gets a stub loader, which loads none
of the image (QEMU's multiboot loader writes the whole span of what it loads, and its
information after it), and a patch of the pages where the bytes its image uses differ
from the pool's, which QEMU's generic loader writes at reset
(:mod:`spacer.core.rewrite.loader`).
"""

from __future__ import annotations

from collections import Counter

from spacer.core.errors import BadInput
from spacer.core.formats.layout import read_layout
from spacer.core.formats.pool import PoolApp, PoolFacts, read_pool
from spacer.core.outputs.atomic import write_bytes_atomic, write_json_atomic
from spacer.core.outputs.paths import OutputLayout
from spacer.core.outputs.poolfile import PAGE, write_pool_file
from spacer.core.readers.workspace import AppBuild
from spacer.core.rewrite.loader import patch_elf, stub_image
from spacer.core.sharing.pages import loaded_memory, page_digest
from spacer.core.sharing.unused import Ranges, agrees, unused_ranges, used_in_page

ZERO = bytes(PAGE)
STUB_ROOM = 1 << 20  # the stub's page, then QEMU's multiboot information after it


def _previous_pages(layout: OutputLayout) -> dict[int, bytes]:
    """The previous pool's digest per page: what the pool keeps while it can."""
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


def _choose(loaders: Counter, others: int, before: bytes | None, zero: bytes,
            content: dict[bytes, bytes]) -> bytes:
    """The content the pool holds at one page. The previous pool's, while an image
    still loads it there (or it was a hole): a pool that changes is a new file, and
    every app's patch may change with it (``--replan`` chooses afresh). Else the one
    that costs the fewest private pages: each image whose used bytes there differ
    needs a patch page, and each of the ``others``, which load nothing there, a page
    of zeros (its heap may be there); a hole, on a tie. ``loaders`` counts the images
    that load the page by (digest, the byte ranges they use: None for all)."""
    met = [d for d, _ in loaders]
    if before is not None and (before == zero or before in met):
        return before

    def cost(pick: bytes) -> int:
        page = content[pick]
        return (sum(n for (d, used), n in loaders.items()
                    if d != pick and (used is None or not agrees(page, content[d], used)))
                + (others if pick != zero else 0))

    best, least = zero, cost(zero)
    for pick in dict.fromkeys(met):  # in the order met
        if pick != zero and (n := cost(pick)) < least:
            best, least = pick, n
    return best


def run_pool(apps: list[AppBuild], layout: OutputLayout, memory_mib: int,
             replan: bool = False) -> None:
    plan = read_layout(layout.layout)
    if plan.pool is None:
        raise BadInput("the layout has no pool region", layout.layout, "run spacer align -c")
    size = memory_mib << 20
    votes: dict[int, Counter] = {}  # page -> (digest, used ranges) -> images
    content: dict[bytes, bytes] = {}
    mine: dict[str, dict[int, tuple[bytes, Ranges | None]]] = {}  # app -> its pages
    for app in sorted(apps, key=lambda a: a.name):
        pages, _, _ = loaded_memory(layout.image(app))
        free = unused_ranges(plan, app.name)
        held = {}
        for addr in sorted(pages):
            data = bytes(pages[addr])
            digest = page_digest(data)
            content.setdefault(digest, data)
            used = used_in_page(addr, free)
            key = (digest, None if used is None else tuple(used))
            votes.setdefault(addr, Counter())[key] += 1
            held[addr] = key
        mine[app.name] = held
    # The stub's one page: the highest page the images load, when it is zeros in every
    # one (the end of the pool region's segments), so that QEMU's write of it changes
    # nothing and leaves no one-page hole between the image and its information, which
    # Unikraft's allocator would refuse with an error line; else the page after it.
    top = max(votes)
    zero = page_digest(ZERO)
    stub = top if all(d == zero for d, _ in votes[top]) and votes[top].total() == len(apps) \
        else top + PAGE
    end = stub + STUB_ROOM
    if end > size:
        raise BadInput(f"the images and the loader's room end at {end:#x}, past "
                       f"--pool-memory {memory_mib} MiB", layout.layout,
                       f"use --pool-memory {-(-end >> 20) + 1} or more")
    before = {} if replan else _previous_pages(layout)
    content.setdefault(zero, ZERO)
    chosen = {addr: _choose(counts, len(apps) - counts.total(), before.get(addr), zero, content)
              for addr, counts in votes.items()}
    pool_pages = {a: content[d] for a, d in chosen.items() if d != zero}
    file, digest = write_pool_file(layout.pool_dir, size, pool_pages)
    entries = {}
    for app in apps:
        image = layout.image(app)
        held = mine[app.name]
        # Its pages whose used bytes differ from the pool's, and zeros where the pool
        # holds another image's page that this one does not load (its heap is there).
        patch = {a: content[d] for a, (d, used) in held.items() if d != chosen[a]
                 and (used is None or not agrees(content[chosen[a]], content[d], used))}
        patch.update({a: ZERO for a in pool_pages if a not in held})
        write_bytes_atomic(layout.pool_image(app), stub_image(image.read_bytes(), stub, image),
                           only_if_changed=True)
        target = layout.pool_patch(app.name)
        if patch:
            write_bytes_atomic(target, patch_elf(patch), only_if_changed=True)
        else:
            target.unlink(missing_ok=True)
        entries[app.name] = PoolApp(str(layout.pool_image(app).resolve()),
                                    str(target.resolve()) if patch else None,
                                    sum(a not in patch for a in held), len(patch))
    facts = PoolFacts(str(file.resolve()), size, digest, min(votes), end, len(pool_pages),
                      entries)
    write_json_atomic(layout.pool_facts, facts.to_json(), only_if_changed=True)
