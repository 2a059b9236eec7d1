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

A GOT load of the library's own symbol (a ``static`` variable, a section, or a
global the library defines: in a static link nothing can interpose it) stays inside
the library; ld would relax it into an absolute ``mov $addr`` in a static image,
which changes whenever the library moves. :func:`redirect_got` makes it the
position-independent form itself, as ld does for a PIE: ``mov foo@GOTPCREL(%rip)``
becomes ``lea foo(%rip)``, ``call *`` becomes ``addr32 call``, ``jmp *`` becomes
``jmp; nop`` (psABI, "Optimize GOTPCRELX Relocations"). Any other GOT load of a
local symbol (``movq foo@GOTPCREL(%rip), %xmm0``) gets a table slot too, through a
global alias of the symbol that spacer adds to its copy. References to TLS
(``GOTTPOFF``, ``TLSGD``...) are left to ld, which rewrites them for a static link.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from spacer.core.errors import BadInput, ExternalFailure, first_error_line
from spacer.core.readers.elf import (
    RELA_ENTRY,
    SHF_ALLOC,
    SHN_ABS,
    SHN_COMMON,
    SHN_UNDEF,
    SHT_RELA,
    STB_GLOBAL,
    STB_LOCAL,
    STB_WEAK,
    SYM_ENTRY,
    ElfFile,
    Relocation,
    SectionHeader,
    Symbol,
    reading,
)

R_X86_64_PC32 = 2
GOT_TYPES = {9: "R_X86_64_GOTPCREL", 41: "R_X86_64_GOTPCRELX", 42: "R_X86_64_REX_GOTPCRELX"}
SLOT = 8


@dataclass(frozen=True)
class TableEntry:
    symbol: str
    weak: bool  # weak and undefined in the object: the slot holds 0 when nobody defines it


def table_symbol(library: str) -> str:
    return f"__spacer_got_{library}"


_Site = tuple[SectionHeader, Relocation, Symbol]  # a GOT relocation and its symbol


def _got_sites(elf: ElfFile, local: bool = False) -> list[_Site]:
    """(relocation section, relocation, symbol) of every GOT relocation in an allocated
    section against a global symbol (or, with ``local``, a local one)."""
    sites, tables = [], {}
    for sec in elf.sections:
        if sec.type != SHT_RELA:
            continue
        target = elf.section(sec.info)
        if not target.flags & SHF_ALLOC:
            continue
        if sec.link not in tables:
            tables[sec.link] = elf.symbols(elf.section(sec.link))
        symbols = tables[sec.link]
        for rel in elf.relocation_entries(sec):
            if rel.r_type not in GOT_TYPES:
                continue
            if not 0 <= rel.r_sym < len(symbols):
                raise BadInput(f"relocation against symbol {rel.r_sym}, past the symbol "
                               f"table's {len(symbols)} entries")
            sym = symbols[rel.r_sym]
            if sym.name == "__tls_get_addr":
                continue  # part of a TLS code sequence that ld rewrites
            if (sym.bind == STB_LOCAL) == local:
                sites.append((sec, rel, sym))
    return sites


def _weak_undefined(sym: Symbol) -> bool:
    return sym.bind == STB_WEAK and sym.shndx == SHN_UNDEF


def _in_section(sym: Symbol) -> bool:
    """Defined in a section of the object (not undefined, absolute or COMMON)."""
    return sym.shndx not in (SHN_UNDEF, SHN_ABS, SHN_COMMON)


def _elf(data: bytes | bytearray) -> ElfFile:
    """The ELF file in ``data`` (a copy: patches to ``data`` do not change what is read)."""
    return ElfFile(bytes(data))


def table_entries(path: Path) -> list[TableEntry]:
    """The symbols ``path`` reaches through its GOT, in slot order (sorted by name, so
    variants that refer to the same symbols get the same table layout)."""
    with reading(path):
        elf = _elf(Path(path).read_bytes())
        found: dict[str, bool] = {}
        for _, _, sym in _got_sites(elf):
            weak = _weak_undefined(sym)
            found[sym.name] = found.get(sym.name, True) and weak
    return [TableEntry(name, found[name]) for name in sorted(found)]


def redirect_got(source: Path, out: Path, library: str, direct: bool = False,
                 movable: set[str] | None = None) -> list[TableEntry]:
    """Write ``source`` to ``out`` with every GOT relocation aimed at the library's table;
    return the table's entries. ``source`` is not modified; ``out`` appears whole.

    With ``direct``, every GOT load that has a PC-relative form takes it, whoever
    defines the symbol: the copy for an image that keeps the library to itself, whose
    pages are private anyway, so a table would only cost an indirect call. Loads of
    weak undefined symbols and those without such a form still use the table.

    ``movable`` names the sections that move with the library (None: all). An own
    symbol in another section (the boot code, a per-image table the platform script
    collects, such as ``.uk_eventtab``) sits at an address that differs between
    images, so its loads keep their table slot."""
    name = table_symbol(library)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    os.close(fd)
    try:
        Path(tmp).write_bytes(Path(source).read_bytes())
        aliases = _relax_local(Path(tmp), library, direct, None if direct else movable)
        entries = sorted(table_entries(Path(tmp))
                         + [TableEntry(alias, False) for alias in sorted(set(aliases.values()))],
                         key=lambda e: e.symbol)
        if entries:
            # objcopy adds the table symbol (as an absolute one: it cannot add an
            # undefined symbol; the patch makes it undefined) and the local aliases.
            argv = ["objcopy", f"--add-symbol={name}=0,global"]
            argv += [f"--add-symbol={alias}={sec}:{value},global"
                     for (sec, value), alias in sorted(aliases.items(), key=lambda a: a[1])]
            proc = subprocess.run([*argv, tmp, tmp], capture_output=True, text=True,
                                  check=False, timeout=300)
            if proc.returncode != 0:
                raise ExternalFailure(f"objcopy failed: {first_error_line(proc.stderr)}", source)
            _patch(Path(tmp), name, {e.symbol: i for i, e in enumerate(entries)}, aliases)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return entries


def _defined_here(sym: Symbol) -> bool:
    """A global symbol this object defines, strongly: in a static link nothing can
    take its place, so reaching it is library-internal (a weak one may be replaced)."""
    return sym.bind == STB_GLOBAL and _in_section(sym)


def _local_key(elf: ElfFile, sym: Symbol) -> tuple[str, int]:
    return elf.section(sym.shndx).name, sym.value


def _relax_local(path: Path, library: str, direct: bool = False,
                 movable: set[str] | None = None) -> dict[tuple[str, int], str]:
    """GOT loads of the library's own symbols (local ones, and globals it defines
    strongly; with ``direct``, every global but a weak undefined one) made PC-relative
    in place (see module doc); the local ones that cannot be get an alias name:
    (section, value) -> alias."""
    data = bytearray(path.read_bytes())
    aliases: dict[tuple[str, int], str] = {}
    with reading(path):
        elf = _elf(data)
        own = [site for site in _got_sites(elf) if _defined_here(site[2])
               or (direct and not _weak_undefined(site[2]))]
        for sec, rel, sym in [*_got_sites(elf, local=True), *own]:
            target = elf.section(sec.info)
            at = target.offset + rel.r_offset  # the disp32
            offset, info = rel.r_offset, (rel.r_sym << 32) | R_X86_64_PC32
            op = bytes(data[at - 2:at])
            relaxable = rel.r_type != 9  # GOTPCREL promises no instruction form
            if movable is not None and _in_section(sym) \
                    and elf.section(sym.shndx).name not in movable:
                relaxable = False  # where it sits differs between images: keep a slot
            if relaxable and op[0] == 0x8B:  # mov disp(%rip), %reg -> lea disp(%rip), %reg
                data[at - 2] = 0x8D
            elif relaxable and op == b"\xff\x15":  # call *disp(%rip) -> addr32 call rel32
                data[at - 2:at] = b"\x67\xe8"
            elif relaxable and op == b"\xff\x25":  # jmp *disp(%rip) -> jmp rel32; nop
                data[at - 2:at + 4] = b"\xe9" + bytes(data[at:at + 4]) + b"\x90"
                offset -= 1
            else:
                if sym.bind == STB_LOCAL:  # a global keeps its own name
                    key = _local_key(elf, sym)
                    aliases.setdefault(key, f"__spacer_local_{library}_{len(aliases)}")
                continue
            RELA_ENTRY.pack_into(data, rel.entry, offset, info, rel.r_addend)
    path.write_bytes(bytes(data))
    return aliases


def _patch(path: Path, name: str, slot_of: dict[str, int],
           aliases: dict[tuple[str, int], str]) -> None:
    data = bytearray(path.read_bytes())
    with reading(path):
        elf = _elf(data)
        symtab = elf.section_by_name(".symtab")
        symbols = elf.symbols(symtab) if symtab else []
        index = next((i for i, s in enumerate(symbols) if s.name == name), None)
        if index is None:
            raise BadInput(f"objcopy did not add {name}", path)
        entry = elf.entry_offset(symtab, index)
        st_name, info, other, _, _, _ = SYM_ENTRY.unpack_from(data, entry)
        SYM_ENTRY.pack_into(data, entry, st_name, info, other, 0, 0, 0)  # SHN_UNDEF, no value
        sites = [(*site, site[2].name) for site in _got_sites(elf)]
        sites += [(*site, aliases[_local_key(elf, site[2])])
                  for site in _got_sites(elf, local=True)]
        for _, rel, _, target in sites:
            addend = rel.r_addend + SLOT * slot_of[target]
            RELA_ENTRY.pack_into(data, rel.entry, rel.r_offset,
                                 (index << 32) | R_X86_64_PC32, addend)
    path.write_bytes(bytes(data))
