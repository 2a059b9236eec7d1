"""Blocks for ``--aslr 2``: how the shared libraries move, per image, as units.

A block is a group of libraries that moves as one: its code, read-only data, data
with its table and bss keep one distance to each other in every image, so its
position-independent code keeps its bytes wherever it lands. This module cuts the
groups into blocks, lays each moving block out as one chunk of pages, and sizes
the region so that any image's chunks, in any order and with random page gaps,
fit; :mod:`spacer.core.planner.aslr` draws each image's order.
"""

from __future__ import annotations

import math

from spacer.core.errors import BadInput
from spacer.core.formats.facts import AppFacts
from spacer.core.planner.model import Library, PlanOptions, Unit
from spacer.core.readers.placement import ABSOLUTE_KINDS, TABLE, align_up
from spacer.core.sharing.pages import PAGE_SIZE as PAGE

ASLR_BITS = 16  # placement entropy each image's shared libraries get together
MAX_SLACK_PAGES = 512  # 2 MiB: an image with one moving block gets 9 bits, not 16
ASLR_BLOCK = 16384  # a block gathers at least this much code
CHUNK_ORDER = ABSOLUTE_KINDS  # a moving block's parts, in this order in its chunk
SEGMENT_OF = {"text": "rx", "rodata": "r", "data": "rw", "bss": "rw"}  # their permissions
# Unikraft's boot info holds CONFIG_UKPLAT_MEMREGION_MAX_COUNT (128 by default) memory
# regions: one per loaded segment, plus the RAM and boot regions it finds at boot.
MAX_SEGMENTS = 96


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


def chunk_of(u: Unit) -> dict[str, int]:
    """Where a moving block's kinds sit in its chunk, and the chunk's ``size``.

    A moving block is one run of pages: its code, read-only data (with its
    ``.eh_frame``), data with its table at the end, then bss, each from a fresh page.
    The distances between them are the same in every image, so its
    position-independent code keeps its bytes wherever the chunk lands, and the
    image holds each chunk once rather than a room of the largest kind in each of
    four areas: the random gaps cost zero-filled pages once, not four times."""
    data = u.sizes.get("data", 0)
    if TABLE in u.sizes:
        data = align_up(data, 8) + u.sizes[TABLE]
    offsets, at = {}, 0
    for kind in CHUNK_ORDER:
        offsets[kind] = at
        at += align_up(data if kind == "data" else u.sizes.get(kind, 0), PAGE)
    offsets["size"] = at
    return offsets


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
    room is a zero-filled page that every image loads (KSM merges at most
    ``max_page_sharing`` pages into one frame)."""
    slack = 0
    while units and entropy_bits(units, slack, same_mapping) < bits \
            and slack < MAX_SLACK_PAGES:
        slack += 1
    return slack


def moving_areas(extracts: list[AppFacts], units: list[Unit], sizes: dict[str, int],
                  options: PlanOptions) -> dict:
    """Room for every image's blocks. Pinned blocks take the start of the text,
    read-only, data and bss areas, at one address in every image. The moving blocks'
    chunks go into one region right after the pinned read-only data, as large as the
    largest image's chunks plus its slack: a new app that needs a larger region moves
    no pinned block. The tables travel in the blocks, so there is no table area."""
    chunks = {u.id: chunk_of(u) for u in units}
    blocks = {uid: chunk["size"] for uid, chunk in chunks.items()}
    # A pinned block sits at one address in every image, so its parts keep their
    # distances whatever room each kind gets: its own page-rounded size per area.
    pinned: dict[str, dict[str, int]] = {}
    first_free = dict.fromkeys(ABSOLUTE_KINDS, 0)
    for u in sorted((u for u in units if blocks[u.id] and _pinned(u)), key=lambda u: u.id):
        pinned[u.id] = dict(first_free)
        for kind in ABSOLUTE_KINDS:
            first_free[kind] += room_of(chunks[u.id], kind)
    per_app: dict[str, dict] = {}
    region = 0
    for ex in extracts:
        mine = [u for u in units if ex.app in u.apps and blocks[u.id]]
        moving = [u for u in mine if u.id not in pinned]
        segments = sum(len({SEGMENT_OF[k] for k in CHUNK_ORDER if room_of(chunks[u.id], k)})
                       for u in moving)
        if segments > MAX_SEGMENTS:
            raise BadInput(f"{ex.app} would get {segments} program headers for its "
                           f"{len(moving)} moving blocks under --aslr 2, more than the "
                           f"{MAX_SEGMENTS} that Unikraft's boot info has memory regions for",
                           hint="use --aslr 1")
        slack = slack_pages(len(moving), options.same_mapping)
        per_app[ex.app] = {"units": mine, "slack_pages": slack}
        region = max(region, sum(blocks[u.id] for u in moving) + slack * PAGE)
    for kind in ABSOLUTE_KINDS:
        sizes[kind] = first_free[kind]
    sizes["rodata"] += region
    sizes.pop(TABLE, None)
    return {"blocks": blocks, "chunks": chunks, "apps": per_app, "region": region,
            "pinned": pinned, "first_free": first_free}


def room_of(chunk: dict[str, int], kind: str) -> int:
    """Page-rounded bytes ``kind`` takes in a block's chunk (see :func:`chunk_of`): up
    to where the next kind starts."""
    after = CHUNK_ORDER[CHUNK_ORDER.index(kind) + 1:]
    return (chunk[after[0]] if after else chunk["size"]) - chunk[kind]


def _pinned(u: Unit) -> bool:
    return any(lib.pinned for lib in u.members)
