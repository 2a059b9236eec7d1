"""Configured strings go last in spacer's copy of an object, and the object still
prints every string it printed (spacer.core.rewrite.strings)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from elftools.elf.elffile import ELFFile

from spacer.core.rewrite.strings import SECTION, configured_last, configured_values

LIB_C = r"""
/* Pointers to strings (absolute relocations through the section symbol) and
 * strings loaded with lea (PC-relative, through .LC labels), some holding the
 * configured name. */
static const char *const table[] = { "first", "app=" NAME, "third" };
const char *pick(int i) { return table[i]; }
const char *named(void) { return "name=" NAME "!"; }
const char *last(void) { return "zeta"; }
"""

MAIN_C = r"""
extern const char *pick(int), *named(void), *last(void);
static unsigned long len(const char *s) { unsigned long n = 0; while (s[n]) n++; return n; }
static void put(const char *s)
{
    long rc;
    __asm__ volatile("syscall" : "=a"(rc) : "a"(1), "D"(1), "S"(s), "d"(len(s))
                     : "rcx", "r11", "memory");
    __asm__ volatile("syscall" : "=a"(rc) : "a"(1), "D"(1), "S"("\n"), "d"(1)
                     : "rcx", "r11", "memory");
}
void _start(void)
{
    put(pick(0)); put(pick(1)); put(pick(2)); put(named()); put(last());
    __asm__ volatile("syscall" :: "a"(60), "D"(0));
}
"""


def _strings(obj: Path) -> list[bytes]:
    with obj.open("rb") as f:
        return ELFFile(f).get_section_by_name(SECTION).data().split(b"\0")[:-1]


def _run(tmp: Path, lib: Path, name: str) -> str:
    exe = tmp / name
    subprocess.run(["gcc", "-nostdlib", "-static", "-no-pie", str(tmp / "main.o"), str(lib),
                    "-o", str(exe)], check=True)
    return subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout


def test_configured_strings_go_last_and_every_reference_follows(tmp_path: Path):
    (tmp_path / "lib.c").write_text(LIB_C)
    (tmp_path / "main.c").write_text(MAIN_C)
    subprocess.run(["gcc", "-O2", "-fPIC", "-fno-plt", '-DNAME="demoapp"', "-c",
                    str(tmp_path / "lib.c"), "-o", str(tmp_path / "lib.o")], check=True)
    subprocess.run(["gcc", "-O2", "-fno-builtin", "-fno-pic", "-c", str(tmp_path / "main.c"), "-o",
                    str(tmp_path / "main.o")], check=True)
    build = tmp_path / "build"
    build.mkdir()
    (build / "config").write_text('CONFIG_UK_NAME="demoapp"\nCONFIG_X=y\nCONFIG_Y=""\n')
    values = configured_values(build)
    assert values == {b"demoapp"}

    copy = tmp_path / "copy.o"
    shutil.copy(tmp_path / "lib.o", copy)
    before = _strings(copy)
    assert configured_last(copy, values)
    after = _strings(copy)
    assert sorted(after) == sorted(before), "every string keeps its bytes"
    held = [b"demoapp" in s for s in after]
    assert held == sorted(held), "the configured strings come last"
    assert before != after, "something moved"
    assert _run(tmp_path, copy, "after") == _run(tmp_path, tmp_path / "lib.o", "before") \
        == "first\napp=demoapp\nthird\nname=demoapp!\nzeta\n"
    # Nothing to move the second time: the object stays as it is.
    data = copy.read_bytes()
    assert not configured_last(copy, values)
    assert copy.read_bytes() == data


def test_no_configuration_leaves_the_object_alone(tmp_path: Path):
    (tmp_path / "lib.c").write_text(LIB_C)
    subprocess.run(["gcc", "-O2", "-fPIC", '-DNAME="demoapp"', "-c", str(tmp_path / "lib.c"),
                    "-o", str(tmp_path / "lib.o")], check=True)
    data = (tmp_path / "lib.o").read_bytes()
    assert configured_values(tmp_path / "build") == set()
    assert not configured_last(tmp_path / "lib.o", set())
    assert (tmp_path / "lib.o").read_bytes() == data
