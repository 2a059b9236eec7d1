"""``-c``: a slot of its own for each variant that several images hold.

Without ``-c`` every variant of a library shares one slot: KSM merges each variant's
pages among the images that hold it, and the pages where variants agree across all.
The pool holds one content per address, so there the images of a second variant
would each patch its pages, a private copy per image. A variant that two or more
images hold gets a slot of its own when that saves frames: when its pages differ from
those of the variant most images hold in more places than they agree (weighed by
its images, :func:`_own_slot_pays`). The others, and variants only one image holds
(private either way), share the library's main slot, where the pool's pages serve
them wherever their bytes agree.
"""

from __future__ import annotations

from spacer.core.formats.facts import ObjectFacts
from spacer.core.planner.model import Library
from spacer.core.planner.previous import Previous

TAG = 8  # hex digits of the variant's digest in its tag


def _own_slot_pays(lib: Library, digest: str, main: str, holders: int) -> bool:
    """Whether a slot of its own saves frames: where the variant differs from the main
    one, the pool would hold the main one's page and each of its ``holders`` images a
    patch, where a slot of its own holds it once; where they agree, a slot of its own
    holds a second copy. Compared by 4 KiB chunk of code and read-only data (by size,
    for facts without chunks)."""
    mine, theirs = lib.variants[digest], lib.variants[main]
    if not mine.chunks or not theirs.chunks:
        def shape(obj: ObjectFacts) -> tuple[int, ...]:
            return tuple(obj.kinds[k].size if k in obj.kinds else 0 for k in ("text", "rodata"))
        return shape(mine) != shape(theirs)
    differ = agree = 0
    for segment, chunks in mine.chunks.items():
        other = theirs.chunks.get(segment, [])
        for i, chunk in enumerate(chunks):
            same = i < len(other) and tuple(other[i]) == tuple(chunk)
            agree += same
            differ += not same
    return (holders - 1) * differ > agree


def split_variants(lib: Library, previous: Previous | None = None) -> list[Library]:
    """``lib`` as the libraries that get slots: its main slot first, then one per
    variant of its own. With a previous layout, a variant keeps the slot it had, and
    a new one gets its own slot only when none of its images was in that layout
    (else it would relink them)."""
    holders: dict[str, list[str]] = {}
    for app, digest in sorted(lib.holders.items()):
        holders.setdefault(digest, []).append(app)
    main = min(holders, key=lambda d: (-len(holders[d]), d))
    tags: dict[str, str] = {}
    for digest, apps in holders.items():
        before = previous.variant_key(lib.name, digest) if previous else None
        if before is not None:
            tags[digest] = before[len(lib.name) + 1:]
        elif (digest != main and len(apps) >= 2 and _own_slot_pays(lib, digest, main, len(apps))
              and not (previous and previous.apps & set(apps))):
            tags[digest] = digest[:TAG]
        else:
            tags[digest] = ""
    if not any(tags.values()):
        return [lib]
    parts = []
    for tag in sorted(set(tags.values())):
        digests = {d for d, t in tags.items() if t == tag}
        mine = {app: d for app, d in lib.holders.items() if d in digests}
        parts.append(Library(lib.name, {d: v for d, v in lib.variants.items() if d in digests},
                             mine, lib.private & set(mine), tag))
    return parts
