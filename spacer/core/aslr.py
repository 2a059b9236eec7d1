"""Stage ``aslr``, per app (``--aslr 2``): where this image puts each shared library.

The plan gives every shared library a *block* (its code, read-only data, data with
its indirection table, and bss, at one distance from each other in every image)
and each area room for any image's blocks. This stage draws, for one image, an
order of its blocks and a random gap of whole pages before each, from the seed and
the app's name: the same seed gives the same images, another seed another layout.
A library's position-independent code reaches everything outside it through its
table, so its pages keep their bytes wherever the block lands and KSM still merges
them; only the tables, which hold this image's addresses, differ.

The result is the app's plan slice with every moving slot's address filled in, plus
the map itself (seed, order, offsets, entropy), which the linker script and the
relink depend on.
"""

from __future__ import annotations

import math
import random
from dataclasses import replace

from spacer.core.errors import BadInput
from spacer.core.pages import PAGE_SIZE as PAGE
from spacer.core.slices import AslrMap, Slice

DEFAULT_SEED = 0


def entropy_bits(units: int, gap_pages: int, same_mapping: bool) -> float:
    """log2 of the layouts one image can get: block orders times gap choices."""
    order = 0.0 if same_mapping else math.log2(math.factorial(units))
    return order + units * math.log2(max(1, gap_pages))


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
    cursor = info.first_free
    for unit in order:
        cursor += rng.randrange(info.gap_pages) * PAGE
        offsets[unit] = cursor
        cursor += blocks[unit]
    if cursor > info.area:
        raise BadInput(f"{piece.app}: ASLR blocks need {cursor:#x} bytes, the plan gave "
                       f"{info.area:#x}", hint="plan again")
    areas = dict(piece.areas)
    for kind, base in info.bases.items():
        if kind in areas:
            slots = [replace(s, offset=s.offset + offsets[s.unit],
                             address=base + s.offset + offsets[s.unit])
                     for s in areas[kind].slots]
            areas[kind] = replace(areas[kind], slots=sorted(slots, key=lambda s: s.offset))
    placed = {kind: {p.lib: s.address + p.offset for s in areas[kind].slots for p in s.parts
                     if not p.table}
              for kind in ("text", "rodata", "data", "bss") if kind in areas}
    tables = {p.lib: s.address + p.offset
              for s in (areas["data"].slots if "data" in areas else ()) for p in s.parts
              if p.table}
    return replace(piece, areas=areas, aslr_map=AslrMap(
        seed=seed, order=order, offsets=offsets, libraries=placed, tables=tables,
        entropy_bits=round(entropy_bits(len(order), info.gap_pages, info.same_mapping), 2)))
