"""The previous layout, which a new plan keeps as far as it can (DESIGN.md section 8).

``layout.json`` is state: every slot in it that still fits is kept, so adding,
removing or rebuilding one app relinks only what must move. :class:`Previous`
reads it (:class:`~spacer.core.formats.layout.Layout`, which refuses another format
version), answers where a unit was and how much
room it had, and collects the moves a plan had to make.
"""

from __future__ import annotations

import math
from itertools import pairwise

from spacer.core.formats.facts import KindFacts
from spacer.core.formats.layout import AreaRoom, Layout, Move, UnitRecord
from spacer.core.planner.model import Library, Unit
from spacer.core.readers.placement import ABSOLUTE_KINDS, PACKED_KINDS, TABLE, align_up
from spacer.core.sharing.pages import PAGE_SIZE


def readonly_pages(kinds: dict[str, KindFacts]) -> int:
    """Pages a library variant's code and read-only data fill on their own: what an
    image gives up sharing when it keeps the library to itself."""
    def pages(size: int) -> int:
        return math.ceil(size / PAGE_SIZE)
    size = {k: kinds[k].size if k in kinds else 0 for k in ("text", "rodata", "eh_frame")}
    return pages(size["text"]) + pages(size["rodata"] + size["eh_frame"])


class OldUnit:
    """A unit of the previous layout: where it was and how much room it had."""

    def __init__(self, data: UnitRecord):
        self.members: list[str] = data.members
        self.offsets: dict[str, int] = dict(data.offsets)
        self.reserve: dict[str, int] = data.reserve
        self.sizes: dict[str, int] = data.raw_sizes
        self.raw: dict[str, list[int]] = data.raw_offsets
        self.apps: set[str] = set(data.apps)  # the images that shared its slots
        self.holders: set[str] = {app for by_app in data.variants.values() for app in by_app}

    def room(self, member: str, kind: str) -> int:
        """Bytes ``member`` had for ``kind`` (up to the next member or the slot's end);
        unbounded for a kind it did not have a slot for."""
        if kind not in self.raw:
            return 1 << 62
        old = dict(zip(self.members, self.raw[kind], strict=True))
        later = [o for o in old.values() if o > old[member]]
        return min(later, default=self.sizes.get(kind, 0)) - old[member]

    def fits(self, kind: str, sizes: dict[str, int]) -> list[int] | None:
        """The old member offsets of ``kind`` (in the order of ``sizes``), if every
        member still fits the room it had; else None."""
        if kind not in self.raw or set(sizes) != set(self.members):
            return None
        old = dict(zip(self.members, self.raw[kind], strict=True))
        order = sorted(self.members, key=lambda m: old[m])
        ends = {m: old[n] for m, n in pairwise(order)}
        ends[order[-1]] = self.sizes.get(kind, 0)
        if any(old[m] + sizes[m] > ends[m] for m in self.members):
            return None
        return [old[m] for m in sizes]


class Previous:
    """The layout of the previous run, which a new plan keeps as far as it can
    (DESIGN.md section 8); and the moves it had to make."""

    def __init__(self, layout: Layout):
        self.units = {tuple(sorted(u.members)): OldUnit(u) for u in layout.units}
        self.libraries = {m for u in layout.units for m in u.members}
        self.unit_of = {m: u.id for u in layout.units for m in u.members}
        self.before_own_code = {m for u in layout.units if u.before_own_code for m in u.members}
        # -c: the library keys (its name, or name@tag) each variant digest was under.
        self.keys_of: dict[str, set[str]] = {}
        for u in layout.units:
            for key, by_app in u.variants.items():
                for digest in by_app.values():
                    self.keys_of.setdefault(digest, set()).add(key)
        self.areas: dict[str, AreaRoom] = layout.areas
        self.pool = layout.pool
        self.tls: dict[str, int] = layout.tls
        self.apps: set[str] = set(layout.apps)
        self.moves: list[Move] = []

    def private_variants(self, lib: Library) -> None:
        """A new app whose variant of ``lib`` does not fit the room ``lib`` had links
        its own copy (``lib.private``): it gives up sharing that library alone, and no
        image of the previous layout relinks."""
        old = next((u for u in self.units.values() if lib.key in u.members), None)
        if old is None:
            return
        for app, digest in sorted(lib.holders.items()):
            if app in self.apps:
                continue
            sizes = {k: part.size for k, part in lib.variants[digest].kinds.items()}
            too_big = [k for k, size in sizes.items() if size > old.room(lib.key, k)]
            if too_big:
                lib.private.add(app)
                self.move(lib.name, ", ".join(too_big),
                          f"{app} links its own copy: its variant does not fit the slot",
                          pages_lost=readonly_pages(lib.variants[digest].kinds))

    def variant_key(self, name: str, digest: str) -> str | None:
        """The key (:attr:`Library.key`) under which the previous layout slotted
        variant ``digest`` of library ``name``, if it did."""
        return next((k for k in sorted(self.keys_of.get(digest, ()))
                     if k == name or k.startswith(f"{name}@")), None)

    def unit(self, u: Unit) -> OldUnit | None:
        return self.units.get(tuple(sorted(lib.key for lib in u.members)))

    def move(self, unit: str, kind: str, why: str, apps: list[str] | tuple = (),
             pages_lost: int = 0) -> None:
        """Record one move (README: "layout.json" ``moves``): what moved, why, the apps
        it relinks, and the read-only pages of sharing lost against a fresh plan."""
        self.moves.append(Move(unit, kind, why, list(apps), pages_lost))

    def moved(self, u: Unit, kind: str, why: str) -> None:
        # A new slot keeps the unit shared by all its holders, as a fresh plan would.
        self.move(u.id, kind, why, sorted(set(u.apps) & self.apps))

    def area_size(self, kind: str) -> int:
        return self.areas[kind].size if kind in self.areas else 0

    def pool_size(self, kind: str) -> int:
        """The size the pool region gave ``kind`` (``-c``)."""
        if self.pool is None:
            return 0
        return self.pool.size(kind) if kind in self.pool.areas else 0

    def table_room(self, page_align: bool) -> tuple[int, int] | None:
        """Where the tables were in the read-only area, from its start, up to the end of
        their last page (what they may grow into without moving)."""
        tables, rodata = self.areas.get(TABLE), self.areas.get("rodata")
        if not tables or not tables.size or tables.base is None or not rodata:
            return None
        start = tables.base - rodata.base
        end = start + tables.size
        return start, align_up(end, PAGE_SIZE) if page_align else end

    def base(self, kind: str) -> int | None:
        return self.areas[kind].base if kind in self.areas else None


def private_copies(units: list[Unit], old: Previous) -> None:
    """A new image that holds two libraries whose kept slots overlap (they never met in
    one image before) links the smaller one as its own, at another address: it gives
    up sharing that library, and no other image relinks. An image that had its own
    copy keeps it."""
    kept = [u for u in units if old.unit(u)]
    for u in kept:
        # An image that linked its own copy in the previous layout keeps it: sharing
        # the slot now would relink that image, or move the slot for every holder.
        prev = old.unit(u)
        for app in [a for a in u.apps if a in old.apps and a in prev.holders - prev.apps]:
            u.apps.remove(app)
    for kind in (*ABSOLUTE_KINDS, *PACKED_KINDS):
        # -c: code left in the text area and the pool's code are two areas.
        busy: dict[tuple[str, bool], list[tuple[int, int, Unit]]] = {}
        for u in sorted(kept, key=lambda u: (-len(u.apps), -sum(u.sizes.values()), u.id)):
            prev = old.unit(u)
            if kind not in prev.offsets or u.sizes.get(kind, 0) > prev.reserve.get(kind, 0):
                continue
            lo, hi = prev.offsets[kind], prev.offsets[kind] + prev.reserve[kind]
            area = u.before_own_code and kind == "text"
            for app in list(u.apps):
                hit = next((v for a, b, v in busy.get((app, area), []) if a < hi and lo < b),
                           None)
                if hit is not None and app not in old.apps:
                    u.apps.remove(app)
                    lost = sum(readonly_pages(lib.variants[lib.holders[app]].kinds)
                               for lib in u.members if app in lib.holders)
                    old.move(u.id, kind, f"{app} links its own copy: its slot meets "
                                         f"{hit.id}'s there", pages_lost=lost)
            for app in u.apps:
                busy.setdefault((app, area), []).append((lo, hi, u))
