"""Configured strings last: a per-app name must not move a library's other strings.

Unikraft compiles string options of the build's configuration into the libraries:
``CONFIG_UK_NAME`` (the app's name) and ``CONFIG_UK_APP`` (its folder) sit among the
platform library's messages in ``.rodata.str1.1``. Every string after them moves by
the difference in their lengths from one app to the next, and every ``lea`` of
those strings encodes another displacement: the library's code pages then differ
between images that otherwise link the same library. :func:`configured_last`
rewrites spacer's copy of an object so that the strings holding a configured value
come after all the others; nothing else moves, so the library's code is the same
bytes in every image whose variants differ only in those values.

The section keeps its size and every string its bytes; what refers to a string
follows it: a symbol defined in the section (gas's ``.LC`` labels, which
PC-relative references use) takes its string's new offset, and an absolute
reference through the section symbol (a pointer in a table) its new addend.
An object with a PC-relative reference through the section symbol, whose addend
hides the instruction's bias, is left as it was.
"""

from __future__ import annotations

import bisect
import os
import re
import tempfile
from pathlib import Path

from spacer.core.readers.elf import (
    RELA_ENTRY,
    SHF_MERGE,
    SHF_STRINGS,
    SHT_RELA,
    STT_SECTION,
    SYM_ENTRY,
    ElfFile,
    reading,
)

SECTION = ".rodata.str1.1"
_ABSOLUTE = {1, 10, 11}  # R_X86_64_64, _32, _32S: the addend is the string's offset
_VALUE = re.compile(r'^CONFIG_[A-Za-z0-9_]+="(.*)"\s*$')
SHORTEST = 3  # shorter values ("y", "") would match everywhere and tell nothing


def configured_values(build_dir: Path) -> set[bytes]:
    """The string values of the build's configuration (``build/config``, else the
    app's ``.config``); none when neither exists."""
    for path in (build_dir / "config", build_dir.parent / ".config"):
        if path.is_file():
            values = set()
            for line in path.read_text(errors="replace").splitlines():
                found = _VALUE.match(line)
                if found and len(found.group(1)) >= SHORTEST:
                    values.add(found.group(1).replace('\\"', '"').encode())
            return values
    return set()


def configured_last(path: Path, values: set[bytes]) -> bool:
    """Rewrite the object at ``path`` (spacer's own copy) with its strings that hold
    one of ``values`` moved to the end of ``.rodata.str1.1``; whether it changed."""
    data = bytearray(path.read_bytes())
    with reading(path):
        elf = ElfFile(bytes(data))  # a copy: the patches below do not change what is read
        if elf.elfclass != 64 or not elf.little_endian:
            return False
        found = [s for s in elf.sections if s.name == SECTION
                 and s.entsize == 1 and s.addralign <= 1
                 and s.flags & (SHF_MERGE | SHF_STRINGS) == SHF_MERGE | SHF_STRINGS]
        if len(found) != 1 or not values:
            return False
        section = found[0]
        body = elf.data(section)
        moves = _new_offsets(body, values)
        if moves is None:
            return False
        starts, new_starts, order = moves
        ends = [*starts[1:], len(body)]
        start = section.offset
        data[start:start + len(body)] = b"".join(body[starts[k]:ends[k]] for k in order)

        def moved(offset: int) -> int:
            k = bisect.bisect_right(starts, offset) - 1
            return offset if k < 0 or offset >= len(body) else new_starts[k] + offset - starts[k]

        symtab = elf.section_by_name(".symtab")
        own = set()
        for n, sym in enumerate(elf.symbols(symtab) if symtab else []):
            if sym.shndx != section.index:
                continue
            if sym.type == STT_SECTION:
                own.add(n)
                continue
            at = elf.entry_offset(symtab, n)
            fields = list(SYM_ENTRY.unpack_from(data, at))
            fields[4] = moved(sym.value)
            SYM_ENTRY.pack_into(data, at, *fields)
        for rels in elf.sections:
            if rels.type != SHT_RELA:
                continue
            for rel in elf.relocation_entries(rels):
                if rel.r_sym not in own:
                    continue
                if rel.r_type not in _ABSOLUTE:
                    return False  # its bias is unknown: keep the object as it was
                RELA_ENTRY.pack_into(data, rel.entry, rel.r_offset, rel.r_info,
                                     moved(rel.r_addend))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return True


def _new_offsets(body: bytes, values: set[bytes]) -> tuple[list[int], list[int], list[int]] | None:
    """Each string's start, its start once the configured ones go last, and the new
    order; None when nothing would move."""
    starts, at = [], 0
    while at < len(body):
        starts.append(at)
        end = body.find(b"\0", at)
        at = len(body) if end < 0 else end + 1
    ends = [*starts[1:], len(body)]
    late = [any(v in body[s:e] for v in values) for s, e in zip(starts, ends, strict=True)]
    order = [k for k in range(len(starts)) if not late[k]] + \
        [k for k in range(len(starts)) if late[k]]
    if order == list(range(len(starts))):
        return None
    new_starts = [0] * len(starts)
    cursor = 0
    for k in order:
        new_starts[k] = cursor
        cursor += ends[k] - starts[k]
    return starts, new_starts, order
