"""An app's slice of the layout, typed: what its linker script, relink and checks need.

The planner writes one slice per app (``plan/<app>.json``, and ``slices`` in
``layout.json``); under ``--aslr 2`` the aslr stage writes the same slice with every
moving slot's address filled in and the image's map (``aslr/<app>.json``). The
stages after the plan read those files through :meth:`Slice.from_json` and use the
fields below, never string keys; the JSON keys are the field names.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from spacer.core.errors import BadInput
from spacer.core.outputs.atomic import read_json


@dataclass(frozen=True)
class Table:
    """A library's indirection table: its symbol, and one slot per entry (symbol,
    weak). A weak entry nobody defines holds 0."""

    symbol: str
    entries: list[tuple[str, bool]]

    @classmethod
    def from_json(cls, data: dict) -> Table:
        return cls(data["symbol"], [(sym, bool(weak)) for sym, weak in data["entries"]])


@dataclass(frozen=True)
class Part:
    """One library's sections of one kind, at ``offset`` in its slot; or, under
    ``--aslr 2``, the library's table at the end of its data (``table``)."""

    lib: str
    digest: str
    offset: int
    object: str  # the object file the link uses
    sections: list[str]
    keep: bool
    table: Table | None = None

    @classmethod
    def from_json(cls, data: dict) -> Part:
        table = data.get("table")
        return cls(data["lib"], data["digest"], data["offset"], data["object"],
                   list(data["sections"]), data["keep"],
                   Table.from_json(table) if table else None)


@dataclass(frozen=True)
class Slot:
    """A unit's room in an area: at ``offset`` (``address`` when the area has a fixed
    base; None for TLS, whose offsets count inside the TLS block)."""

    unit: str
    offset: int
    size: int
    address: int | None
    parts: list[Part]
    spoilt: bool  # refers to per-image symbols: its last page is left to the image
    eh_parts: list[Part] = field(default_factory=list)  # .eh_frame, in the rodata slot
    # --aslr 2: a moving block's part, in the chunk region in output sections and a
    # program header of its own with these permissions ("rx", "r" or "rw"); its
    # offset counts from the chunk's start until the aslr stage places the chunk.
    segment: str | None = None

    @classmethod
    def from_json(cls, data: dict) -> Slot:
        return cls(data["unit"], data["offset"], data["size"], data["address"],
                   [Part.from_json(p) for p in data["parts"]], data["spoilt"],
                   [Part.from_json(p) for p in data["eh_parts"]], data["segment"])


@dataclass(frozen=True)
class Area:
    """The slots of one kind, placed through the platform script's anchor section."""

    anchor: str  # output section name
    split: int  # index of the anchor's first catch-all statement
    slots: list[Slot]
    separate: bool  # one output section per library, not statements inside the anchor

    @classmethod
    def from_json(cls, data: dict) -> Area:
        return cls(data["anchor"], data["split"], [Slot.from_json(s) for s in data["slots"]],
                   data["separate"])


@dataclass(frozen=True)
class AreaBase:
    base: int
    anchor: str


@dataclass(frozen=True)
class BlockRoom:
    """An ``--aslr 2`` block: its chunk's size, and when it is pinned, its fixed
    offset in the text area."""

    id: str
    block: int
    pinned: int | None


@dataclass(frozen=True)
class Blocks:
    """What the aslr stage needs to place this image's blocks."""

    region_base: int  # where the moving blocks' chunks start: after the pinned read-only data
    region: int  # bytes the chunks and their gaps may take
    slack_pages: int  # free pages this image splits at random among its blocks' gaps
    same_mapping: bool
    units: list[BlockRoom]

    @classmethod
    def from_json(cls, data: dict) -> Blocks:
        return cls(data["region_base"], data["region"], data["slack_pages"],
                   data["same_mapping"], [BlockRoom(**u) for u in data["units"]])


@dataclass(frozen=True)
class AslrMap:
    """Where one image's blocks landed (``--aslr 2``)."""

    seed: int
    order: list[str]
    offsets: dict[str, int]
    libraries: dict[str, dict[str, int]]  # kind -> library -> address
    tables: dict[str, int]  # library -> its table's address
    entropy_bits: float

    @classmethod
    def from_json(cls, data: dict) -> AslrMap:
        return cls(**data)


@dataclass(frozen=True)
class PoolRegion:
    """``-c``: the region that holds every shared slot but TLS, above every image's own
    pages (and the room QEMU's loader writes after them): per kind, its [base, size],
    in the order code, read-only data, data, bss. Code, read-only data, and data with
    bss each get a program header of their own."""

    areas: dict[str, list[int]]  # kind -> [base, size]

    @property
    def base(self) -> int:
        return min(base for base, _ in self.areas.values())

    @property
    def end(self) -> int:
        return max(base + size for base, size in self.areas.values())

    def start(self, kind: str) -> int:
        return self.areas[kind][0]

    def holds(self, address: int | None) -> bool:
        return address is not None and self.base <= address < self.end

    def size(self, kind: str) -> int:
        return self.areas[kind][1]


@dataclass(frozen=True)
class Slice:
    app: str
    text_start: int
    bases: dict[str, AreaBase]  # kind -> the fixed start of its area (not text)
    text_area: int
    page_align: bool
    areas: dict[str, Area]
    tls: dict[str, int] | None  # tdata_total, tbss_total: the one TLS block shape
    objects: dict[str, str]  # object of the build's link -> object this link uses
    private_tables: list[Table]
    aslr: Blocks | None
    aslr_map: AslrMap | None = None
    pool: PoolRegion | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict, where: str = "") -> Slice:
        try:
            return cls(
                data["app"], data["text_start"],
                {k: AreaBase(**v) for k, v in data["bases"].items()}, data["text_area"],
                data["page_align"], {k: Area.from_json(v) for k, v in data["areas"].items()},
                data["tls"], dict(data["objects"]),
                [Table.from_json(t) for t in data["private_tables"]],
                Blocks.from_json(data["aslr"]) if data.get("aslr") else None,
                AslrMap.from_json(data["aslr_map"]) if data.get("aslr_map") else None,
                PoolRegion({k: list(v) for k, v in data["pool"]["areas"].items()})
                if data.get("pool") else None)
        except (KeyError, TypeError, ValueError) as exc:
            raise BadInput(f"not a plan slice of this spacer ({type(exc).__name__}: {exc})",
                           where or None, "run spacer align --replan") from None


def read_slice(path: Path) -> Slice:
    """An app's plan slice (or ASLR map), typed."""
    return Slice.from_json(read_json(path), str(path))
