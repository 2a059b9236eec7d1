"""An app's facts, typed: what the extract stage found in one build
(``extract/<app>.json``), or under ``--aslr`` what the pic stage found in its
position-independent rebuild (``pic/<app>.json``, the same shape with each object's
table, original path, direct copy and growth filled in).

The link recipe, the script's anchors and every object's sections per kind are what
the planner, the symbols stage, lds and relink read; the JSON keys are the field
names (README, "Aligning your own unikernels").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from spacer.core.formats.slices import Table
from spacer.core.formats.versioned import check_version, read_format, shape
from spacer.core.readers.placement import Anchor
from spacer.core.readers.recipe import LinkRecipe

FACTS_VERSION = 1
_HINT = "run spacer align again"


@dataclass(frozen=True)
class KindFacts:
    """One object's sections of one kind (see :mod:`spacer.core.readers.placement`)."""

    sections: list[str]
    size: int
    align: int
    solid: int  # bytes that leave the anchor when the object moves into a slot
    keep: bool
    absolute: int = 0  # absolute addresses in these sections (the object cannot move)
    refs: list[str] = field(default_factory=list)  # symbols referred to, defined elsewhere

    @classmethod
    def from_json(cls, data: dict) -> KindFacts:
        return cls(list(data["sections"]), data["size"], data["align"], data["solid"],
                   data["keep"], data["absolute"], list(data["refs"]))


@dataclass(frozen=True)
class DirectCopy:
    """The pic stage's copy of a library for an image that keeps it to itself: its
    calls go direct, and its table holds what still needs one."""

    path: str
    table: Table

    @classmethod
    def from_json(cls, data: dict) -> DirectCopy:
        return cls(data["path"], Table.from_json(data["table"]))


@dataclass(frozen=True)
class ObjectFacts:
    """What the planner needs of one object of the link."""

    path: str  # the file read: the build's object, or the pic stage's rebuilt copy
    name: str
    digest: str
    kinds: dict[str, KindFacts]
    defined: list[str]
    head: int  # bytes of boot code: they stay at the image's start
    # Read-only content by segment (code apart), for the packed lower bound: per
    # segment, [digest, bytes] of each 4 KiB chunk.
    chunks: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    # The pic stage's (None or empty in extract's facts):
    table: Table | None = None  # its indirection table
    original: str | None = None  # the build's object, which the link command names
    direct: DirectCopy | None = None
    grown: dict[str, int] = field(default_factory=dict)  # kind -> bytes the rebuild added

    @property
    def link_name(self) -> str:
        """The path the build's link command and scripts use for this object."""
        return self.original or self.path

    @classmethod
    def from_json(cls, data: dict) -> ObjectFacts:
        return cls(
            data["path"], data["name"], data["digest"],
            {k: KindFacts.from_json(v) for k, v in data["kinds"].items()},
            list(data["defined"]), data["head"],
            {k: [(d, n) for d, n in v] for k, v in data["chunks"].items()},
            Table.from_json(data["table"]) if data["table"] else None, data["original"],
            DirectCopy.from_json(data["direct"]) if data["direct"] else None,
            dict(data["grown"]))


@dataclass(frozen=True)
class AppFacts:
    """Everything later stages need of one app's build."""

    app: str
    build_dir: str
    recipe: LinkRecipe
    anchors: dict[str, Anchor]  # kind -> the default script's output section for it
    text_head: int  # bytes of boot code at the start of .text, over all objects
    objects: list[ObjectFacts]
    anchor_addresses: dict[str, int]  # kind -> where its anchor began in the original image
    rebuilt_commands: int | None = None  # pic: the compiler commands rerun
    version: int = FACTS_VERSION
    image_end: int = 0  # where the original image's last allocated byte ends

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any, where: str = "") -> AppFacts:
        check_version(data, "app facts", FACTS_VERSION, where, _HINT)
        with shape("app facts", where, _HINT):
            return cls(data["app"], data["build_dir"], LinkRecipe.from_json(data["recipe"]),
                       {k: Anchor(**v) for k, v in data["anchors"].items()},
                       data["text_head"], [ObjectFacts.from_json(o) for o in data["objects"]],
                       dict(data["anchor_addresses"]), data["rebuilt_commands"],
                       FACTS_VERSION, data.get("image_end", 0))


def read_facts(path: Path) -> AppFacts:
    """An app's facts (``extract/<app>.json`` or ``pic/<app>.json``), typed."""
    return read_format(AppFacts.from_json, path, _HINT)
