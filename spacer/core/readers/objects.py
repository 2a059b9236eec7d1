"""Relocatable objects (ELF ET_REL): allocated sections, symbols, relocations, digest.

Follows the System V ABI's terms: a *section* (``Elf64_Shdr``) with ``sh_flags``
``SHF_ALLOC``/``SHF_WRITE``/``SHF_EXECINSTR``/``SHF_TLS``, ``SHT_NOBITS`` for
``.bss``-like sections, ``SHT_RELA`` sections that patch them, and ``COMMON``
symbols (``st_shndx == SHN_COMMON``) that the linker allocates in ``.bss``.

A library *variant* is named by :func:`content_digest`: the bytes of its allocated
sections plus its relocations (offset, type, symbol name, addend). Two files with
the same name may be different variants; two files with different paths but the
same digest are one variant.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from spacer.core.errors import BadInput
from spacer.core.readers.elf import (
    EM_X86_64,
    ENTRY_SIZES,
    ET_REL,
    MACHINES,
    SHF_ALLOC,
    SHF_EXECINSTR,
    SHF_MERGE,
    SHF_STRINGS,
    SHF_TLS,
    SHF_WRITE,
    SHN_ABS,
    SHN_COMMON,
    SHN_UNDEF,
    SHT_NOBITS,
    SHT_REL,
    SHT_RELA,
    SHT_STRTAB,
    SHT_SYMTAB,
    STB_LOCAL,
    STT_SECTION,
    ElfFile,
    reading,
)

# R_X86_64_64, _32, _32S: an absolute address in the bytes, which moves with the target.
ABSOLUTE_TYPES = {1, 10, 11}
# sh_addralign is 0, 1 or a power of two (System V ABI); more than a large page is a
# damaged field, not a section to lay out.
MAX_ALIGN = 1 << 24
# Facts of this many distinct object contents are kept per process.
CACHE_SIZE = 1024

_TYPES = {0: "ET_NONE", 1: "ET_REL", 2: "ET_EXEC", 3: "ET_DYN", 4: "ET_CORE"}
_SECTION_TYPES = {0: "SHT_NULL", 1: "SHT_PROGBITS", 2: "SHT_SYMTAB", 3: "SHT_STRTAB",
                  4: "SHT_RELA", 8: "SHT_NOBITS", 9: "SHT_REL"}
_SPECIAL_INDEX = {SHN_UNDEF: "SHN_UNDEF", SHN_ABS: "SHN_ABS", SHN_COMMON: "SHN_COMMON"}


@dataclass(frozen=True)
class Section:
    """One allocated input section of an object."""

    name: str
    size: int
    align: int
    writable: bool
    executable: bool
    tls: bool
    nobits: bool
    merge: bool  # SHF_MERGE: ld may fold its entries into another file's


@dataclass(frozen=True, slots=True)
class Reloc:
    """A relocation against an allocated section: where, how, and to what."""

    section: str
    offset: int
    type: int
    symbol: str  # symbol name, or the section name for section symbols
    addend: int


@dataclass(frozen=True)
class ObjectFile:
    """What the planner needs to know of one relocatable object."""

    path: str
    name: str  # e.g. "libnolibc" for build/libnolibc.o
    sections: tuple[Section, ...]
    common: tuple[tuple[str, int, int], ...]  # (symbol, size, alignment) of COMMON symbols
    defined: tuple[str, ...]  # global/weak symbols it defines
    undefined: tuple[str, ...]  # symbols it needs from elsewhere
    refs: dict[str, tuple[str, ...]]  # section -> symbols its relocations point at
    local_symbols: dict[str, str]  # local symbol (e.g. ".LC0") -> the section defining it
    absolute: dict[str, int]  # section -> relocations that write an absolute address
    digest: str


@dataclass(frozen=True)
class _Facts:
    """Everything spacer reads of one object's content, whatever its path."""

    object: ObjectFile  # with an empty path and name
    relocations: tuple[Reloc, ...]


def object_name(path: Path) -> str:
    """``build/libnolibc.o`` -> ``libnolibc``; ``build/apphello.o`` -> ``apphello``."""
    name = path.name
    return name.removesuffix(".o")


def _check_object(elf: ElfFile, path: Path) -> None:
    """An x86_64 relocatable object whose tables lie inside the file."""
    if elf.e_machine != EM_X86_64 or elf.elfclass != 64 or not elf.little_endian:
        machine = MACHINES.get(elf.e_machine, elf.e_machine)
        raise BadInput(f"wrong machine {machine} (ELF{elf.elfclass}"
                       f"{'' if elf.little_endian else ', big-endian'}), spacer handles "
                       "x86_64 only", path)
    if elf.e_type != ET_REL:
        raise BadInput(f"not a relocatable object ({_TYPES.get(elf.e_type, elf.e_type)})", path)
    _check_extents(elf, path)


def _check_extents(elf: ElfFile, path: Path) -> None:
    """Every section with file content (``sh_type != SHT_NOBITS``) lies inside the file,
    and relocation and symbol tables have the entry size their type has: a damaged
    size or offset is refused here, not met as a huge read later."""
    for sec in elf.sections:
        if sec.type == SHT_NOBITS:
            continue
        if sec.offset + sec.size > elf.size:
            raise BadInput(f"section {sec.index} ends at {sec.offset + sec.size:#x}, past the "
                           f"end of the file ({elf.size:#x} bytes)", path,
                           "the file is truncated or damaged; rebuild the unikernel")
        align = sec.addralign
        if sec.flags & SHF_ALLOC and (align & (align - 1) or align > MAX_ALIGN):
            raise BadInput(f"section {sec.index} has alignment {align:#x}, not a power of two "
                           f"up to {MAX_ALIGN:#x}", path,
                           "the file is damaged; rebuild the unikernel")
        wanted = ENTRY_SIZES.get(sec.type)
        if wanted and sec.entsize != wanted:
            raise BadInput(f"section {sec.index} has entries of {sec.entsize} bytes, "
                           f"not {wanted}", path, "the file is damaged; rebuild the unikernel")


def _content_key(elf: ElfFile) -> str:
    """A digest of everything spacer reads of the object: the name, type and flags of
    every section; the headers and bytes of its allocated sections, symbol tables and
    the relocations of allocated sections. Two files with one key have the same facts.
    Where the sections lie in the file is left out, and so are the debug sections,
    which are never read: they hold the build's paths, so the same library built for
    two apps has other debug sections and the same key."""
    alloc = {s.index for s in elf.sections if s.flags & SHF_ALLOC}
    wanted = set(alloc)
    for sec in elf.sections:
        if sec.type in (SHT_RELA, SHT_REL) and sec.info in alloc:
            wanted.add(sec.index)
            wanted.add(sec.link)
        if sec.type == SHT_SYMTAB:
            wanted.add(sec.index)
            wanted.add(sec.link)
    key = hashlib.sha256(f"{elf.elfclass}:{elf.e_type}:{elf.e_machine}\n".encode())
    for sec in elf.sections:
        key.update(f"{sec.index}:{sec.name}:{sec.type}:{sec.flags}\n".encode())
        if sec.index in wanted:
            key.update(f"{sec.addr}:{sec.size}:{sec.link}:{sec.info}:{sec.addralign}:"
                       f"{sec.entsize}\n".encode())
            key.update(elf.data(sec))
    return key.hexdigest()


def _relocations(elf: ElfFile, alloc_index: dict[int, str]) -> Iterator[Reloc]:
    """The relocations of allocated sections, in section and entry order."""
    symbol_tables: dict[int, list] = {}
    for sec in elf.sections:
        if sec.type not in (SHT_RELA, SHT_REL):
            continue
        target = alloc_index.get(sec.info)
        if target is None:
            continue  # relocations of debug or note sections do not reach memory
        symtab = elf.section(sec.link)
        if symtab.type != SHT_SYMTAB:
            raise BadInput(f"relocation section {sec.name} links to section {sec.link}, "
                           "not to a symbol table")
        if symtab.index not in symbol_tables:
            symbol_tables[symtab.index] = _symbols(elf, symtab)
        symbols = symbol_tables[symtab.index]
        names: dict[int, str] = {}  # each symbol is named once, not once per relocation
        for offset, index, rtype, addend in elf.relocations(sec):
            name = names.get(index)
            if name is None:
                name = names[index] = _symbol_name(symbols, index, elf)
            yield Reloc(target, offset, rtype, name, addend)


def _symbols(elf: ElfFile, symtab) -> list:
    strtab = elf.section(symtab.link)
    if strtab.type != SHT_STRTAB:
        raise BadInput(f"symbol table {symtab.name} links to section {symtab.link}, "
                       "not to a string table")
    return elf.symbols(symtab)


def _symbol_name(symbols: list, index: int, elf: ElfFile) -> str:
    if not 0 <= index < len(symbols):
        raise BadInput(f"relocation against symbol {index}, past the symbol table's "
                       f"{len(symbols)} entries")
    sym = symbols[index]
    if sym.type == STT_SECTION:
        if sym.shndx in _SPECIAL_INDEX:
            raise BadInput(f"section symbol {index} names no section "
                           f"({_SPECIAL_INDEX[sym.shndx]})")
        return elf.section(sym.shndx).name
    return sym.name


class _Cache:
    """Facts by content key, the most recently used kept (per process)."""

    def __init__(self, size: int):
        self.size = size
        self.entries: OrderedDict = OrderedDict()

    def get(self, key):
        found = self.entries.get(key)
        if found is not None:
            self.entries.move_to_end(key)
        return found

    def put(self, key, value) -> None:
        self.entries[key] = value
        if len(self.entries) > self.size:
            self.entries.popitem(last=False)


_FACTS = _Cache(CACHE_SIZE)
_CHUNKS = _Cache(CACHE_SIZE)
# A file unchanged since it was read (same inode, size and mtime) keeps its content
# key: extract, symbols and verify read one object several times in a row.
_KEYS = _Cache(CACHE_SIZE)


def _file_id(path: Path) -> tuple | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return str(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


@contextmanager
def _object(path: Path) -> Iterator[tuple[ElfFile, str]]:
    """The checked object at ``path``, mapped, and its content key."""
    path = Path(path)
    if not path.is_file():
        raise BadInput("object file missing", path, "rebuild the unikernel")
    file_id = _file_id(path)
    with path.open("rb") as f, reading(path):
        if f.read(4) != b"\x7fELF":
            raise BadInput("not an ELF file", path, "rebuild the unikernel")
        with ElfFile.open(f) as elf:
            _check_object(elf, path)
            key = _content_key(elf)
            if file_id is not None:
                _KEYS.put(file_id, key)
            yield elf, key


def _known_key(path: Path) -> str | None:
    file_id = _file_id(Path(path))
    return _KEYS.get(file_id) if file_id is not None else None


def _facts_of(elf: ElfFile, key: str) -> _Facts:
    facts = _FACTS.get(key)
    if facts is None:
        facts = _read(elf)
        _FACTS.put(key, facts)
    return facts


def _facts(path: Path) -> _Facts:
    key = _known_key(path)
    facts = _FACTS.get(key) if key is not None else None
    if facts is not None:
        return facts
    with _object(path) as (elf, key):
        return _facts_of(elf, key)


def read_relocations(path: Path) -> list[Reloc]:
    """Relocations against allocated sections; verify uses them to explain differing pages."""
    return list(_facts(path).relocations)


def read_object(path: Path) -> ObjectFile:
    """Read ``path``; one clear :class:`BadInput` when it is not an x86_64 ELF object.

    Each distinct content is parsed once per process (the same library is in many
    apps, and extract, symbols and verify all read it)."""
    obj = _facts(path).object
    return ObjectFile(path=str(path), name=object_name(Path(path)), sections=obj.sections,
                      common=obj.common, defined=obj.defined, undefined=obj.undefined,
                      refs=dict(obj.refs), local_symbols=dict(obj.local_symbols),
                      absolute=dict(obj.absolute), digest=obj.digest)


def _read(elf: ElfFile) -> _Facts:
    digest = hashlib.sha256()
    sections: list[Section] = []
    alloc_index: dict[int, str] = {}
    for sec in elf.sections:
        flags = sec.flags
        if not flags & SHF_ALLOC:
            continue
        nobits = sec.type == SHT_NOBITS
        s = Section(
            name=sec.name,
            size=sec.size,
            align=max(1, sec.addralign),
            writable=bool(flags & SHF_WRITE),
            executable=bool(flags & SHF_EXECINSTR),
            tls=bool(flags & SHF_TLS),
            nobits=nobits,
            merge=bool(flags & SHF_MERGE),
        )
        sections.append(s)
        alloc_index[sec.index] = sec.name
        digest.update(f"S{s.name}:{s.size}:{s.align}:{flags}:{nobits}\n".encode())
        if not nobits:
            digest.update(elf.data(sec))

    refs: dict[str, set[str]] = {}
    absolute: dict[str, int] = {}
    relocations = tuple(_relocations(elf, alloc_index))
    for r in relocations:
        refs.setdefault(r.section, set()).add(r.symbol)
        if r.type in ABSOLUTE_TYPES:
            absolute[r.section] = absolute.get(r.section, 0) + 1
        digest.update(f"R{r.section}:{r.offset}:{r.type}:{r.symbol}:{r.addend}\n".encode())

    defined: list[str] = []
    undefined: list[str] = []
    common: list[tuple[str, int, int]] = []
    local_symbols: dict[str, str] = {}
    symtab = elf.section_by_name(".symtab")
    if symtab is not None and symtab.type != SHT_SYMTAB:
        raise BadInput(f"section .symtab is of type "
                       f"{_SECTION_TYPES.get(symtab.type, symtab.type)}, not a symbol table")
    for sym in _symbols(elf, symtab) if symtab is not None else ():
        name, shndx = sym.name, sym.shndx
        if name and sym.bind == STB_LOCAL and shndx in alloc_index:
            local_symbols[name] = alloc_index[shndx]
        if not name or sym.bind == STB_LOCAL:
            continue
        if shndx == SHN_UNDEF:
            undefined.append(name)
        elif shndx == SHN_COMMON:
            common.append((name, sym.size, max(1, sym.value)))
            defined.append(name)
        else:
            defined.append(name)
    for name, size, align in sorted(common):
        digest.update(f"C{name}:{size}:{align}\n".encode())

    return _Facts(ObjectFile(
        path="",
        name="",
        sections=tuple(sections),
        common=tuple(sorted(common)),
        defined=tuple(sorted(set(defined))),
        undefined=tuple(sorted(set(undefined))),
        refs={sec: tuple(sorted(syms)) for sec, syms in refs.items()},
        absolute=absolute,
        local_symbols=local_symbols,
        digest=digest.hexdigest()[:24],
    ), relocations)


def _merged(data: bytes, entsize: int, strings: bool) -> bytes:
    """At most what ld keeps of a mergeable section: each entry once, and for strings
    none that is the tail of another (ld merges suffixes)."""
    if strings:
        entries = sorted(set(data.split(b"\0")) - {b""}, key=lambda e: (-len(e), e))
        kept: list[bytes] = []
        for entry in entries:
            if not any(k.endswith(entry) for k in kept):
                kept.append(entry)
        return b"\0".join(kept) + b"\0" if kept else b""
    step = max(1, entsize)
    return b"".join(sorted({data[i:i + step] for i in range(0, len(data), step)}))


def content_chunks(path: Path, groups: dict[str, list[str]], size: int = 4096) -> dict:
    """Per group of sections (laid out in file order, as ld lays one statement), the
    content cut into ``size``-byte chunks from the group's start: ``[digest, bytes]``
    each, where the digest covers the chunk's bytes and the relocations that patch it.
    Mergeable sections count as what ld would keep of them at most. The packed lower
    bound (:mod:`spacer.core.sharing.bound`) compares libraries chunk by chunk."""
    shape = (size, tuple((g, tuple(n)) for g, n in groups.items()))
    key = _known_key(path)
    found = _CHUNKS.get((key, *shape)) if key is not None else None
    if found is None:
        with _object(path) as (elf, key):
            found = _CHUNKS.get((key, *shape))
            if found is None:
                found = _chunks(elf, _facts_of(elf, key).relocations, groups, size)
                _CHUNKS.put((key, *shape), found)
    return {group: [list(chunk) for chunk in chunks] for group, chunks in found.items()}


def _chunks(elf: ElfFile, relocations: tuple[Reloc, ...], groups: dict[str, list[str]],
            size: int) -> dict:
    last = {s.name: s.index for s in elf.sections if s.flags & SHF_ALLOC}
    alloc = set(last)
    if len(last) < sum(1 for s in elf.sections if s.flags & SHF_ALLOC):
        # Sections sharing a name: each gets the relocations of the last one of them.
        relocations = tuple(_relocations(elf, {i: n for n, i in last.items()}))
    relocs: dict[str, list[Reloc]] = {}
    for r in relocations:
        relocs.setdefault(r.section, []).append(r)
    out: dict[str, list[tuple]] = {}
    for group, names in groups.items():
        blob = bytearray()
        marks: dict[int, list[str]] = {}  # chunk -> what patches it, in order
        for sec in elf.sections:
            if sec.name not in names or sec.name not in alloc:
                continue
            blob.extend(bytes(-len(blob) % max(1, sec.addralign)))
            start = len(blob)
            if sec.type == SHT_NOBITS:
                continue
            data = elf.data(sec)
            if sec.flags & SHF_MERGE:
                data = _merged(data, sec.entsize, bool(sec.flags & SHF_STRINGS))
            else:
                for r in relocs.get(sec.name, ()):
                    at = start + r.offset
                    marks.setdefault(at // size, []).append(
                        f"{at % size}:{r.type}:{r.symbol}:{r.addend};")
            blob.extend(data)
        chunks = []
        for lo in range(0, len(blob), size):
            digest = hashlib.blake2b(blob[lo:lo + size], digest_size=12)
            for what in marks.get(lo // size, ()):
                digest.update(what.encode())
            chunks.append((digest.hexdigest(), min(size, len(blob) - lo)))
        out[group] = chunks
    return out
