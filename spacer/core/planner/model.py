"""The planner's model: its options, a library with its variants, and a unit (the
libraries one set of images holds, which get one slot per kind)."""

from __future__ import annotations

from dataclasses import dataclass, field

from spacer.core.formats.facts import ObjectFacts

HEADROOM = 0.0  # extra room per library; 0.1 cost 7% more read-only pages (see README)


@dataclass(frozen=True)
class PlanOptions:
    loc: int | None = None  # absolute start of the shared text area
    align: bool = True  # page-align every slot (else pack at natural alignment)
    group: bool = True  # one slot for all shared variants held by the same images
    copy_objs: bool = False  # link every image with the same canonical object file
    aslr: int = 0  # 1: position-independent libraries reach the world through tables;
    # 2: and every image places its shared libraries in its own random order
    same_mapping: bool = False  # aslr 2: keep the aslr-1 order, move by random gaps only
    headroom: float = HEADROOM  # room to grow, as a fraction of each slot's size
    custom_loader: bool = False  # the shared read-only slots go into one pool region

    @property
    def moving(self) -> bool:
        return self.aslr >= 2


@dataclass
class Library:
    """A library name and its variants in the fleet.

    Variants are told apart by content, but all variants of one library get the same
    slot: no image holds two of them, and variants that differ in a few bytes (a
    configured name, a timestamp) still share every page where they agree.
    """

    name: str
    variants: dict[str, ObjectFacts] = field(default_factory=dict)  # digest -> its facts
    holders: dict[str, str] = field(default_factory=dict)  # app -> digest it links
    # Apps that link their own copy at another address: a new app whose variant does
    # not fit the slot the previous layout kept (its variant is not in the slot).
    private: set[str] = field(default_factory=set)
    # -c: a variant of its own slot (see spacer.core.planner.variants); "" for the
    # library's main slot, which every other variant shares.
    tag: str = ""

    @property
    def key(self) -> str:
        """What the layout calls it: its name, and its variant's tag if it has one."""
        return f"{self.name}@{self.tag}" if self.tag else self.name

    @property
    def apps(self) -> list[str]:
        return sorted(self.holders)

    def kinds(self) -> set[str]:
        return {k for v in self.variants.values() for k in v.kinds}

    def extent(self, kind: str) -> tuple[int, int]:
        live = {d for app, d in self.holders.items() if app not in self.private}
        parts = [(v.kinds[kind].size, v.kinds[kind].align) for d, v in self.variants.items()
                 if kind in v.kinds and d in live] or [(0, 1)]
        return max(size for size, _ in parts), max(align for _, align in parts)

    @property
    def pinned(self) -> bool:
        """Whether ASLR leaves it in place (:func:`pin_reason`)."""
        return any(pin_reason(v) for v in self.variants.values())

    def refs(self, kinds: tuple[str, ...]) -> set[str]:
        return {sym for v in self.variants.values() for k in kinds if k in v.kinds
                for sym in v.kinds[k].refs}


def pin_reason(obj: ObjectFacts) -> str | None:
    """Why ``obj`` cannot move under ASLR, or None. Its code or read-only data holds
    absolute addresses (the platform's assembly), or it has boot code, which stays at
    the image's start and holds the absolute addresses of the library's entry, stack
    and page tables: moving it would change its bytes and the boot page."""
    if obj.head:
        return f"{obj.head} bytes of boot code, which stay at the image's start"
    absolute = {k: part.absolute for k, part in obj.kinds.items()
                if k in ("text", "rodata", "eh_frame") and part.absolute}
    if absolute:
        where = ", ".join(f"{n} in {k}" for k, n in sorted(absolute.items()))
        return (f"absolute addresses in its code or read-only data ({where}): "
                "moving it would change its bytes")
    return None


@dataclass
class Unit:
    """What gets one slot per kind: the shared libraries one set of images holds."""

    id: str
    members: list[Library]
    apps: list[str]
    sizes: dict[str, int] = field(default_factory=dict)
    aligns: dict[str, int] = field(default_factory=dict)
    offsets: dict[str, int] = field(default_factory=dict)  # kind -> offset in the area
    reserve: dict[str, int] = field(default_factory=dict)  # kind -> room, headroom included
    member_offsets: dict[str, list[int]] = field(default_factory=dict)  # kind -> per member
    raw_offsets: dict[str, list[int]] = field(default_factory=dict)  # before .eh_frame joins
    raw_sizes: dict[str, int] = field(default_factory=dict)
    # kind -> its slot refers to symbols whose address differs between images (so at
    # least its last page differs anyway: the image's own content may share that page)
    spoilt: dict[str, bool] = field(default_factory=dict)
    # -c: its code stays in the text area, before the image's own (plan._in_pool)
    before_own_code: bool = False
