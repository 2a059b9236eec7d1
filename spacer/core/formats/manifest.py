"""The manifest of images, typed (``manifest.json``): each app's original and aligned
images, which the memory bench boots; with ``-c``, the pool file and each app's
loader image and patch (added fields: the version stays 1)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from spacer.core.formats.versioned import check_version, read_format, shape

MANIFEST_VERSION = 1
_HINT = "run spacer align again"


@dataclass(frozen=True)
class ImageFiles:
    image: str  # the bootable image, absolute
    debug: str  # the debug image it was made from


@dataclass(frozen=True)
class PoolImages:
    image: str  # the loader: a stub of the bootable image that loads none of it
    patch: str | None  # its own pages of the pool region, for QEMU's generic loader


@dataclass(frozen=True)
class PoolFile:
    path: str
    size: int  # bytes: the largest guest RAM it serves
    digest: str  # spacer.core.outputs.poolfile.pool_digest


@dataclass(frozen=True)
class ManifestEntry:
    original: ImageFiles
    aligned: ImageFiles
    pool: PoolImages | None = None


@dataclass(frozen=True)
class Manifest:
    """Each app's original and aligned images, absolute."""

    apps: dict[str, ManifestEntry]
    version: int = MANIFEST_VERSION
    pool: PoolFile | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any, where: str = "manifest.json") -> Manifest:
        check_version(data, "a manifest", MANIFEST_VERSION, where, _HINT)
        with shape("a manifest", where, _HINT):
            return cls({app: ManifestEntry(ImageFiles(**e["original"]), ImageFiles(**e["aligned"]),
                                           PoolImages(**e["pool"]) if e.get("pool") else None)
                        for app, e in data["apps"].items()}, MANIFEST_VERSION,
                       PoolFile(**data["pool"]) if data.get("pool") else None)


def read_manifest(path: Path) -> Manifest:
    return read_format(Manifest.from_json, path, _HINT)
