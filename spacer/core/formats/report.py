"""The fleet's report, typed (``report.json``): static page sharing of the original
and the aligned images, how the shared libraries' pages compare, the references
that leave a library, and the files it was made from.

Other programs read it too, so its ``schema`` is on the README: bump it when a
field changes meaning.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from spacer.core.errors import BadInput
from spacer.core.formats.versioned import check_version, read_format, shape

REPORT_SCHEMA = "spacer-report/1"  # README "report.json": bump when a field changes meaning
_HINT = "run spacer align again"


@dataclass(frozen=True)
class ClassPages:
    """Page figures for one protection class (read-only or writable) of a set of images
    (:class:`spacer.core.sharing.pages.PageCounts`)."""

    total: int
    distinct: int
    zero: int
    padding: int
    shared: int
    frames_saved: int


@dataclass(frozen=True)
class FleetPages:
    """Static sharing of a set of images (:class:`spacer.core.sharing.pages.PageStats`)."""

    images: int
    readonly: ClassPages
    writable: ClassPages

    @classmethod
    def from_json(cls, data: dict) -> FleetPages:
        return cls(data["images"], ClassPages(**data["readonly"]), ClassPages(**data["writable"]))


@dataclass(frozen=True)
class ImageBytes:
    original_bytes: int
    aligned_bytes: int


@dataclass(frozen=True)
class SharedLibraries:
    """Shared library variants' pages, compared across every image that links them."""

    libraries: int  # variants that two or more images link
    identical_pages: int
    differing_pages: int
    extra_copies: int  # distinct versions of differing pages beyond the first


@dataclass(frozen=True)
class DifferingPage:
    library: str  # "<lib>/<kind>"
    page: int
    vaddr: int
    apps: list[str]
    versions: int
    symbols: list[str]  # symbols at different addresses on the page: what keeps it apart


@dataclass(frozen=True)
class References:
    through_tables: int
    direct_by_type: dict[str, int]  # relocation type -> count, most common first


@dataclass(frozen=True)
class AslrLayouts:
    """Entropy per image and how many images got a layout of their own (``--aslr 2``)."""

    seed: int | None
    entropy_bits_min: float
    entropy_bits_max: float
    distinct_layouts: int
    unique_layout_apps: int
    apps: int
    pinned: dict[str, str] = field(default_factory=dict)  # library -> why it stays in place


@dataclass(frozen=True)
class Report:
    apps: dict[str, ImageBytes]
    original: FleetPages
    aligned: FleetPages
    packed_bound: int
    aslr: int
    quality: float | None  # aligned distinct read-only pages over the packed bound
    shared_libraries: SharedLibraries
    differing_pages: list[DifferingPage]
    references: References
    made_from: dict[str, str]  # file under the output folder -> sha256
    aslr_layouts: AslrLayouts | None = None  # --aslr 2 only
    schema: str = REPORT_SCHEMA

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if self.aslr_layouts is None:
            del data["aslr_layouts"]
        return data

    @classmethod
    def from_json(cls, data: Any, where: str = "report.json") -> Report:
        check_version(data, "a report", REPORT_SCHEMA, where, _HINT, key="schema")
        with shape("a report", where, _HINT):
            layouts = data.get("aslr_layouts")
            return cls(
                {app: ImageBytes(**sizes) for app, sizes in data["apps"].items()},
                FleetPages.from_json(data["original"]), FleetPages.from_json(data["aligned"]),
                data["packed_bound"], data["aslr"], data["quality"],
                SharedLibraries(**data["shared_libraries"]),
                [DifferingPage(**p) for p in data["differing_pages"]],
                References(**data["references"]), dict(data["made_from"]),
                AslrLayouts(**layouts) if layouts is not None else None)


def read_report(path: Path) -> Report:
    return read_format(Report.from_json, path, _HINT)


def file_digest(path: Path) -> str:
    """What ``made_from`` holds for a file: its sha256, or "missing"."""
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"


def check_report_current(root: Path) -> Report:
    """``report.json`` under ``root``, if it still describes the outputs beside it.

    An align that failed or was interrupted after the plan changed leaves the previous
    report behind: the files it was made from have changed since. Refuse it then.
    (Here, not in the report stage, so ``spacer report`` imports no page analysis.)
    """
    path = Path(root) / "report.json"
    try:
        report = read_report(path)
    except FileNotFoundError:
        raise BadInput("no report yet", path, "run spacer align first") from None
    stale = next((name for name, digest in sorted(report.made_from.items())
                  if file_digest(Path(root) / name) != digest), None)
    if stale is not None:
        raise BadInput(f"out of date: {stale} changed since it was written (the last align "
                       "failed or was interrupted)", path, "run spacer align again")
    return report
