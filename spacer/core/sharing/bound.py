"""The packed lower bound: the fewest read-only pages a fleet's libraries can occupy.

Each library object's read-only content (code, and read-only data with
``.eh_frame``, which sit in different segments) is cut into 4 KiB chunks from the
library's start; a chunk is its bytes plus the relocations that patch it, and a
mergeable section counts as what ld would keep of it at most. Chunks equal in
several variants of a library (the same content at the same place) count once,
held by every image that links one of those variants. The chunks one set of
images holds are then packed together and rounded up to whole pages, per segment:
content held by different sets of images cannot share a page without some image
holding content it does not link, and no page can be both code and read-only data
(W^X). Content outside the objects (tables, fill, what the linker script adds)
is left out, so every real layout needs at least this many distinct pages.
"""

from __future__ import annotations

from spacer.core.formats.facts import AppFacts
from spacer.core.sharing.pages import PAGE_SIZE as PAGE


def packed_bound(extracts: list[AppFacts]) -> int:
    """Distinct read-only library pages no layout can go below (see module doc)."""
    holders: dict[tuple[str, str, int, str], set[str]] = {}
    sizes: dict[tuple[str, str, int, str], int] = {}
    for ex in extracts:
        for obj in ex.objects:
            for segment, chunks in obj.chunks.items():
                for index, (digest, size) in enumerate(chunks):
                    key = (obj.name, segment, index, digest)
                    holders.setdefault(key, set()).add(ex.app)
                    sizes[key] = size
    packed: dict[tuple[str, frozenset[str]], int] = {}
    for key, apps in holders.items():
        group = (key[1], frozenset(apps))
        packed[group] = packed.get(group, 0) + sizes[key]
    return sum(-(-size // PAGE) for size in packed.values())
