"""ELF files, read with :mod:`struct` (System V gABI, "Object Files" and "Program Loading").

The one ELF reader of spacer, and only the bytes it needs: the ELF header
(``Elf64_Ehdr``/``Elf32_Ehdr``), the section header table (``Elf64_Shdr``), the
program header table (``Elf64_Phdr``/``Elf32_Phdr``: the multiboot image is ELF32),
and the sections asked for. For a relocatable object that is its allocated sections,
its symbol table (``Elf64_Sym``) with their string tables, and the relocation
sections (``Elf64_Rela``/``Elf64_Rel``) that patch allocated sections; for an image,
its section headers and its loadable segments. The file is mapped read-only (or
given as bytes, to a module that patches a copy), so its debug sections, usually
most of it, are never read.

pyelftools reads the same structures field by field in pure Python, which made it
most of an align's cost; it is kept as the tests' reference (tests/test_elf_reader.py).
Names are decoded as pyelftools decodes them (UTF-8, bad bytes replaced), so the
facts read here are the ones it gave.

Every inconsistency (a table past the end of the file, an index out of range) is a
:class:`~spacer.core.errors.BadInput` without a path; :func:`reading` adds it.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from spacer.core.errors import BadInput

ELFCLASS32, ELFCLASS64, ELFDATA2LSB = 1, 2, 1
ET_REL = 1
EM_386 = 3
EM_X86_64 = 62
MACHINES = {0: "EM_NONE", 3: "EM_386", 40: "EM_ARM", 62: "EM_X86_64", 183: "EM_AARCH64",
            243: "EM_RISCV"}  # e_machine names, for messages
# sh_type
SHT_SYMTAB, SHT_STRTAB, SHT_RELA, SHT_NOBITS, SHT_REL = 2, 3, 4, 8, 9
# sh_flags
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR, SHF_MERGE, SHF_STRINGS, SHF_TLS = (
    0x1, 0x2, 0x4, 0x10, 0x20, 0x400)
# special section indexes
SHN_UNDEF, SHN_ABS, SHN_COMMON, SHN_XINDEX = 0, 0xfff1, 0xfff2, 0xffff
# st_info
STB_LOCAL, STB_GLOBAL, STB_WEAK = 0, 1, 2
STT_SECTION, STT_TLS = 3, 6
# p_type, p_flags
PT_LOAD, PT_TLS = 1, 7
PF_X, PF_W, PF_R = 0x1, 0x2, 0x4
PN_XNUM = 0xffff  # e_phnum of a file whose real count is section 0's sh_info
# Entry sizes of the tables spacer reads.
ENTRY_SIZES = {SHT_RELA: 24, SHT_REL: 16, SHT_SYMTAB: 24}

_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")  # Elf64_Ehdr
_EHDR32 = struct.Struct("<16sHHIIIIIHHHHHH")  # Elf32_Ehdr
_SHDR = struct.Struct("<IIQQQQIIQQ")  # Elf64_Shdr
_SHDR32 = struct.Struct("<IIIIIIIIII")  # Elf32_Shdr
_PHDR = struct.Struct("<IIQQQQQQ")  # Elf64_Phdr: p_type, p_flags, p_offset, ... p_align
_PHDR32 = struct.Struct("<IIIIIIII")  # Elf32_Phdr: p_type, p_offset, ... p_flags, p_align
SYM_ENTRY = struct.Struct("<IBBHQQ")  # Elf64_Sym
RELA_ENTRY = struct.Struct("<QQq")  # Elf64_Rela
_REL = "<QQ"


@dataclass(frozen=True)
class SectionHeader:
    """``Elf64_Shdr``, with its index and its name."""

    index: int
    name: str
    type: int
    flags: int
    addr: int
    offset: int
    size: int
    link: int
    info: int
    addralign: int
    entsize: int


@dataclass(frozen=True)
class ProgramHeader:
    """``Elf64_Phdr`` or ``Elf32_Phdr`` (a segment), with its index."""

    index: int
    type: int
    flags: int
    offset: int
    vaddr: int
    paddr: int
    filesz: int
    memsz: int
    align: int


class Relocation(NamedTuple):
    """``Elf64_Rela`` (``r_addend`` 0 for ``Elf64_Rel``) and where the entry sits in the
    file, for a module that patches it."""

    r_offset: int
    r_info: int
    r_addend: int
    entry: int  # file offset of the entry

    @property
    def r_sym(self) -> int:
        """``ELF64_R_SYM(r_info)``: the symbol table index."""
        return self.r_info >> 32

    @property
    def r_type(self) -> int:
        """``ELF64_R_TYPE(r_info)``: the relocation type."""
        return self.r_info & 0xffffffff


@dataclass(frozen=True)
class Symbol:
    """``Elf64_Sym``: ``shndx`` is the raw index (``SHN_UNDEF``, ``SHN_COMMON``...)."""

    name: str
    value: int
    size: int
    bind: int
    type: int
    shndx: int


def _cstring(table: bytes, offset: int) -> str:
    """The NUL-terminated string at ``offset`` of a string table ('' past its end)."""
    end = table.find(b"\0", offset)
    raw = table[offset:end if end >= 0 else len(table)]
    return raw.decode("utf-8", errors="replace") if raw else ""


class ElfFile:
    """One ELF64 little-endian file, mapped read-only: ``with ElfFile.open(f) as elf``.

    ``header`` holds the ``Elf64_Ehdr`` fields spacer uses, ``sections`` the section
    headers. :meth:`data`, :meth:`symbols` and :meth:`relocations` read one section.
    """

    def __init__(self, view: mmap.mmap | bytes):
        self.view = view
        self.size = len(view)
        if self.size < 6 or view[:4] != b"\x7fELF":
            raise BadInput("not an ELF file")
        self.ei_class = view[4]
        header = _EHDR32 if self.ei_class == ELFCLASS32 else _EHDR
        if self.size < header.size:
            raise BadInput("not an ELF file (shorter than its ELF header)")
        (ident, e_type, e_machine, _version, _entry, e_phoff, e_shoff, _flags, _ehsize,
         e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx) = header.unpack_from(view, 0)
        self.elfclass = 64 if ident[4] == ELFCLASS64 else 32
        self.little_endian = ident[5] == ELFDATA2LSB
        self.e_type, self.e_machine = e_type, e_machine
        self.e_shoff, self.e_shentsize = e_shoff, e_shentsize
        self.e_phoff, self.e_phentsize, self.e_phnum = e_phoff, e_phentsize, e_phnum
        self.sections: list[SectionHeader] = []
        if self.elfclass != 64 or not self.little_endian:
            return  # the caller refuses it by its class or machine (or reads segments)
        if e_shoff == 0:
            return
        if e_shentsize != _SHDR.size:
            raise BadInput(f"section headers of {e_shentsize} bytes, not {_SHDR.size}")
        count, strndx = e_shnum, e_shstrndx
        if count == 0 or strndx == SHN_XINDEX:  # the real values are in section 0
            first = self._raw_header(0)
            count = count or first[4]
            strndx = first[6] if strndx == SHN_XINDEX else strndx
        if e_shoff + count * _SHDR.size > self.size:
            raise BadInput("the section header table ends past the end of the file",
                           hint="the file is truncated or damaged; rebuild the unikernel")
        raw = [_SHDR.unpack_from(view, e_shoff + i * _SHDR.size) for i in range(count)]
        names = b""
        if 0 < strndx < count:
            names = self._bytes(raw[strndx][4], raw[strndx][5])
        self.sections = [SectionHeader(i, _cstring(names, r[0]) if names else "", *r[1:])
                         for i, r in enumerate(raw)]

    @classmethod
    def open(cls, f) -> ElfFile:
        """Map the open binary file ``f`` (which must not be empty)."""
        view = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            return cls(view)
        except BaseException:
            view.close()
            raise

    def close(self) -> None:
        if isinstance(self.view, mmap.mmap):
            self.view.close()

    def __enter__(self) -> ElfFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _raw_header(self, index: int) -> tuple:
        at = self.e_shoff + index * _SHDR.size
        if at + _SHDR.size > self.size:
            raise BadInput("the section header table ends past the end of the file",
                           hint="the file is truncated or damaged; rebuild the unikernel")
        return _SHDR.unpack_from(self.view, at)

    def _bytes(self, offset: int, size: int) -> bytes:
        if offset + size > self.size:
            raise BadInput(f"a section ends at {offset + size:#x}, past the end of the file "
                           f"({self.size:#x} bytes)",
                           hint="the file is truncated or damaged; rebuild the unikernel")
        return self.view[offset:offset + size]

    def program_headers(self) -> list[ProgramHeader]:
        """The program header table (the segments), ELF64 or ELF32, little-endian."""
        if self.ei_class not in (ELFCLASS32, ELFCLASS64):
            raise BadInput(f"unknown ELF class {self.ei_class} (EI_CLASS)")
        if not self.little_endian:
            raise BadInput("a big-endian ELF file; spacer reads x86 (little-endian) files")
        count = self.e_phnum
        if count == 0 or self.e_phoff == 0:
            return []
        wide = self.ei_class == ELFCLASS64
        entry = _PHDR if wide else _PHDR32
        if self.e_phentsize != entry.size:
            raise BadInput(f"program headers of {self.e_phentsize} bytes, not {entry.size}")
        if count == PN_XNUM:  # the real count is section 0's sh_info
            shdr = _SHDR if wide else _SHDR32
            if self.e_shoff == 0 or self.e_shoff + shdr.size > self.size:
                raise BadInput("e_phnum is PN_XNUM but there is no section 0 to hold the count")
            count = shdr.unpack_from(self.view, self.e_shoff)[7]
        if self.e_phoff + count * entry.size > self.size:
            raise BadInput("the program header table ends past the end of the file",
                           hint="the file is truncated or damaged; rebuild the unikernel")
        headers = []
        for i in range(count):
            raw = entry.unpack_from(self.view, self.e_phoff + i * entry.size)
            if wide:
                p_type, p_flags, *rest = raw
            else:
                p_type, *rest, p_flags, p_align = raw
                rest.append(p_align)
            headers.append(ProgramHeader(i, p_type, p_flags, *rest))
        return headers

    def segment_data(self, segment: ProgramHeader) -> bytes:
        """The segment's ``p_filesz`` bytes in the file."""
        return self._bytes(segment.offset, segment.filesz)

    def section(self, index: int) -> SectionHeader:
        if not 0 <= index < len(self.sections):
            raise BadInput(f"section index {index} out of range ({len(self.sections)} sections)")
        return self.sections[index]

    def section_by_name(self, name: str) -> SectionHeader | None:
        """The last section called ``name`` (as pyelftools finds it), or None."""
        found = None
        for sec in self.sections:
            if sec.name == name:
                found = sec
        return found

    def data(self, sec: SectionHeader) -> bytes:
        """The section's bytes in the file (none for ``SHT_NOBITS``)."""
        return b"" if sec.type == SHT_NOBITS else self._bytes(sec.offset, sec.size)

    def symbols(self, symtab: SectionHeader) -> list[Symbol]:
        """Every entry of a symbol table, named from its linked string table."""
        strtab = self.section(symtab.link)
        names = self.data(strtab)
        raw = self.data(symtab)
        raw = raw[:len(raw) - len(raw) % SYM_ENTRY.size]
        return [Symbol(_cstring(names, name), value, size, info >> 4, info & 0xf, shndx)
                for name, info, _other, shndx, value, size in SYM_ENTRY.iter_unpack(raw)]

    def entry_offset(self, table: SectionHeader, index: int) -> int:
        """Where entry ``index`` of a symbol or relocation table sits in the file."""
        wanted = ENTRY_SIZES.get(table.type)
        if wanted and table.entsize != wanted:
            raise BadInput(f"section {table.index} has entries of {table.entsize} bytes, "
                           f"not {wanted}")
        return table.offset + index * table.entsize

    def relocation_entries(self, sec: SectionHeader) -> list[Relocation]:
        """Each entry of a ``SHT_RELA`` or ``SHT_REL`` section with its place in the file
        (:meth:`relocations` is the faster form for reading only)."""
        first = self.entry_offset(sec, 0)
        return [Relocation(offset, (sym << 32) | rtype, addend, first + i * sec.entsize)
                for i, (offset, sym, rtype, addend) in enumerate(self.relocations(sec))]

    def relocations(self, sec: SectionHeader) -> Iterator[tuple[int, int, int, int]]:
        """``(r_offset, symbol index, type, r_addend)`` of each entry of a ``SHT_RELA``
        or ``SHT_REL`` section (addend 0 for ``SHT_REL``)."""
        raw = self.data(sec)
        if sec.type == SHT_RELA:
            raw = raw[:len(raw) - len(raw) % RELA_ENTRY.size]
            for offset, info, addend in RELA_ENTRY.iter_unpack(raw):
                yield offset, info >> 32, info & 0xffffffff, addend
        else:
            raw = raw[:len(raw) - len(raw) % 16]
            for offset, info in struct.iter_unpack(_REL, raw):
                yield offset, info >> 32, info & 0xffffffff, 0


@contextmanager
def reading(path: Path, hint: str = "rebuild the unikernel") -> Iterator[None]:
    """Damaged files meet assorted exceptions: make them one :class:`BadInput` that
    names the file."""
    try:
        yield
    except BadInput as exc:
        if exc.path is not None:
            raise
        raise BadInput(exc.what, path, exc.hint or hint) from None
    except (ValueError, KeyError, IndexError, OverflowError, OSError) as exc:
        raise BadInput(f"corrupt or truncated ELF file ({type(exc).__name__}: {exc})", path,
                       hint) from None
