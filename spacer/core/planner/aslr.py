"""Stage ``aslr``, per app (``--aslr 2``): where this image puts each shared library.

The plan gives every shared library a *block* (its code, read-only data, data with
its indirection table, and bss, at one distance from each other in every image):
a chunk of pages, in a region at the start of the read-only area that has room for
any image's chunks. This stage draws, for one image, an order of its chunks and a
random split of its free pages into the gaps between them, from the seed and the
app's name: the same seed gives the same images, another seed another layout.
A library's position-independent code reaches everything outside it through its
table, so its pages keep their bytes wherever the block lands and KSM still merges
them; only the tables, which hold this image's addresses, differ.

The result is the app's plan slice with every moving slot's address filled in, plus
the map itself (seed, order, offsets, entropy), which the linker script and the
relink depend on.
"""

from __future__ import annotations

import random
from dataclasses import replace

from spacer.core.errors import BadInput
from spacer.core.formats.slices import AslrMap, Slice
from spacer.core.planner.blocks import entropy_bits
from spacer.core.sharing.pages import PAGE_SIZE as PAGE

DEFAULT_SEED = 0


def place_app(piece: Slice, seed: int = DEFAULT_SEED) -> Slice:
    """``piece`` (a plan slice made with ``--aslr 2``) with this image's placement."""
    info = piece.aslr
    if not info:
        raise BadInput(f"the plan slice of {piece.app} has no ASLR blocks",
                       hint="plan again with --aslr 2")
    rng = random.Random(f"spacer-aslr:{seed}:{piece.app}")
    order = [u.id for u in info.units if u.pinned is None]
    if not info.same_mapping:
        rng.shuffle(order)
    blocks = {u.id: u.block for u in info.units}
    # Pinned blocks (absolute addresses in their code) keep their one offset.
    offsets = {u.id: u.pinned for u in info.units if u.pinned is not None}
    # The slack split at random into a gap before each chunk and one after the last:
    # n cut points among slack + n places, every split alike likely.
    cuts = sorted(rng.sample(range(info.slack_pages + len(order)), len(order)))
    gaps = [cut - before - 1 for before, cut in zip([-1, *cuts], cuts, strict=False)]
    cursor = 0
    for unit, gap in zip(order, gaps, strict=True):
        cursor += gap * PAGE
        offsets[unit] = cursor
        cursor += blocks[unit]
    if cursor > info.region:
        raise BadInput(f"{piece.app}: ASLR blocks need {cursor:#x} bytes, the plan gave "
                       f"{info.region:#x}", hint="plan again")
    areas = {}
    for kind, area in piece.areas.items():
        # A moving part lands at the chunk's place in the region; pinned ones stay.
        slots = [replace(s, address=info.region_base + offsets[s.unit] + s.offset)
                 if s.segment else s for s in area.slots]
        areas[kind] = replace(area, slots=sorted(slots, key=lambda s: (s.address or 0,
                                                                       s.offset)))
    placed = {kind: {p.lib: s.address + p.offset for s in areas[kind].slots for p in s.parts
                     if not p.table}
              for kind in ("text", "rodata", "data", "bss") if kind in areas}
    tables = {p.lib: s.address + p.offset
              for s in (areas["data"].slots if "data" in areas else ()) for p in s.parts
              if p.table}
    return replace(piece, areas=areas, aslr_map=AslrMap(
        seed=seed, order=order, offsets=offsets, libraries=placed, tables=tables,
        entropy_bits=round(entropy_bits(len(order), info.slack_pages, info.same_mapping), 2)))
