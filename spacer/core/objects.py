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

import functools
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.construct.core import ConstructError
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection

from spacer.core.errors import BadInput

EM_X86_64 = "EM_X86_64"
# R_X86_64_64, _32, _32S: an absolute address in the bytes, which moves with the target.
ABSOLUTE_TYPES = {1, 10, 11}
# sh_addralign is 0, 1 or a power of two (System V ABI); more than a large page is a
# damaged field, not a section to lay out.
MAX_ALIGN = 1 << 24


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


@dataclass(frozen=True)
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


def object_name(path: Path) -> str:
    """``build/libnolibc.o`` -> ``libnolibc``; ``build/apphello.o`` -> ``apphello``."""
    name = path.name
    return name.removesuffix(".o")


def _open_elf(path: Path, f) -> ELFFile:
    try:
        elf = ELFFile(f)
    except ELFError as exc:
        raise BadInput(f"not a valid ELF object ({exc})", path, "rebuild the unikernel") from None
    if elf.header["e_machine"] != EM_X86_64 or elf.elfclass != 64:
        raise BadInput(f"wrong machine {elf.header['e_machine']} (ELF{elf.elfclass}), spacer "
                       "handles x86_64 only", path)
    if elf.header["e_type"] != "ET_REL":
        raise BadInput(f"not a relocatable object ({elf.header['e_type']})", path)
    _check_extents(elf, path)
    # pyelftools parses a section's header again on every get_section(), and
    # iter_sections() and each section symbol call it: one parse per section instead
    # (extract of the real hello app: 0.83 s -> 0.60 s).
    elf.get_section = functools.lru_cache(maxsize=None)(elf.get_section)
    return elf


def _check_extents(elf: ELFFile, path: Path) -> None:
    """Every section with file content (``sh_type != SHT_NOBITS``) lies inside the file,
    and relocation and symbol tables have the entry size their type has: a damaged
    size or offset is refused here, not met as a huge read later."""
    end = elf.stream.seek(0, 2)
    if elf.header["e_shoff"] + elf.num_sections() * elf.header["e_shentsize"] > end:
        raise BadInput("the section header table ends past the end of the file", path,
                       "the file is truncated or damaged; rebuild the unikernel")
    for index in range(elf.num_sections()):
        header = elf._get_section_header(index)
        if header["sh_type"] == "SHT_NOBITS":
            continue
        if header["sh_offset"] + header["sh_size"] > end:
            raise BadInput(f"section {index} ends at {header['sh_offset'] + header['sh_size']:#x}"
                           f", past the end of the file ({end:#x} bytes)", path,
                           "the file is truncated or damaged; rebuild the unikernel")
        align = header["sh_addralign"]
        if header["sh_flags"] & SH_FLAGS.SHF_ALLOC and (align & (align - 1) or align > MAX_ALIGN):
            raise BadInput(f"section {index} has alignment {align:#x}, not a power of two up to "
                           f"{MAX_ALIGN:#x}", path, "the file is damaged; rebuild the unikernel")
        wanted = {"SHT_RELA": 24, "SHT_REL": 16, "SHT_SYMTAB": 24}.get(header["sh_type"])
        if wanted and header["sh_entsize"] != wanted:
            raise BadInput(f"section {index} has entries of {header['sh_entsize']} bytes, "
                           f"not {wanted}", path, "the file is damaged; rebuild the unikernel")


@contextmanager
def _reading(path: Path) -> Iterator[None]:
    """pyelftools signals truncated or corrupt files with assorted exceptions: make
    them one :class:`BadInput` that names the file."""
    try:
        yield
    except BadInput as exc:
        if exc.path is not None:
            raise
        raise BadInput(exc.what, path, exc.hint or "rebuild the unikernel") from None
    except (ELFError, ConstructError, ValueError, KeyError, IndexError, AssertionError,
            OSError) as exc:
        raise BadInput(f"corrupt or truncated ELF object ({type(exc).__name__}: {exc})", path,
                       "rebuild the unikernel") from None


def _symbol_name(symtab, index: int, elf: ELFFile) -> str:
    sym = symtab.get_symbol(index)
    if sym["st_info"]["type"] == "STT_SECTION":
        if not isinstance(sym["st_shndx"], int):  # SHN_ABS, SHN_COMMON, ...
            raise BadInput(f"section symbol {index} names no section ({sym['st_shndx']})")
        return elf.get_section(sym["st_shndx"]).name
    return sym.name


def _relocations(elf: ELFFile, alloc_index: dict[int, str]):
    for sec in elf.iter_sections():
        if not isinstance(sec, RelocationSection):
            continue
        target = alloc_index.get(sec["sh_info"])
        if target is None:
            continue  # relocations of debug or note sections do not reach memory
        symtab = elf.get_section(sec["sh_link"])
        if symtab["sh_type"] != "SHT_SYMTAB":
            raise BadInput(f"relocation section {sec.name} links to section {sec['sh_link']}, "
                           "not to a symbol table")
        names: dict[int, str] = {}  # each symbol is parsed once, not once per relocation
        for rel in sec.iter_relocations():
            index = rel["r_info_sym"]
            if index not in names:
                names[index] = _symbol_name(symtab, index, elf)
            yield Reloc(target, rel["r_offset"], rel["r_info_type"], names[index],
                        rel["r_addend"] if rel.is_RELA() else 0)


def read_relocations(path: Path) -> list[Reloc]:
    """Relocations against allocated sections; verify uses them to explain differing pages."""
    with Path(path).open("rb") as f, _reading(Path(path)):
        elf = _open_elf(Path(path), f)
        alloc = {i: s.name for i, s in enumerate(elf.iter_sections())
                 if s["sh_flags"] & SH_FLAGS.SHF_ALLOC}
        return list(_relocations(elf, alloc))


def read_object(path: Path) -> ObjectFile:
    """Read ``path``; one clear :class:`BadInput` when it is not an x86_64 ELF object."""
    path = Path(path)
    if not path.is_file():
        raise BadInput("object file missing", path, "rebuild the unikernel")
    with path.open("rb") as f:
        head = f.read(4)
        if head != b"\x7fELF":
            raise BadInput("not an ELF file", path, "rebuild the unikernel")
        f.seek(0)
        with _reading(path):
            return _read(path, f)


def _read(path: Path, f) -> ObjectFile:
    elf = _open_elf(path, f)
    digest = hashlib.sha256()
    sections: list[Section] = []
    alloc_index: dict[int, str] = {}
    for index, sec in enumerate(elf.iter_sections()):
        flags = sec["sh_flags"]
        if not flags & SH_FLAGS.SHF_ALLOC:
            continue
        nobits = sec["sh_type"] == "SHT_NOBITS"
        s = Section(
            name=sec.name,
            size=sec["sh_size"],
            align=max(1, sec["sh_addralign"]),
            writable=bool(flags & SH_FLAGS.SHF_WRITE),
            executable=bool(flags & SH_FLAGS.SHF_EXECINSTR),
            tls=bool(flags & SH_FLAGS.SHF_TLS),
            nobits=nobits,
            merge=bool(flags & SH_FLAGS.SHF_MERGE),
        )
        sections.append(s)
        alloc_index[index] = sec.name
        digest.update(f"S{s.name}:{s.size}:{s.align}:{flags}:{nobits}\n".encode())
        if not nobits:
            digest.update(sec.data())

    refs: dict[str, set[str]] = {}
    absolute: dict[str, int] = {}
    for r in _relocations(elf, alloc_index):
        refs.setdefault(r.section, set()).add(r.symbol)
        if r.type in ABSOLUTE_TYPES:
            absolute[r.section] = absolute.get(r.section, 0) + 1
        digest.update(f"R{r.section}:{r.offset}:{r.type}:{r.symbol}:{r.addend}\n".encode())

    defined: list[str] = []
    undefined: list[str] = []
    common: list[tuple[str, int, int]] = []
    local_symbols: dict[str, str] = {}
    symtab = elf.get_section_by_name(".symtab")
    if symtab is not None and symtab["sh_type"] != "SHT_SYMTAB":
        raise BadInput(f"section .symtab is of type {symtab['sh_type']}, not a symbol table")
    for sym in symtab.iter_symbols() if symtab is not None else ():
        bind = sym["st_info"]["bind"]
        if sym.name and bind == "STB_LOCAL" and isinstance(sym["st_shndx"], int) \
                and sym["st_shndx"] in alloc_index:
            local_symbols[sym.name] = alloc_index[sym["st_shndx"]]
        if not sym.name or bind == "STB_LOCAL":
            continue
        shndx = sym["st_shndx"]
        if shndx == "SHN_UNDEF":
            undefined.append(sym.name)
        elif shndx == "SHN_COMMON":
            common.append((sym.name, sym["st_size"], max(1, sym["st_value"])))
            defined.append(sym.name)
        else:
            defined.append(sym.name)
    for name, size, align in sorted(common):
        digest.update(f"C{name}:{size}:{align}\n".encode())

    return ObjectFile(
        path=str(path),
        name=object_name(path),
        sections=tuple(sections),
        common=tuple(sorted(common)),
        defined=tuple(sorted(set(defined))),
        undefined=tuple(sorted(set(undefined))),
        refs={sec: tuple(sorted(syms)) for sec, syms in refs.items()},
        absolute=absolute,
        local_symbols=local_symbols,
        digest=digest.hexdigest()[:24],
    )


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
    bound (:mod:`spacer.core.sharing`) compares libraries chunk by chunk."""
    with Path(path).open("rb") as f, _reading(Path(path)):
        elf = _open_elf(Path(path), f)
        by_name = {s.name: (i, s) for i, s in enumerate(elf.iter_sections())
                   if s["sh_flags"] & SH_FLAGS.SHF_ALLOC}
        relocs: dict[str, list[Reloc]] = {}
        for r in _relocations(elf, {i: n for n, (i, _) in by_name.items()}):
            relocs.setdefault(r.section, []).append(r)
        out: dict[str, list[list]] = {}
        for group, names in groups.items():
            blob = bytearray()
            marks: list[tuple[int, str]] = []
            for sec in elf.iter_sections():
                if sec.name not in names or sec.name not in by_name:
                    continue
                blob.extend(bytes(-len(blob) % max(1, sec["sh_addralign"])))
                start = len(blob)
                if sec["sh_type"] == "SHT_NOBITS":
                    continue
                data = sec.data()
                if sec["sh_flags"] & SH_FLAGS.SHF_MERGE:
                    data = _merged(data, sec["sh_entsize"], bool(sec["sh_flags"] & 0x20))
                else:
                    marks += [(start + r.offset, f"{r.type}:{r.symbol}:{r.addend}")
                              for r in relocs.get(sec.name, ())]
                blob.extend(data)
            chunks = []
            for lo in range(0, len(blob), size):
                digest = hashlib.blake2b(blob[lo:lo + size], digest_size=12)
                for at, what in marks:
                    if lo <= at < lo + size:
                        digest.update(f"{at - lo}:{what};".encode())
                chunks.append([digest.hexdigest(), min(size, len(blob) - lo)])
            out[group] = chunks
    return out
