"""Per-library indirection tables: GOT relocations pointed at a table of the library's own.

A position-independent object (``-fPIC -fno-plt``) reaches every global symbol
through a GOT slot: ``R_X86_64_GOTPCREL``, ``GOTPCRELX`` or ``REX_GOTPCRELX``,
computed as ``G + GOT + A - P`` (System V x86-64 psABI, section 4.4). ld would
make one ``.got`` for the whole image, so each library's code would depend on
where the image's other GOT users sit. :func:`redirect_got` rewrites each of those
relocations, in spacer's copy of the object, into ``R_X86_64_PC32`` against one
undefined symbol, ``__spacer_got_<library>``, with the addend moved by the slot's
offset: ``S + A + 8*i - P``. The linker script defines that symbol at the
library's table and fills slot ``i`` with ``QUAD(symbol i)``, so the instruction
loads the same address it would have loaded from the GOT, and the library's
bytes depend only on where its own table sits.

References to TLS (``GOTTPOFF``, ``TLSGD``...) are left to ld, which rewrites them
for a static link, and so are GOT loads of local symbols (ld turns them into
direct, library-internal addresses).
"""

from __future__ import annotations

import os
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection

from spacer.core.errors import BadInput, ExternalFailure, first_error_line

R_X86_64_PC32 = 2
GOT_TYPES = {9: "R_X86_64_GOTPCREL", 41: "R_X86_64_GOTPCRELX", 42: "R_X86_64_REX_GOTPCRELX"}
SLOT = 8
_SYM = struct.Struct("<IBBHQQ")  # Elf64_Sym
_RELA = struct.Struct("<QQq")  # Elf64_Rela


@dataclass(frozen=True)
class TableEntry:
    symbol: str
    weak: bool  # weak and undefined in the object: the slot holds 0 when nobody defines it


def table_symbol(library: str) -> str:
    return f"__spacer_got_{library}"


def _got_sites(elf: ELFFile):
    """(relocation section, index, relocation, symbol) of every GOT relocation
    against a global symbol in an allocated section."""
    for sec in elf.iter_sections():
        if not isinstance(sec, RelocationSection) or not sec.is_RELA():
            continue
        target = elf.get_section(sec["sh_info"])
        if not target["sh_flags"] & 2:  # SHF_ALLOC
            continue
        symtab = elf.get_section(sec["sh_link"])
        for index, rel in enumerate(sec.iter_relocations()):
            if rel["r_info_type"] not in GOT_TYPES:
                continue
            sym = symtab.get_symbol(rel["r_info_sym"])
            if sym["st_info"]["bind"] == "STB_LOCAL" or sym.name == "__tls_get_addr":
                continue  # ld turns these into direct addresses (TLS: a code sequence)
            yield sec, index, rel, sym


def table_entries(path: Path) -> list[TableEntry]:
    """The symbols ``path`` reaches through its GOT, in slot order (sorted by name, so
    variants that refer to the same symbols get the same table layout)."""
    with Path(path).open("rb") as f:
        elf = ELFFile(f)
        found: dict[str, bool] = {}
        for _, _, _, sym in _got_sites(elf):
            weak = sym["st_info"]["bind"] == "STB_WEAK" and sym["st_shndx"] == "SHN_UNDEF"
            found[sym.name] = found.get(sym.name, True) and weak
    return [TableEntry(name, found[name]) for name in sorted(found)]


def redirect_got(source: Path, out: Path, library: str) -> list[TableEntry]:
    """Write ``source`` to ``out`` with every GOT relocation aimed at the library's table;
    return the table's entries. ``source`` is not modified; ``out`` appears whole."""
    entries = table_entries(source)
    slot_of = {e.symbol: i for i, e in enumerate(entries)}
    name = table_symbol(library)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    os.close(fd)
    try:
        if not entries:
            Path(tmp).write_bytes(Path(source).read_bytes())
        else:
            # objcopy adds the symbol (as an absolute one: it cannot add an undefined
            # symbol); the patch below makes it undefined and redirects the relocations.
            proc = subprocess.run(["objcopy", f"--add-symbol={name}=0,global", str(source), tmp],
                                  capture_output=True, text=True, check=False, timeout=300)
            if proc.returncode != 0:
                raise ExternalFailure(f"objcopy failed: {first_error_line(proc.stderr)}", source)
            _patch(Path(tmp), name, slot_of)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return entries


def _patch(path: Path, name: str, slot_of: dict[str, int]) -> None:
    data = bytearray(path.read_bytes())
    with path.open("rb") as f:
        elf = ELFFile(f)
        symtab = elf.get_section_by_name(".symtab")
        index = next((i for i, s in enumerate(symtab.iter_symbols()) if s.name == name), None)
        if index is None:
            raise BadInput(f"objcopy did not add {name}", path)
        entry = symtab["sh_offset"] + index * symtab["sh_entsize"]
        st_name, info, other, _, _, _ = _SYM.unpack_from(data, entry)
        _SYM.pack_into(data, entry, st_name, info, other, 0, 0, 0)  # SHN_UNDEF, no value
        for sec, i, rel, sym in _got_sites(elf):
            at = sec["sh_offset"] + i * sec["sh_entsize"]
            addend = rel["r_addend"] + SLOT * slot_of[sym.name]
            _RELA.pack_into(data, at, rel["r_offset"], (index << 32) | R_X86_64_PC32, addend)
    path.write_bytes(bytes(data))
