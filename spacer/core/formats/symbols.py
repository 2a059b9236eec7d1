"""An app's references that leave a library, typed (``symbols/<app>.json``): what
the symbols stage found in the relocations of each object the image links. The
planner sizes the tables from it and the report counts the direct references."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from spacer.core.formats.versioned import check_version, read_format, shape

SYMBOLS_VERSION = 1
_HINT = "run spacer align again"


@dataclass(frozen=True)
class Definer:
    """The object of this image that defines a symbol: its name and variant digest."""

    object: str
    digest: str


def _definer(data: dict | None) -> Definer | None:
    return Definer(data["object"], data["digest"]) if data is not None else None


@dataclass(frozen=True)
class TableEntry:
    """One slot of a library's indirection table."""

    symbol: str
    weak: bool
    defined_by: Definer | None  # None: the linker script, or nobody (an undefined weak)

    @classmethod
    def from_json(cls, data: dict) -> TableEntry:
        return cls(data["symbol"], bool(data["weak"]), _definer(data["defined_by"]))


@dataclass(frozen=True)
class DirectRef:
    """References to one symbol, of one relocation type, that do not go through a table."""

    symbol: str
    type: str  # the relocation type's name, R_X86_64_...
    count: int
    defined_by: Definer | None

    @classmethod
    def from_json(cls, data: dict) -> DirectRef:
        return cls(data["symbol"], data["type"], data["count"], _definer(data["defined_by"]))


@dataclass(frozen=True)
class LibraryRefs:
    digest: str
    table: list[TableEntry]
    through_table: int  # references through the table
    direct: list[DirectRef]

    @classmethod
    def from_json(cls, data: dict) -> LibraryRefs:
        return cls(data["digest"], [TableEntry.from_json(t) for t in data["table"]],
                   data["through_table"], [DirectRef.from_json(r) for r in data["direct"]])


@dataclass(frozen=True)
class AppSymbols:
    app: str
    libraries: dict[str, LibraryRefs]  # object name -> its references
    version: int = SYMBOLS_VERSION

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any, where: str = "") -> AppSymbols:
        check_version(data, "a symbols file", SYMBOLS_VERSION, where, _HINT)
        with shape("a symbols file", where, _HINT):
            return cls(data["app"], {name: LibraryRefs.from_json(lib)
                                     for name, lib in data["libraries"].items()})


def read_symbols(path: Path) -> AppSymbols:
    return read_format(AppSymbols.from_json, path, _HINT)
