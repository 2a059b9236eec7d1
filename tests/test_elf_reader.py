"""spacer's one ELF reader (:mod:`spacer.core.readers.elf`) against pyelftools, the
reference, on the demo fleet: the section headers, symbols and relocations of a
build's objects (with the place of each entry, which the rewriting modules patch),
and the section and program headers of its images (ELF64 debug images, ELF32
multiboot images)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from elftools.elf import enums
from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection
from elftools.elf.sections import SymbolTableSection

from spacer.core.errors import BadInput
from spacer.core.readers.elf import SHT_NOBITS, SHT_SYMTAB, ElfFile, reading
from spacer.core.stages.extract import check_machine, image_sections

BUILD = "apps/hashsum/build"
OBJECTS = ("libkvmplat.o", "libnolibc.o", "libukboot.o", "libukhash.o", "apphashsum.o",
           "libukhash/fnv.o")


def _raw(value, *tables: dict) -> int:
    """pyelftools gives known values by name: the number the file holds."""
    if isinstance(value, int):
        return value
    for table in tables:
        if value in table:
            return table[value]
    raise AssertionError(f"{value} in none of the tables")


def _pair(path: Path):
    data = path.read_bytes()
    return ElfFile(data), ELFFile(io.BytesIO(data)), data


def _section_headers(ours: ElfFile, ref: ELFFile) -> None:
    assert len(ours.sections) == ref.num_sections() > 0
    for mine, theirs in zip(ours.sections, ref.iter_sections(), strict=True):
        assert (mine.name, mine.type, mine.flags, mine.addr, mine.offset, mine.size, mine.link,
                mine.info, mine.addralign, mine.entsize) == (
            theirs.name, _raw(theirs["sh_type"], enums.ENUM_SH_TYPE_AMD64),
            theirs["sh_flags"], theirs["sh_addr"], theirs["sh_offset"], theirs["sh_size"],
            theirs["sh_link"], theirs["sh_info"], theirs["sh_addralign"],
            theirs["sh_entsize"]), mine.name


@pytest.mark.parametrize("name", OBJECTS)
def test_object_sections_symbols_and_relocations(demo_workspace: Path, name: str):
    ours, ref, data = _pair(demo_workspace / BUILD / name)
    _section_headers(ours, ref)
    seen = {"symbols": 0, "relocations": 0}
    for mine, theirs in zip(ours.sections, ref.iter_sections(), strict=True):
        if mine.type != SHT_NOBITS:  # pyelftools gives zeros where the file holds nothing
            assert ours.data(mine) == theirs.data()
        if isinstance(theirs, SymbolTableSection) and mine.type == SHT_SYMTAB:
            symbols = ours.symbols(mine)
            assert len(symbols) == theirs.num_symbols()
            for n, (sym, ref_sym) in enumerate(zip(symbols, theirs.iter_symbols(), strict=True)):
                assert (sym.name, sym.value, sym.size, sym.bind, sym.type, sym.shndx) == (
                    ref_sym.name, ref_sym["st_value"], ref_sym["st_size"],
                    _raw(ref_sym["st_info"]["bind"], enums.ENUM_ST_INFO_BIND),
                    _raw(ref_sym["st_info"]["type"], enums.ENUM_ST_INFO_TYPE),
                    _raw(ref_sym["st_shndx"], enums.ENUM_ST_SHNDX))
                # The entry the rewriting modules patch is this symbol's.
                at = ours.entry_offset(mine, n)
                assert ref.structs.Elf_Sym.parse(data[at:at + 24]) == ref_sym.entry
            seen["symbols"] += len(symbols)
        if isinstance(theirs, RelocationSection):
            relocations = ours.relocation_entries(mine)
            expected = list(theirs.iter_relocations())
            assert len(relocations) == len(expected)
            assert list(ours.relocations(mine)) == [
                (r["r_offset"], r["r_info_sym"], r["r_info_type"], r.entry.get("r_addend", 0))
                for r in expected]
            for rel, ref_rel in zip(relocations, expected, strict=True):
                assert (rel.r_offset, rel.r_info, rel.r_sym, rel.r_type, rel.r_addend) == (
                    ref_rel["r_offset"], ref_rel["r_info"], ref_rel["r_info_sym"],
                    ref_rel["r_info_type"], ref_rel.entry.get("r_addend", 0))
                entry = theirs.entry_struct
                assert entry.parse(data[rel.entry:rel.entry + entry.sizeof()]) == ref_rel.entry
            seen["relocations"] += len(relocations)
    assert seen["symbols"] > 0 and seen["relocations"] > 0, "the comparison compared something"


def _program_headers(path: Path) -> list:
    ours, ref, _ = _pair(path)
    headers = ours.program_headers()
    assert len(headers) == ref.num_segments() > 0
    for mine, theirs in zip(headers, ref.iter_segments(), strict=True):
        assert (mine.type, mine.flags, mine.offset, mine.vaddr, mine.paddr, mine.filesz,
                mine.memsz, mine.align) == (
            _raw(theirs["p_type"], enums.ENUM_P_TYPE_BASE), theirs["p_flags"],
            theirs["p_offset"], theirs["p_vaddr"], theirs["p_paddr"], theirs["p_filesz"],
            theirs["p_memsz"], theirs["p_align"])
        assert ours.segment_data(mine) == theirs.data()
    return headers


def test_image_headers(demo_workspace: Path):
    """Every app's debug image (ELF64) and bootable image (ELF32)."""
    images = sorted(demo_workspace.glob("apps/*/build/*_qemu-x86_64"))
    assert len(images) > 3
    for image in images:
        dbg = image.with_name(image.name + ".dbg")
        ours, ref, _ = _pair(dbg)
        assert ours.elfclass == ref.elfclass == 64
        _section_headers(ours, ref)
        _program_headers(dbg)
        assert image_sections(dbg) == {s.name: [s["sh_addr"], s["sh_size"]]
                                       for s in ref.iter_sections()
                                       if s["sh_flags"] & 2 and s.name}
        assert _pair(image)[0].elfclass == ELFFile(io.BytesIO(image.read_bytes())).elfclass == 32
        _program_headers(image)
        check_machine(image, (3, 62))


def test_damage_is_one_line_that_names_the_file(demo_workspace: Path, tmp_path: Path):
    image = demo_workspace / BUILD / "hashsum_qemu-x86_64"
    cut = tmp_path / image.name
    cut.write_bytes(image.read_bytes()[:60])  # the header, not the program headers
    with pytest.raises(BadInput) as info, reading(cut):
        ElfFile(cut.read_bytes()).program_headers()
    assert str(cut) in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(BadInput, match="wrong machine"):
        check_machine(image, (62,))
