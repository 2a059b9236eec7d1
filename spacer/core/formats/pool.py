"""The pool, typed (``pool/pool.json``): the file of guest RAM that holds the fleet's
shared read-only pages (``-c``), and each app's loader image and patch. ``spacer
boot --pool``, the memory bench and the manifest read it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from spacer.core.formats.versioned import check_version, read_format, shape

POOL_VERSION = 1
_HINT = "run spacer align -c again"


@dataclass(frozen=True)
class PoolApp:
    image: str  # the loader: a stub of the bootable image that loads none of it
    patch: str | None  # its pages of the region that differ from the pool's, or None
    pool_pages: int  # pages it loads that the pool file gives it
    patch_pages: int  # pages in its patch: its own, or zeros over another image's


@dataclass(frozen=True)
class PoolFacts:
    file: str  # the pool file, absolute; a changed pool gets a new file
    size: int  # its size in bytes: the largest guest RAM it serves
    digest: str  # :func:`spacer.core.outputs.poolfile.pool_digest`
    base: int  # the lowest page the pool holds (guest-physical)
    end: int  # past the stub loader's page and the room QEMU writes after it
    pages: int  # pages the pool file holds (not zero)
    apps: dict[str, PoolApp]
    version: int = POOL_VERSION

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any, where: str = "pool.json") -> PoolFacts:
        check_version(data, "a pool", POOL_VERSION, where, _HINT)
        with shape("a pool", where, _HINT):
            return cls(data["file"], data["size"], data["digest"], data["base"], data["end"],
                       data["pages"], {app: PoolApp(**a) for app, a in data["apps"].items()})


def read_pool(path: Path) -> PoolFacts:
    return read_format(PoolFacts.from_json, path, _HINT)
