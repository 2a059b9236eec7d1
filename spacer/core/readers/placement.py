"""Where the original linker scripts put each input section, and what spacer may move.

GNU ld gives an input section to the first input section description that
matches it, scripts passed with ``-T`` before the ``-dT`` default script
(ld manual, "INSERT"). spacer moves a library's sections only out of the
platform script's *anchor* output sections, each collecting one *kind*:

=========  ==============  =====================================================
kind       canonical name  how spacer places a library's share of it
=========  ==============  =====================================================
text       .text           at a fixed offset inside ``.text`` (after the boot code)
rodata     .rodata         its own output section at a fixed address
eh_frame   .eh_frame       its own output section (ld merges CIEs per output section)
tdata      .tdata          at a fixed offset inside ``.tdata`` (TLS offsets stay equal)
tbss       .tbss           at a fixed offset from the end of ``.tbss``
data       .data           at a fixed offset inside ``.data``
bss        .bss            at a fixed offset inside ``.bss``
=========  ==============  =====================================================

Read-only data and ``.eh_frame`` need output sections of their own: ld merges
mergeable strings and unwind CIEs across all input sections of one output section,
which would make one library's bytes depend on its neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass

from spacer.core.readers.ldparse import InputSpec, OutputSection, Script
from spacer.core.readers.objects import ObjectFile

KINDS = {"text": ".text", "rodata": ".rodata", "eh_frame": ".eh_frame", "tdata": ".tdata",
         "tbss": ".tbss", "data": ".data", "bss": ".bss"}
SEPARATE_KINDS = ("rodata", "eh_frame")  # per-library output sections
TLS_KINDS = ("tdata", "tbss")
ABSOLUTE_KINDS = ("text", "rodata", "data", "bss")  # a unit's .eh_frame rides in its rodata slot
# Indirection tables (``--aslr 1``): one per library, packed at 8-byte alignment after
# the read-only slots; every table page differs per image anyway.
TABLE = "got"
PACKED_KINDS = (*TLS_KINDS, TABLE)
# -c: the kinds whose shared slots go into the pool region, in its order (.eh_frame
# rides in rodata's slots; TLS stays in each image, its offsets count from its end)
POOL_KINDS = ("text", "rodata", "data", "bss")


@dataclass(frozen=True)
class Anchor:
    kind: str
    output: str  # output section name in the default script
    split: int  # index of the first body item that may hold library sections


def find_anchors(default: Script) -> dict[str, Anchor]:
    """The output section of the default script that collects each kind's canonical name."""
    anchors: dict[str, Anchor] = {}
    for kind, canonical in KINDS.items():
        for out in default.outputs:
            index = _first_spec(out, "anyfile.o", canonical)
            if index is not None:
                anchors[kind] = Anchor(kind, out.name, index)
                break
    return anchors


def _first_spec(out: OutputSection, path: str, section: str) -> int | None:
    for i, item in enumerate(out.items):
        if item.spec is not None and item.spec.matches(path, section):
            return i
    return None


@dataclass(frozen=True)
class Placed:
    script: int  # index in the ordered script list
    output: str
    item: int  # body item index in that output section
    keep: bool


def place(scripts: list[Script], path: str, section: str) -> Placed | None:
    """The statement that takes ``section`` of ``path``: first match, -T scripts first."""
    for si, script in enumerate(scripts):
        for out in script.outputs:
            for ii, item in enumerate(out.items):
                spec: InputSpec | None = item.spec
                if spec is not None and spec.matches(path, section):
                    return Placed(si, out.name, ii, spec.keep)
    return None


def place_object(obj: ObjectFile, link_path: str, scripts: list[Script]) -> dict[str, Placed]:
    """Where the original scripts put each allocated section of ``obj`` (and its COMMON
    symbols, under the name ``COMMON``); orphan sections are left out."""
    names = [s.name for s in obj.sections] + (["COMMON"] if obj.common else [])
    return {name: p for name in names if (p := place(scripts, link_path, name)) is not None}


def movable_sections(placed_by_name: dict[str, Placed], default_index: int,
                     anchors: dict[str, Anchor]) -> dict[str, tuple[list[str], bool]]:
    """For each kind, the names of an object's sections that its anchor would collect
    after the boot-only head (those spacer may move into the library's slot), and
    whether the statements that took them said KEEP."""
    by_output = {a.output: a for a in anchors.values()}
    found: dict[str, tuple[list[str], bool]] = {}
    for name, placed in placed_by_name.items():
        if placed.script != default_index:
            continue
        anchor = by_output.get(placed.output)
        if anchor is None or placed.item < anchor.split:
            continue
        names_, keep = found.get(anchor.kind, ([], False))
        found[anchor.kind] = ([*names_, name], keep or placed.keep)
    return found


def head_size(obj: ObjectFile, placed_by_name: dict[str, Placed], default_index: int,
              anchor: Anchor) -> int:
    """Bytes of ``obj`` that stay in the anchor's head (e.g. the boot code before ``.text``)."""
    size = 0
    for sec in obj.sections:
        placed = placed_by_name.get(sec.name)
        if placed and placed.script == default_index and placed.output == anchor.output \
                and placed.item < anchor.split:
            size = align_up(size, sec.align) + sec.size
    return size


def align_up(value: int, align: int) -> int:
    return -(-value // align) * align


def kind_extent(obj: ObjectFile, names: list[str]) -> tuple[int, int, int]:
    """(size, alignment, solid) of ``names`` laid out in file order, as ld lays one
    statement; ``solid`` counts the bytes ld cannot fold into other files' sections."""
    offset, align, solid = 0, 1, 0
    for sec in obj.sections:
        if sec.name in names:
            offset = align_up(offset, sec.align) + sec.size
            align = max(align, sec.align)
            solid += 0 if sec.merge else sec.size
    if "COMMON" in names:
        for _, size, calign in obj.common:
            offset = align_up(offset, calign) + size
            align = max(align, calign)
            solid += size
    return offset, align, solid
