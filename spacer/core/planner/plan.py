"""Stage 2, whole fleet: one layout in which every shared library has one address.

A *variant* is a library object identified by its content digest. A variant that
several images contain must occupy the same range in all of them; two libraries
*conflict* when one image contains both. Assigning ranges is interval colouring on
that conflict graph, done first-fit by descending sharing and size, separately for
each kind of section (see :mod:`spacer.core.readers.placement`): every library that several
images hold gets one slot per kind, common-to-all and subset ones alike, all its
variants use that slot, and libraries that never meet in an image may reuse the
same addresses.

Slots live in *areas*. The text area sits inside ``.text`` after the boot code; the
others start at a fleet-wide base placed after the largest image's preceding
content. TLS slots are offsets inside the TLS block, padded so that the block has
one size in every image: x86-64 TLS offsets count back from the block's end.

The planner is a pure function of the extracted facts, the options and the previous
layout, which it keeps where it still fits (:mod:`spacer.core.planner.previous`). Under
``--aslr 2`` the libraries move as blocks (:mod:`spacer.core.planner.blocks`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, replace
from itertools import pairwise

from spacer.core.errors import BadInput
from spacer.core.formats.facts import AppFacts, KindFacts
from spacer.core.formats.layout import AreaRoom, Layout, UnitRecord
from spacer.core.formats.slices import (
    Area,
    AreaBase,
    BlockRoom,
    Blocks,
    Part,
    PoolRegion,
    Slice,
    Slot,
    Table,
)
from spacer.core.formats.symbols import AppSymbols
from spacer.core.planner.blocks import SEGMENT_OF, blocks_of, moving_areas, room_of
from spacer.core.planner.model import Library, PlanOptions, Unit
from spacer.core.planner.previous import Previous, private_copies, readonly_pages
from spacer.core.planner.variants import split_variants
from spacer.core.readers.placement import (
    ABSOLUTE_KINDS,
    PACKED_KINDS,
    POOL_KINDS,
    SEPARATE_KINDS,
    TABLE,
    TLS_KINDS,
    align_up,
)
from spacer.core.rewrite.indirect import SLOT
from spacer.core.sharing.bound import packed_bound
from spacer.core.sharing.pages import PAGE_SIZE as PAGE

# Areas whose bases are fixed one after the other; the TLS block gets a fixed place
# so that its bounds (_tls_start, _etdata, _tls_end), which shared code reads, are
# equal everywhere.
AREA_STEPS = ("text", "rodata", "tdata", "data", "bss")
KINDS_ORDER = ("text", "rodata", "tdata", "tbss", "data", "bss")
AREA_SLACK = 64 << 10  # free room after each area
# -c: the room left between the largest image's own pages and the pool region, so
# that an image whose own content grows does not move the region (which would relink
# every image and make a new pool file).
POOL_ROOM = 1 << 20
TLS_SLACK = 1024  # free room in each TLS section
EH_FRAME_SLACK = 64  # ld may pad an .eh_frame output section slightly

DEFAULT_OPTIONS = PlanOptions()


def with_tables(facts: AppFacts, symbols: AppSymbols) -> AppFacts:
    """``facts`` with each object's indirection table as the symbols stage found it:
    the planner gives a shared library's table a slot like a kind of section."""
    objects = []
    for obj in facts.objects:
        lib = symbols.libraries.get(obj.name)
        if obj.table and lib and lib.table:
            obj = replace(obj, table=Table(obj.table.symbol,
                                           [(t.symbol, t.weak) for t in lib.table]),
                          kinds={**obj.kinds, TABLE: KindFacts([], SLOT * len(lib.table),
                                                               SLOT, 0, False)})
        objects.append(obj)
    return replace(facts, objects=objects)


def _libraries(extracts: list[AppFacts]) -> dict[str, Library]:
    found: dict[str, Library] = {}
    for ex in sorted(extracts, key=lambda e: e.app):
        for obj in ex.objects:
            lib = found.setdefault(obj.name, Library(obj.name))
            if ex.app in lib.holders:
                raise BadInput(f"{ex.app} links two objects named {obj.name}.o",
                               obj.path, "spacer places libraries by name")
            lib.variants.setdefault(obj.digest, obj)  # first app's object is canonical
            lib.holders[ex.app] = obj.digest
    return found


def _units(extracts: list[AppFacts], options: PlanOptions,
           previous: Previous | None) -> list[Unit]:
    """Libraries that several images hold, packed together when the same images hold
    them (``group``): they always travel together, so packing them into one slot costs
    no sharing and saves the padding of page-aligning each. Within a slot, libraries
    that refer to per-image symbols (``main``, table bounds) go last, so those
    references spoil as few of the slot's pages as possible."""
    # A library the previous layout slotted keeps its slot while one image holds it:
    # removing an app must not relink the others. One it did not slot gets a slot only
    # when that relinks no image of the previous layout (else --replan shares it).
    kept = previous.libraries if previous else set()
    shared = []
    libraries = list(_libraries(extracts).values())
    if options.custom_loader:
        libraries = [part for lib in libraries for part in split_variants(lib, previous)]
    for lib in libraries:
        if not lib.kinds() or not (len(lib.holders) >= 2 or (lib.holders and lib.key in kept)):
            continue
        staying = previous.apps & set(lib.holders) if previous else set()
        if previous and lib.key not in kept and staying:
            # A fresh plan would share it: every holder but one keeps a copy.
            copies = sorted(lib.holders.items())[1:]
            previous.move(lib.name, "all", f"stays unshared, since sharing it would relink "
                                           f"{', '.join(sorted(staying))} (--replan shares it)",
                          pages_lost=sum(readonly_pages(lib.variants[d].kinds)
                                         for _, d in copies))
            continue
        shared.append(lib)
    # Symbols at one address in every image: what shared libraries define, and their
    # tables (a reference into a table is fixed; the table's contents are per image).
    fixed = {sym for lib in shared for v in lib.variants.values()
             for sym in (*v.defined, *([v.table.symbol] if v.table else []))}

    def per_image_refs(lib: Library, kinds: tuple[str, ...]) -> int:
        return len(lib.refs(kinds) - fixed)

    # -c --aslr 0: the libraries whose code stays before the image's own (a unit of
    # their own, out of the pool: _in_pool).
    stays = {lib.key for lib in shared
             if _before_own_code(lib, per_image_refs(lib, ("text",)), len(extracts), options,
                                 previous)}
    by_apps: dict[tuple[str, ...], list[Library]] = {}
    for lib in shared:
        # Libraries of different units of the previous layout are not merged when their
        # holders become the same (say, an app was removed): each keeps its slot.
        before = previous.unit_of.get(lib.key, "") if previous else ""
        key = (*lib.apps, before) if options.group else (*lib.apps, lib.key)
        if lib.key in stays:
            key = (*key, "calls the image")
        by_apps.setdefault(key, []).append(lib)
    units: list[Unit] = []
    all_kinds = (*KINDS_ORDER, "eh_frame")  # not TABLE: its refs are the table's contents
    for group in by_apps.values():
        # Libraries whose bytes differ between images (per-image refs, or several
        # variants among the holders) go last: they spoil fewer of the others' pages.
        group.sort(key=lambda lib: (per_image_refs(lib, all_kinds)
                                    + (len(set(lib.holders.values())) > 1), lib.key))
        for members in blocks_of(group) if options.moving else [group]:
            extra = f"+{len(members) - 1}" if len(members) > 1 else ""
            units.append(Unit(f"{members[0].key}{extra}", members, members[0].apps,
                              before_own_code=members[0].key in stays))
    if previous:
        for lib in shared:
            previous.private_variants(lib)
    for u in units:
        old = previous.unit(u) if previous else None
        for kind in sorted({k for lib in u.members for k in lib.kinds()}):
            offset, align, offsets = 0, 1, []
            for lib in u.members:
                size, lib_align = lib.extent(kind) if kind in lib.kinds() else (0, 1)
                offset = align_up(offset, lib_align)
                offsets.append(offset)
                offset += size + _headroom(size, options)
                align = max(align, lib_align)
            u.sizes[kind], u.aligns[kind], u.member_offsets[kind] = offset, align, offsets
            kept = old.fits(kind, {lib.key: lib.extent(kind)[0] if kind in lib.kinds() else 0
                                   for lib in u.members}) if old else None
            if kept is not None:  # every member still fits its old room: keep it
                u.member_offsets[kind] = kept
                u.sizes[kind] = old.sizes[kind]
        u.raw_offsets = {k: list(v) for k, v in u.member_offsets.items()}
        u.raw_sizes = dict(u.sizes)
        for kind in u.sizes:
            group = ("rodata", "eh_frame") if kind in ("rodata", "eh_frame") else (kind,)
            u.spoilt[kind] = any(per_image_refs(lib, group) for lib in u.members)
        if "eh_frame" in u.sizes:
            # A unit's .eh_frame shares its rodata slot (same segment): one page, not two.
            eh, eh_align = u.sizes.pop("eh_frame"), u.aligns.pop("eh_frame")
            start = align_up(u.sizes.get("rodata", 0), eh_align)
            u.member_offsets["eh_frame"] = [start + o for o in u.member_offsets["eh_frame"]]
            u.sizes["rodata"] = start + eh + EH_FRAME_SLACK
            u.aligns["rodata"] = max(u.aligns.get("rodata", 1), eh_align)
    # Most shared and largest first: they get the low, contiguous addresses.
    units.sort(key=lambda u: (-len(u.apps), -sum(u.sizes.values()), u.id))
    return units


def _headroom(size: int, options: PlanOptions) -> int:
    return math.ceil(size * options.headroom) if size else 0


def _colour(units: list[Unit], kind: str, page_align: bool,
            previous: Previous | None = None, reserved: tuple[int, int] | None = None,
            exclusive: bool = False, at_least: int = 0) -> int:
    """First-fit interval colouring of ``kind``; returns the area's size. With a
    previous layout, every unit that still fits its old slot, and meets no other kept
    unit in an image, keeps it; the others are placed first-fit around them, and
    around ``reserved`` (the old tables' room), which every image keeps. ``exclusive``
    (the pool's kinds under ``-c``): no two units share an address, even units that
    never meet in an image, since the pool file holds one content per address.
    ``at_least``: the area's size in the previous layout, which it keeps."""
    busy: dict[str, list[tuple[int, int]]] = {}

    def holders(u: Unit) -> list[str]:
        return ["pool"] if exclusive else u.apps

    end = 0
    placed = set()
    for u in sorted(units, key=lambda u: -len(u.apps)) if previous else ():
        old = previous.unit(u)
        if old is None or kind not in old.offsets or u.sizes.get(kind, 0) > old.reserve[kind]:
            continue
        lo, hi = old.offsets[kind], old.offsets[kind] + old.reserve[kind]
        if any(a < hi and lo < b for app in holders(u) for a, b in busy.get(app, [])):
            continue
        u.offsets[kind], u.reserve[kind] = lo, hi - lo
        placed.add(u.id)
        for app in holders(u):
            busy.setdefault(app, []).append((lo, hi))
        end = max(end, hi)
    # Spoilt slots last: first-fit then puts them at the end of their images' areas,
    # where the image's own content can fill the rest of their last page.
    for u in sorted(units, key=lambda u: u.spoilt.get(kind, False)):
        size = u.sizes.get(kind, 0)
        if size == 0 or u.id in placed:
            continue
        if previous and previous.unit(u) and kind in previous.unit(u).offsets:
            previous.moved(u, kind, "outgrew its slot" if size > previous.unit(u).reserve[kind]
                           else "meets another library's slot in a new image")
        # In the pool, writable slots are packed: a page a guest writes becomes its own
        # copy, one per guest without KSM, so fewer pages of data mean fewer copies.
        step = max(PAGE, u.aligns[kind]) if page_align and kind not in PACKED_KINDS \
            and not (exclusive and kind in ("data", "bss")) else u.aligns[kind]
        taken = sorted([*(iv for app in holders(u) for iv in busy.get(app, [])),
                        *([reserved] if reserved else [])])
        offset = 0
        for lo, hi in taken:
            if offset + size <= lo:
                break
            offset = max(offset, align_up(hi, step))
        u.offsets[kind], u.reserve[kind] = offset, size
        for app in holders(u):
            busy.setdefault(app, []).append((offset, offset + size))
        end = max(end, offset + size)
    end = max(end, at_least)
    return align_up(end, PAGE) if page_align and kind not in PACKED_KINDS else end


def _tables_last(units: list[Unit], sizes: dict[str, int], page_align: bool,
                 old: Previous | None) -> int | None:
    """Where the tables start in the read-only area: after its slots, on a fresh page,
    so the image's own read-only data, per image like the tables, fills their last
    page instead of a page of its own. They keep their old place while they fit its
    room; else they move to the end, which relinks every image that has one."""
    size = sizes.pop(TABLE)
    if not size:
        return None
    room = old.table_room(page_align) if old else None
    if room and size <= room[1] - room[0]:
        start = room[0]
    else:
        start = align_up(sizes["rodata"], PAGE if page_align else SLOT)
        if room:
            old.move("the indirection tables", TABLE, "they outgrew their room",
                     sorted({a for u in units if TABLE in u.offsets for a in u.apps} & old.apps))
    sizes["rodata"] = max(sizes["rodata"], start + size)
    sizes[TABLE] = size
    return start


def _slotted(app: str, units: list[Unit]) -> set[str]:
    """Names of the libraries of ``app`` that have slots."""
    return {lib.name for u in units if app in u.apps for lib in u.members
            if app not in lib.private}


def _moved(ex: AppFacts, units: list[Unit], kind: str) -> tuple[int, int]:
    """Bytes (and worst alignment padding) that leave the anchor of ``kind`` in app ``ex``."""
    slotted = _slotted(ex.app, units)
    solid = slack = 0
    for obj in ex.objects:
        part = obj.kinds.get(kind)
        if part and obj.name in slotted:
            solid += part.solid if kind != "eh_frame" else 0
            slack += part.align
    return solid, slack


def plan_fleet(extracts: list[AppFacts], options: PlanOptions = DEFAULT_OPTIONS,
               previous: Layout | None = None) -> Layout:
    """The fleet's layout: areas, slots and one slice per app (see module doc). With
    the ``previous`` layout (made with the same options), every slot that still fits
    is kept, so only the apps whose libraries had to move are relinked."""
    if len(extracts) < 2:
        raise BadInput("need at least two unikernels to plan a shared layout")
    # The previous layout is kept when the planner's options are the same (the seed
    # and other recorded options only change later stages).
    mine = asdict(options)
    defaults = asdict(DEFAULT_OPTIONS)  # an option newer than the layout had its default
    same = previous and {k: previous.options.get(k, defaults[k]) for k in mine} == mine
    old = Previous(previous) if same else None
    units = _units(extracts, options, old)
    if old:
        private_copies(units, old)
    pooled = options.custom_loader
    tables_room = old.table_room(options.align) if old and not options.moving else None
    # -c: the pool's kinds have their slots in the pool region, but the code that stays
    # in the text area (_in_pool); in both, no two units share an address. The image's
    # own part of the other areas keeps no slot (but the tables).
    sizes = {k: _colour([u for u in units if not _in_pool(u, k, pooled)], k, options.align,
                        old, tables_room if k == "rodata" and not pooled else None,
                        exclusive=pooled and k in POOL_KINDS,
                        at_least=old.area_size(k) if old else 0)
             for k in (*ABSOLUTE_KINDS, *PACKED_KINDS)}
    pool_sizes = {k: _colour([u for u in units if _in_pool(u, k, pooled)], k, options.align,
                             old, exclusive=True, at_least=old.pool_size(k) if old else 0)
                  for k in POOL_KINDS} if pooled else {}
    moving = moving_areas(extracts, units, sizes, options) if options.moving else None
    tables_at = None if options.moving else _tables_last(units, sizes, options.align, old)
    # The TLS block keeps its shape while what it must hold fits in it; else it gets
    # room for a new app's own TLS too: a larger block changes every image's offsets.
    tls = {k: old.tls[k] if old and old.tls.get(k, 0) >= need else
           align_up(need + TLS_SLACK, 64) for k, need in _tls_totals(extracts, units, sizes).items()}
    bases = _bases(extracts, units, sizes, tls["tdata_total"], options, old)
    pool = _pool(extracts, units, bases, sizes, tls["tdata_total"], pool_sizes, options, old) \
        if pooled else None
    if moving is not None and "rodata" not in bases:
        raise BadInput("--aslr 2 puts the moving libraries at the start of the read-only "
                       "area, and not every image has a .rodata output section",
                       hint="use --aslr 1")
    if tables_at is not None:
        bases[TABLE] = bases["rodata"] + tables_at
    return Layout(
        options=asdict(options),
        apps=sorted(e.app for e in extracts),
        areas={k: AreaRoom(bases.get(k), sizes[k]) for k in sizes},
        tls=tls,
        units=[UnitRecord(u.id, u.apps, [lib.key for lib in u.members],
                          {lib.key: lib.holders for lib in u.members}, u.sizes, u.offsets,
                          u.spoilt, u.reserve, u.raw_offsets, u.raw_sizes, u.before_own_code)
               for u in units],
        moves=old.moves if old else [],
        slices={e.app: _slice(e, units, bases, tls, options, moving, pool) for e in extracts},
        packed_bound=packed_bound(extracts),
        pool=pool,
    )


def _before_own_code(lib: Library, calls: int, images: int, options: PlanOptions,
                     previous: Previous | None = None) -> bool:
    """``-c --aslr 0``: whether ``lib``'s code stays in the text area, in a unit of its
    own, before the image's own code: code that calls the image's own symbols (``calls``
    of them: libukboot calling ``main``), which every image links in one variant. Its
    last page differs in every image anyway; there, as without ``-c``, the image's own
    code fills it instead of a page of its own. Every image links it, so no image's own
    code lies where another has it. (Under ``--aslr 1``, and with several variants,
    this cost pages on real fleets.) It stays there while the previous layout had it
    there: moving it would relink every image."""
    if previous and lib.key in previous.before_own_code:
        return True
    return options.custom_loader and options.aslr == 0 and calls > 0 \
        and len(lib.holders) == images and len(lib.variants) == 1


def _in_pool(u: Unit, kind: str, pooled: bool) -> bool:
    """``-c``: whether ``u``'s slot of ``kind`` goes into the pool region: all but the
    code of :func:`_before_own_code`."""
    return pooled and kind in POOL_KINDS and not (kind == "text" and u.before_own_code)


def _anchor_addr(ex: AppFacts, kind: str) -> int:
    return ex.anchor_addresses[kind]


def _bases(extracts: list[AppFacts], units: list[Unit], sizes: dict[str, int], tdata_total: int,
           options: PlanOptions, old: Previous | None = None) -> dict[str, int]:
    """Fleet-wide start of each area, walking the anchors in address order.

    After an area, an image continues with what its anchor held minus what moved
    into slots; everything up to the next anchor follows as in the original image.
    The next base is the largest such end over the fleet, so no image's own content
    can run into a slot (ld also stops with "cannot move location counter backwards"
    if an estimate were ever short, and verify checks every address).
    """
    kinds = [k for k in AREA_STEPS if all(k in e.anchors for e in extracts)]
    if "text" not in kinds:
        raise BadInput("not every image has a .text output section to place code in")
    kinds.sort(key=lambda k: _anchor_addr(extracts[0], k))
    starts = {_anchor_addr(e, "text") for e in extracts}
    if len(starts) != 1:
        raise BadInput(f"images start .text at different addresses ({sorted(starts)}); "
                       "a shared layout needs one start")
    text_start = starts.pop()
    head = max(e.text_head for e in extracts)
    text_area = align_up(text_start + head, PAGE)
    if options.loc is not None:
        if options.loc < text_area or options.loc % PAGE:
            raise BadInput(f"--loc {options.loc:#x} must be page-aligned and at least "
                           f"{text_area:#x} (end of the largest boot code)")
        text_area = options.loc
    elif old and not options.custom_loader and (old.base("text") or 0) >= text_area:
        text_area = old.base("text")
    bases = {"text": text_area}
    area_end = {e.app: text_area + sizes["text"] for e in extracts}
    for prev, kind in pairwise(kinds):
        need = 0
        for e in extracts:
            solid, slack = _moved(e, units, prev)
            gap = _anchor_addr(e, kind) - _anchor_addr(e, prev)
            need = max(need, area_end[e.app] + gap - solid + slack + PAGE
                       + _grown(e, prev, kind))
        # Room for the previous area to grow (a library that outgrew its slot moves to
        # its end), so the next plan can keep this base: address space, not file bytes,
        # since areas of different kinds lie in different segments.
        bases[kind] = align_up(need + max(AREA_SLACK, _headroom(need - bases[prev], options)),
                               PAGE)
        if old and old.base(kind) is not None:
            if old.base(kind) >= need:
                bases[kind] = old.base(kind)
            else:
                grew = sizes.get(prev, 0) > old.area_size(prev)
                why = (f"the {prev} area before it grew" if grew
                       else f"the {prev} area before it moved"
                       if bases[prev] != old.base(prev)
                       else "an image's own content grew into it")
                if grew and options.moving and prev == "rodata":
                    why = ("the region of --aslr 2's moving chunks grew: an app needs more "
                           "room for its chunks and their random gaps")
                old.move(f"the {kind} area", kind, why, ["all"])
        size = tdata_total if kind == "tdata" else sizes[kind]
        for e in extracts:
            area_end[e.app] = bases[kind] + size
    return bases


def _area_order(extracts: list[AppFacts]) -> list[str]:
    kinds = [k for k in AREA_STEPS if all(k in e.anchors for e in extracts)]
    return sorted(kinds, key=lambda k: _anchor_addr(extracts[0], k))


def _own_end(ex: AppFacts, units: list[Unit], bases: dict[str, int], sizes: dict[str, int],
             tdata_total: int, last: str) -> int:
    """Where the image's own pages end: after the ``last`` area, what its anchor held
    up to the image's end, less what moved into slots (as :func:`_bases` estimates the
    next area's start)."""
    if not ex.image_end:
        raise BadInput("the app's facts do not say where its image ends", ex.build_dir,
                       "run spacer align --replan")
    size = tdata_total if last == "tdata" else sizes[last]
    solid, slack = _moved(ex, units, last)
    lo = _anchor_addr(ex, last)
    grown = sum(n for obj in ex.objects for k, n in obj.grown.items()
                if k in ex.anchors and _anchor_addr(ex, k) >= lo)
    return bases[last] + size + ex.image_end - lo - solid + slack + grown + PAGE


def _pool(extracts: list[AppFacts], units: list[Unit], bases: dict[str, int],
          sizes: dict[str, int], tdata_total: int, pool_sizes: dict[str, int],
          options: PlanOptions, old: Previous | None) -> PoolRegion:
    """``-c``: the pool region, above the largest image's own pages and the loader's
    room (:data:`POOL_ROOM`): one area per kind of :data:`POOL_KINDS`, each from a fresh
    page, with room to grow before the next. A previous layout's areas stay while
    their slots fit."""
    last = _area_order(extracts)[-1]
    need = align_up(max(_own_end(e, units, bases, sizes, tdata_total, last)
                        for e in extracts) + POOL_ROOM, PAGE)
    before = old.pool if old else None
    at = need
    if options.loc is not None:
        if options.loc < need:
            raise BadInput(f"--loc {options.loc:#x} is below what -c needs: the pool region "
                           f"must start at {need:#x} or later (the largest image's own pages "
                           f"end below {need - POOL_ROOM:#x}, and QEMU's loader writes after "
                           "them)", hint=f"use --loc {need:#x} or leave --loc out")
        at = options.loc
    elif before and before.base >= need:
        at = before.base
    elif before:
        old.move("the pool region", "pool", "an image's own pages grew into the room "
                 "below it", ["all"])
    areas = {}
    for kind in POOL_KINDS:
        size = align_up(pool_sizes.get(kind, 0), PAGE)
        if before and kind in before.areas and before.start(kind) >= at \
                and (not areas or before.base == areas[POOL_KINDS[0]][0]):
            at = before.start(kind)
        elif before and kind in before.areas and options.loc is None:
            old.move(f"the pool's {kind} area", kind, "the area before it grew into it",
                     ["all"])
        areas[kind] = [at, size]
        at = align_up(at + size + max(AREA_SLACK, _headroom(size, options)), PAGE)
    return PoolRegion(areas)


def _grown(ex: AppFacts, first: str, end: str) -> int:
    """Bytes the objects gained, against the original image's, in the kinds whose
    anchors lie from ``first``'s up to ``end``'s (rebuilt code can be larger: -fPIC
    moves pointer tables from read-only data to data)."""
    lo, hi = _anchor_addr(ex, first), _anchor_addr(ex, end)
    kinds = {k for k in ex.anchors if lo <= _anchor_addr(ex, k) < hi}
    return sum(size for obj in ex.objects for k, size in obj.grown.items() if k in kinds)


def _tls_totals(extracts: list[AppFacts], units: list[Unit], sizes: dict[str, int]) -> dict:
    """One TLS block shape for every image that holds a shared TLS slot: slots start
    each TLS section, the image's own TLS follows, and padding gives one size."""
    own = {"tdata": 0, "tbss": 0}
    for e in extracts:
        slotted = _slotted(e.app, units)
        for kind in TLS_KINDS:
            mine = 0
            for obj in e.objects:
                part = obj.kinds.get(kind)
                if part and obj.name not in slotted:
                    mine = align_up(mine, part.align) + part.size
            own[kind] = max(own[kind], mine)
    # Shared slots first, then the image's own TLS, padded to one size for all.
    return {"tdata_total": sizes["tdata"] + own["tdata"],
            "tbss_total": sizes["tbss"] + own["tbss"]}


def _slice(ex: AppFacts, units: list[Unit], bases: dict[str, int], tls: dict,
           options: PlanOptions, moving: dict | None, pool: PoolRegion | None) -> Slice:
    """What one app's linker script needs: its slots, in address order, per kind."""
    app = ex.app
    # -c: the pool's kinds have their slots in the pool region.
    pool_bases = {k: pool.start(k) for k in POOL_KINDS} if pool else {}
    mine = [u for u in units if app in u.apps]
    areas: dict[str, Area] = {}

    def link_path(lib: Library) -> str:
        digest = lib.holders[app]
        if options.copy_objs:
            return lib.variants[digest].path
        return next(o.path for o in ex.objects if o.name == lib.name)

    def parts_of(u: Unit, kind: str, shift: int = 0) -> list[Part]:
        parts = []
        for lib, offset in zip(u.members, u.member_offsets.get(kind, []), strict=False):
            if app in lib.private:
                continue
            facts = lib.variants[lib.holders[app]]
            part = facts.kinds.get(kind)
            if part:
                parts.append(Part(lib.name, lib.holders[app], shift + offset, link_path(lib),
                                  part.sections, part.keep,
                                  _table_copy(facts.table) if kind == TABLE else None))
        # In address order: a kept slot keeps its members' old offsets, whose order
        # may differ from the members' order now.
        return sorted(parts, key=lambda p: p.offset)

    anchors = dict(ex.anchors)
    if TABLE in bases:
        anchors[TABLE] = replace(anchors["rodata"], kind=TABLE)
    for kind, anchor in anchors.items():
        if kind == "eh_frame":
            continue  # placed inside the rodata slots
        slots = []
        moves = moving is not None and kind in ABSOLUTE_KINDS
        for u in mine:
            base = None if kind == "tbss" else \
                pool_bases[kind] if _in_pool(u, kind, pool is not None) else bases.get(kind)
            # --aslr 2: the block's table sits at the end of its data.
            table = parts_of(u, TABLE, align_up(u.sizes.get("data", 0), 8)) \
                if moves and kind == "data" else []
            if kind not in u.offsets and not table:
                continue
            eh_parts = parts_of(u, "eh_frame") if kind == "rodata" else []
            if moves and u.id in moving["pinned"]:  # one address in every image
                at = moving["pinned"][u.id][kind]
                slot = Slot(u.id, at, room_of(moving["chunks"][u.id], kind), base + at,
                            parts_of(u, kind) + table, False, eh_parts)
            elif moves:  # at its offset in the block's chunk; the aslr stage places it
                chunk = moving["chunks"][u.id]
                slot = Slot(u.id, chunk[kind], room_of(chunk, kind), None,
                            parts_of(u, kind) + table, False, eh_parts, SEGMENT_OF[kind])
            else:
                slot = Slot(u.id, u.offsets[kind], u.reserve.get(kind, u.sizes[kind]),
                            None if base is None else base + u.offsets[kind],
                            parts_of(u, kind), u.spoilt.get(kind, False), eh_parts)
            slots.append(slot)
        slots.sort(key=lambda s: s.offset)
        if slots:
            areas[kind] = Area(anchor.output, anchor.split, slots,
                               kind in SEPARATE_KINDS or kind == TABLE)
    has_tls = any(k in areas for k in TLS_KINDS)
    libs = {lib.name: lib for u in mine for lib in u.members if app not in lib.private}
    # The app's own (unshared) libraries link their direct copy (their pages are
    # private: a table would only cost indirect calls); what still needs a table
    # gets it anywhere in the image's own read-only data.
    own = [o.direct or o for o in ex.objects if o.name not in libs]
    private_tables = [_table_copy(o.table) for o in own if o.table and o.table.entries]
    return Slice(
        app=ex.app,
        text_start=_anchor_addr(ex, "text"),
        bases={k: AreaBase(bases[k], ex.anchors[k].output)
               for k in AREA_STEPS if k in bases and k in ex.anchors and k != "text"
               and (pool is None or _fixed_under_pool(k, bases))},
        text_area=bases["text"],
        page_align=options.align,
        areas=areas,
        tls=tls if has_tls else None,
        objects={o.link_name: link_path(lib)
                 if (lib := libs.get(o.name)) else (o.direct or o).path
                 for o in ex.objects},
        private_tables=private_tables,
        aslr=None if moving is None else Blocks(
            region_base=bases["rodata"] + moving["first_free"]["rodata"],
            region=moving["region"],
            slack_pages=moving["apps"][app]["slack_pages"],
            same_mapping=options.same_mapping,
            # In the aslr-1 order (first by code address), which --aslr-same-mapping
            # keeps; a pinned block has its one offset.
            units=[BlockRoom(u.id, moving["blocks"][u.id],
                             moving["pinned"][u.id]["text"] if u.id in moving["pinned"]
                             else None)
                   for u in sorted(moving["apps"][app]["units"],
                                   key=lambda u: (u.offsets.get("text", -1), u.id))]),
        pool=pool,
    )


def _fixed_under_pool(kind: str, bases: dict[str, int]) -> bool:
    """``-c``: whether the image's own area of ``kind`` still needs the fleet-wide base.
    Its slots are in the pool, so only the tables (``--aslr 1``: at a fixed distance
    from their library's code) and the TLS block (its slots, and bounds that shared
    code reads) need one. The others follow the image's own content: a base would
    leave a gap up to the largest image's content, which QEMU's loader writes as zeros,
    a private page per guest for each page of gap."""
    if kind == "rodata":
        return TABLE in bases
    return kind == "tdata"


def _table_copy(table: Table) -> Table:
    """A slice's own copy of an object's table: slices do not share lists with the facts."""
    return Table(table.symbol, [(sym, bool(weak)) for sym, weak in table.entries])
