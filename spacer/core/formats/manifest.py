"""The manifest of images, typed (``manifest.json``): each app's original and aligned
images, which the memory bench boots."""

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
class ManifestEntry:
    original: ImageFiles
    aligned: ImageFiles


@dataclass(frozen=True)
class Manifest:
    """Each app's original and aligned images, absolute."""

    apps: dict[str, ManifestEntry]
    version: int = MANIFEST_VERSION

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any, where: str = "manifest.json") -> Manifest:
        check_version(data, "a manifest", MANIFEST_VERSION, where, _HINT)
        with shape("a manifest", where, _HINT):
            return cls({app: ManifestEntry(ImageFiles(**e["original"]), ImageFiles(**e["aligned"]))
                        for app, e in data["apps"].items()})


def read_manifest(path: Path) -> Manifest:
    return read_format(Manifest.from_json, path, _HINT)
