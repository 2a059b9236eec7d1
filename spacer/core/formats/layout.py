"""The fleet's layout, typed (``layout.json``): the plan's areas, units and slices,
the moves it had to make against the previous layout, and the options it was made
with. It is state as well as output: the next plan keeps every slot in it that
still fits (:mod:`spacer.core.planner.previous`), so a layout of another format
version is refused, with ``--replan`` as the way out.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spacer.core.formats.versioned import check_version, read_format, shape

if TYPE_CHECKING:  # imported when a layout is read whole: reading its moves needs none
    from spacer.core.formats.slices import PoolRegion, Slice

LAYOUT_VERSION = 4  # 4: --aslr 2 blocks move as chunks (3: the tables follow the read-only slots)
_HINT = "run spacer align --replan"


@dataclass(frozen=True)
class AreaRoom:
    """Where an area starts (None: it has no fixed base, as TLS) and its size."""

    base: int | None
    size: int


@dataclass(frozen=True)
class UnitRecord:
    """A unit as planned: the libraries one set of images holds, and per kind its
    offset in the area, its room and its members' offsets."""

    id: str
    apps: list[str]
    members: list[str]
    variants: dict[str, dict[str, str]]  # member -> app -> digest it links
    sizes: dict[str, int]
    offsets: dict[str, int]
    spoilt: dict[str, bool]
    reserve: dict[str, int]
    raw_offsets: dict[str, list[int]]  # member offsets before .eh_frame joins rodata
    raw_sizes: dict[str, int]
    before_own_code: bool = False  # -c: its code is in the text area, not in the pool


@dataclass(frozen=True)
class Move:
    """What a plan moved against the previous layout, why, the apps it relinks, and
    the read-only pages of sharing lost against a fresh plan."""

    unit: str
    kind: str
    why: str
    apps: list[str]
    pages_lost: int = 0


@dataclass(frozen=True)
class Layout:
    # The recorded options (core.options); a plan with other planner options starts afresh.
    options: dict[str, Any]
    apps: list[str]
    areas: dict[str, AreaRoom]  # kind -> its room
    tls: dict[str, int]  # tdata_total, tbss_total: the one TLS block shape
    units: list[UnitRecord]
    moves: list[Move]
    slices: dict[str, Slice]  # app -> its slice (as plan/<app>.json)
    packed_bound: int  # the fewest read-only library pages any layout needs
    version: int = LAYOUT_VERSION
    pool: PoolRegion | None = None  # -c: the region of the shared slots

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any, where: str = "layout.json") -> Layout:
        from spacer.core.formats.slices import PoolRegion, Slice

        check_version(data, "a layout", LAYOUT_VERSION, where, _HINT)
        with shape("a layout", where, _HINT):
            return cls(
                dict(data["options"]), list(data["apps"]),
                {k: AreaRoom(**v) for k, v in data["areas"].items()}, dict(data["tls"]),
                [UnitRecord(**u) for u in data["units"]], [Move(**m) for m in data["moves"]],
                {app: Slice.from_json(s, where) for app, s in data["slices"].items()},
                data["packed_bound"], LAYOUT_VERSION,
                PoolRegion({k: list(v) for k, v in data["pool"]["areas"].items()})
                if data.get("pool") else None)


def read_layout(path: Path) -> Layout:
    return read_format(Layout.from_json, path, _HINT)


def read_moves(path: Path) -> list[Move]:
    """Only the moves of the layout at ``path`` (what ``spacer report`` shows)."""
    def moves(data: Any, where: str) -> list[Move]:
        check_version(data, "a layout", LAYOUT_VERSION, where, _HINT)
        with shape("a layout", where, _HINT):
            return [Move(**m) for m in data["moves"]]
    return read_format(moves, path, _HINT)
