"""GNU ld link maps (``-Map``): where every input section of every file landed.

In the "Linker script and memory map" part, an input section is a line
`` .name  0xADDRESS  0xSIZE  FILE``; a long name stands alone on its line and
the address, size and file follow on the next one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_FULL = re.compile(r"^ (\S+)\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)\s+(\S.*)$")
_NAME_ONLY = re.compile(r"^ (\S+)$")
_REST = re.compile(r"^\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)\s+(\S.*)$")


@dataclass(frozen=True)
class InputPlacement:
    section: str
    address: int
    size: int
    file: str


def read_map(path: Path) -> list[InputPlacement]:
    """Every input section the link placed (size > 0), in map order."""
    placements: list[InputPlacement] = []
    pending: str | None = None
    started = False
    for line in Path(path).read_text(errors="replace").splitlines():
        if not started:
            started = line.startswith("Linker script and memory map")
            continue
        if pending is not None:
            m = _REST.match(line)
            name, pending = pending, None
            if m:
                _add(placements, name, m.group(1), m.group(2), m.group(3))
                continue
        m = _FULL.match(line)
        if m:
            _add(placements, m.group(1), m.group(2), m.group(3), m.group(4))
            continue
        m = _NAME_ONLY.match(line)
        if m and not line.startswith("  "):
            pending = m.group(1)
    return placements


def _add(out: list[InputPlacement], name: str, addr: str, size: str, file: str) -> None:
    size_i = int(size, 16)
    file = file.strip()
    if size_i and not file.startswith("load address") and "(" not in name:
        out.append(InputPlacement(name, int(addr, 16), size_i, file))


def by_file(placements: list[InputPlacement]) -> dict[str, dict[str, InputPlacement]]:
    """file -> section name -> placement."""
    out: dict[str, dict[str, InputPlacement]] = {}
    for p in placements:
        out.setdefault(p.file, {}).setdefault(p.section, p)
    return out
