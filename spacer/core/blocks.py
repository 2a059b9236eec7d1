"""Blocks for ``--aslr 2``: how the shared libraries move, per image, as units.

A block is a group of libraries that moves as one: its code, read-only data, data
with its table and bss keep one distance to each other in every image, so its
position-independent code keeps its bytes wherever it lands. This module cuts the
groups into blocks and sizes the areas so that any image's blocks, in any order
and with random page gaps, fit; :mod:`spacer.core.aslr` draws each image's order.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from spacer.core.pages import PAGE_SIZE as PAGE
from spacer.core.placement import ABSOLUTE_KINDS, TABLE, align_up

if TYPE_CHECKING:
    from spacer.core.plan import Library, PlanOptions, Unit

ASLR_BITS = 16  # placement entropy each image's shared libraries get together
MAX_SLACK_PAGES = 256  # an image with one moving block gets 8 bits, not 16
ASLR_BLOCK = 16384  # a block gathers at least this much code


def blocks_of(group: list[Library]) -> list[list[Library]]:
    """Under ASLR, a group of libraries moves as several blocks, each at least
    ASLR_BLOCK bytes of code: more blocks give more orders (entropy), and each block
    costs up to a page of padding per kind, which small blocks would waste."""
    def code(lib: Library) -> int:
        return max((lib.extent(k)[0] for k in ("text", "rodata") if k in lib.kinds()),
                   default=0)

    blocks: list[list[Library]] = [[lib] for lib in group if lib.pinned]
    blocks.append([])
    size = 0
    # Largest first: a large library is a block of its own, small ones gather.
    for lib in sorted((lib for lib in group if not lib.pinned), key=lambda lib: -code(lib)):
        if size >= ASLR_BLOCK:
            blocks.append([])
            size = 0
        blocks[-1].append(lib)
        size += code(lib)
    return [b for b in blocks if b]


def _block(u: Unit) -> int:
    """Under ASLR a library moves as one block: every kind of its sections (its table at
    the end of its data) keeps one distance to the others, so its position-independent
    code stays the same bytes. Each area gives the block the same page-rounded room."""
    data = u.sizes.get("data", 0)
    if TABLE in u.sizes:
        data = align_up(data, 8) + u.sizes[TABLE]
    return max(align_up(n, PAGE) for n in (u.sizes.get("text", 0), u.sizes.get("rodata", 0),
                                           data, u.sizes.get("bss", 0)))


def entropy_bits(units: int, slack: int, same_mapping: bool) -> float:
    """log2 of the layouts an image of ``units`` moving blocks can get: their orders
    times the ways to split ``slack`` free pages among the gaps before each block and
    after the last, C(slack + units, units)."""
    order = 0.0 if same_mapping else math.log2(math.factorial(units))
    return order + math.log2(math.comb(slack + units, units))


def slack_pages(units: int, same_mapping: bool, bits: float = ASLR_BITS) -> int:
    """Fewest pages of slack that give an image of ``units`` moving blocks ``bits`` of
    placement entropy (see :func:`entropy_bits`). One slack split among all the gaps
    needs less room than a gap range of its own before each block, and every page of
    room is zero-filled in all four areas of every image (KSM merges at most
    ``max_page_sharing`` pages into one frame)."""
    slack = 0
    while units and entropy_bits(units, slack, same_mapping) < bits \
            and slack < MAX_SLACK_PAGES:
        slack += 1
    return slack


def moving_areas(extracts: list[dict], units: list[Unit], sizes: dict[str, int],
                  options: PlanOptions) -> dict:
    """Room for every image's randomly placed blocks: one size for the text, read-only,
    data and bss areas, the largest any image can need. The tables travel in the
    blocks, so there is no table area."""
    blocks = {u.id: _block(u) for u in units}
    # Pinned blocks first, at one offset in every image; the others move after them.
    pinned, first_free = {}, 0
    for u in sorted((u for u in units if blocks[u.id] and _pinned(u)), key=lambda u: u.id):
        pinned[u.id] = first_free
        first_free += blocks[u.id]
    per_app: dict[str, dict] = {}
    for ex in extracts:
        mine = [u for u in units if ex["app"] in u.apps and blocks[u.id]]
        per_app[ex["app"]] = {"units": mine, "slack_pages": 0,
                              "moving": [u for u in mine if u.id not in pinned]}
    area = first_free
    for info in per_app.values():
        moving = info["moving"]
        info["slack_pages"] = slack = slack_pages(len(moving), options.same_mapping)
        area = max(area, first_free + sum(blocks[u.id] for u in moving) + slack * PAGE)
    for kind in ABSOLUTE_KINDS:
        sizes[kind] = area
    sizes.pop(TABLE, None)
    return {"blocks": blocks, "apps": per_app, "area": area, "pinned": pinned,
            "first_free": first_free}


def _pinned(u: Unit) -> bool:
    return any(lib.pinned for lib in u.members)
