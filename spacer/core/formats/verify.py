"""One image's verify result, typed (``apps/<app>/verify.json``): the slots the
linker did not put where the plan said, and each shared library's pages as
fingerprints, which the report compares across the images that link the library."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from spacer.core.formats.versioned import check_version, read_format, shape

VERIFY_VERSION = 1
_HINT = "run spacer align again"


@dataclass(frozen=True)
class PageFingerprint:
    """A library's bytes on one 4 KiB page it touches, as loaded."""

    index: int  # the page's index from the library's first page
    offset: int  # where the library starts in its first page
    vaddr: int
    digest: str  # of the library's own bytes on the page; "absent" if not loaded
    symbols: dict[str, int]  # symbols its relocations point at there -> their address

    @classmethod
    def from_json(cls, data: dict) -> PageFingerprint:
        return cls(data["index"], data["offset"], data["vaddr"], data["digest"],
                   dict(data["symbols"]))


@dataclass(frozen=True)
class LibraryPages:
    pages: list[PageFingerprint]


@dataclass(frozen=True)
class VerifyResult:
    app: str
    misplaced: list[str]  # one line per slot off plan (verify fails then)
    libraries: dict[str, LibraryPages]  # "<lib>/<kind>/<digest>" -> its pages
    version: int = VERIFY_VERSION

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any, where: str = "") -> VerifyResult:
        check_version(data, "a verify result", VERIFY_VERSION, where, _HINT)
        with shape("a verify result", where, _HINT):
            return cls(data["app"], list(data["misplaced"]),
                       {key: LibraryPages([PageFingerprint.from_json(p) for p in lib["pages"]])
                        for key, lib in data["libraries"].items()})


def read_verify(path: Path) -> VerifyResult:
    return read_format(VerifyResult.from_json, path, _HINT)
