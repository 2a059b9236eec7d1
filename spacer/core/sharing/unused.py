"""The bytes of an aligned image that nothing in it uses: slots of libraries it does not
link. Under ``-c`` every image covers the whole pool region, and every image with TLS
has the whole shared part of the TLS block, so each holds room (zeros) for libraries
that other images link. No symbol of the image lies there and no code of it refers
there, so the pool may hold another image's library there (:mod:`spacer.core.stages.pool`)."""

from __future__ import annotations

from bisect import bisect_right

from spacer.core.formats.layout import Layout
from spacer.core.sharing.pages import PAGE_SIZE

Ranges = list[tuple[int, int]]


def _minus(lo: int, hi: int, held: Ranges) -> Ranges:
    free, at = [], lo
    for a, b in sorted(held):
        if a > at:
            free.append((at, min(a, hi)))
        at = max(at, b)
        if at >= hi:
            break
    if at < hi:
        free.append((at, hi))
    return [(a, b) for a, b in free if a < b]


def unused_ranges(plan: Layout, app: str) -> Ranges:
    """Address ranges of ``app``'s image, as loaded, that no library it links and none
    of its own content occupies: in the pool region, all but its slots; in the TLS
    block's shared part, all but its TLS slots (the TLS template is copied to each
    thread, and only the image's own libraries read their part of the copy)."""
    piece = plan.slices[app]
    free: Ranges = []
    if plan.pool is not None:
        held = [(s.address, s.address + s.size) for area in piece.areas.values()
                for s in area.slots if s.address is not None]
        free += _minus(plan.pool.base, plan.pool.end, held)
    text = plan.areas.get("text")
    if plan.pool is not None and text and text.base is not None:
        # Code slots left in the text area (code that calls the image's own): room for
        # the ones it does not link, up to the start of its last, after which its own
        # code follows.
        held = sorted((s.address, s.address + s.size) for s in
                      (piece.areas["text"].slots if "text" in piece.areas else [])
                      if not plan.pool.holds(s.address))
        if held:
            free += _minus(text.base, held[-1][0], held)
    tdata = plan.areas.get("tdata")
    if piece.tls and tdata and tdata.base is not None and tdata.size:
        held = [(s.address, s.address + s.size)
                for s in (piece.areas["tdata"].slots if "tdata" in piece.areas else [])]
        free += _minus(tdata.base, tdata.base + tdata.size, held)
    return sorted(free)


def used_in_page(addr: int, free: Ranges) -> Ranges | None:
    """The byte ranges (offsets in the page) of the page at ``addr`` that the image
    uses, given its :func:`unused_ranges`: None for the whole page, [] for none."""
    end = addr + PAGE_SIZE
    holes = []
    for a, b in free[max(bisect_right(free, (addr, end)) - 1, 0):]:  # sorted, disjoint
        if a >= end:
            break
        if b > addr:
            holes.append((max(a, addr) - addr, min(b, end) - addr))
    if not holes:
        return None
    return _minus(0, PAGE_SIZE, holes)


def agrees(pool_page: bytes, image_page: bytes, used: Ranges) -> bool:
    """Whether a guest whose image loads ``image_page``, and uses only the ``used``
    byte ranges of it, may see ``pool_page`` instead."""
    return all(pool_page[a:b] == image_page[a:b] for a, b in used)
