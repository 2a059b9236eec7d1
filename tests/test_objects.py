"""Reading relocatable objects (spacer.core.readers.elf, spacer.core.readers.objects): the struct
reader agrees with pyelftools, each content is parsed once per process, and debug
sections are never read."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection

from spacer.core.readers import objects
from spacer.core.readers.elf import ElfFile

SOURCE = r"""
#include <stddef.h>
extern int printf(const char *, ...);
extern size_t strlen(const char *);
int counter;                                  /* COMMON with -fcommon */
static int hidden = 3;
__thread int per_thread = 7;
const char *names[] = {"alpha", "beta", "gamma"};
static int helper(int x) { return x * hidden + per_thread; }
int __attribute__((weak)) hook(void) { return 0; }
int entry(int i) {
    counter += helper(i) + hook();
    hidden += counter;
    printf("%s %zu\n", names[i % 3], strlen(names[i % 3]));
    switch (i) { case 0: return 1; case 1: return 4; case 2: return 9; case 3: return 16;
                 case 4: return 25; default: return -1; }
}
"""


def compile_object(workdir: Path, extra: tuple[str, ...] = ()) -> Path:
    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "lib.c").write_text(SOURCE)
    subprocess.run(["gcc", "-O2", "-g", "-fcommon", "-fno-pie", "-c", "lib.c", "-o", "libx.o",
                    *extra], cwd=workdir, check=True)
    return workdir / "libx.o"


def test_reader_agrees_with_pyelftools(tmp_path: Path):
    path = compile_object(tmp_path)
    with path.open("rb") as f, ElfFile.open(f) as elf:
        ref = ELFFile(f)
        assert len(elf.sections) == ref.num_sections()
        for ours, theirs in zip(elf.sections, ref.iter_sections(), strict=True):
            assert (ours.name, ours.flags, ours.size, ours.offset, ours.link, ours.info,
                    ours.addralign, ours.entsize) == (
                theirs.name, theirs["sh_flags"], theirs["sh_size"], theirs["sh_offset"],
                theirs["sh_link"], theirs["sh_info"], theirs["sh_addralign"],
                theirs["sh_entsize"])
            if isinstance(theirs, RelocationSection):
                assert list(elf.relocations(ours)) == [
                    (r["r_offset"], r["r_info_sym"], r["r_info_type"], r["r_addend"])
                    for r in theirs.iter_relocations()]
        symtab = elf.section_by_name(".symtab")
        theirs = ref.get_section_by_name(".symtab")
        assert [(s.name, s.value, s.size) for s in elf.symbols(symtab)] == [
            (s.name, s["st_value"], s["st_size"]) for s in theirs.iter_symbols()]
    obj = objects.read_object(path)
    assert ("counter", 4, 4) in obj.common and "entry" in obj.defined
    assert "printf" in obj.undefined and obj.local_symbols.get("hidden") == ".data"
    assert any(r.symbol == "printf" for r in objects.read_relocations(path))


def test_one_parse_per_content(tmp_path: Path, monkeypatch):
    """The same library built in two folders: other debug sections (they name the
    folder), the same facts, parsed once."""
    one = compile_object(tmp_path / "app1" / "build")
    two = compile_object(tmp_path / "app2" / "build")
    assert one.read_bytes() != two.read_bytes()
    parsed = []
    real = objects._read
    monkeypatch.setattr(objects, "_read", lambda elf: parsed.append(1) or real(elf))
    monkeypatch.setattr(objects, "_FACTS", objects._Cache(8))
    a, b = objects.read_object(one), objects.read_object(two)
    assert a.digest == b.digest and a.path != b.path and a.sections == b.sections
    assert objects.read_relocations(one) == objects.read_relocations(two)
    assert len(parsed) == 1


def test_debug_sections_are_not_read(tmp_path: Path):
    path = compile_object(tmp_path)
    before = objects.read_object(path)
    chunks = objects.content_chunks(path, {"text": [".text"]})
    with path.open("rb") as f, ElfFile.open(f) as elf:
        debug = [s for s in elf.sections if s.name.startswith(".debug_")]
    data = bytearray(path.read_bytes())
    for sec in debug:  # garbage in every debug section: nothing spacer reads changes
        data[sec.offset:sec.offset + sec.size] = b"\xff" * sec.size
    path.write_bytes(bytes(data))
    objects._FACTS.entries.clear()
    objects._CHUNKS.entries.clear()
    assert objects.read_object(path) == before
    assert objects.content_chunks(path, {"text": [".text"]}) == chunks
