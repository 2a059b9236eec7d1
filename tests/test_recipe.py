"""The .cmd recipe parser on inputs shaped like real Unikraft 0.17 records."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spacer.core.errors import BadInput
from spacer.core.readers.recipe import read_link_recipe, shell_words, split_commands

STRIP_FILTER = ("2>&1 | { grep -Ev 'Empty loadable segment detected|section.*lma.*adjusted "
                "to.*' || true; }")


@pytest.mark.parametrize("text, expected", [
    ('""gcc -Wl,-m,elf_x86_64 a.o -o build/x.dbg',
     [["gcc", "-Wl,-m,elf_x86_64", "a.o", "-o", "build/x.dbg"]]),
    (f"strip -s build/x.dbg -o build/x {STRIP_FILTER}",
     [["strip", "-s", "build/x.dbg", "-o", "build/x"]]),
    ("support/scripts/mkbootinfo.py build/x build/x.bootinfo -a x86_64 && "
     "objcopy build/x --update-section .uk_bootinfo=build/x.bootinfo",
     [["support/scripts/mkbootinfo.py", "build/x", "build/x.bootinfo", "-a", "x86_64"],
      ["objcopy", "build/x", "--update-section", ".uk_bootinfo=build/x.bootinfo"]]),
    (f"strip -s a -o b {STRIP_FILTER} && support/scripts/multiboot.py b",
     [["strip", "-s", "a", "-o", "b"], ["support/scripts/multiboot.py", "b"]]),
    ("gcc 'name with space.o' -o \"x.dbg\"", [["gcc", "name with space.o", "-o", "x.dbg"]]),
    ("a ; b", [["a"], ["b"]]),
])
def test_recorded_commands_split_into_argv_lists(text: str, expected: list[list[str]]):
    assert split_commands(text, "x.cmd") == expected


@pytest.mark.parametrize("text", ["gcc a.o > log", "gcc < in", "gcc a.o &", "gcc $(echo a)",
                                  "", "gcc 'unterminated"])
def test_shell_constructs_are_refused_with_one_line(text: str):
    with pytest.raises(BadInput) as info:
        split_commands(text, "x.cmd")
    assert "x.cmd" in str(info.value) and "\n" not in str(info.value)


def test_link_recipe_with_relative_paths_and_extra_scripts(tmp_path: Path):
    """Unikraft runs make in its source tree: paths are relative to it, and extra -T
    scripts (INSERT AFTER) come after the -dT platform script."""
    uk = tmp_path / "unikraft"
    build = tmp_path / "app" / "build"
    build.mkdir(parents=True)
    (uk / "lib" / "uksched").mkdir(parents=True)
    (uk / "lib" / "uksched" / "extra.ld").write_text(
        "SECTIONS { .uk_thread_inittab : { *(.uk_thread_inittab) } } INSERT AFTER .rodata;\n")
    rel = "../app/build"
    cmd = build / "hello_qemu-x86_64.dbg.cmd"
    cmd.write_text(
        f'""gcc -Wl,-m,elf_x86_64 -Wl,--entry=_multiboot_entry {rel}/libkvmplat.o '
        f"{rel}/apphello.o -nostdlib -Wl,--build-id=none -nostdinc -no-pie "
        f"-Wl,-dT,{rel}/libkvmplat/link64.lds -Wl,-T,{rel}/libkvmplat/bootinfo.lds "
        f"-Wl,-T,lib/uksched/extra.ld -o {rel}/hello_qemu-x86_64.dbg\n")
    (build / "hello_qemu-x86_64.cmd").write_text(
        f"strip -s {rel}/hello_qemu-x86_64.dbg -o {rel}/hello_qemu-x86_64 {STRIP_FILTER}\n")
    (build / "hello_qemu-x86_64.bootinfo.cmd").write_text(
        f"support/scripts/mkbootinfo.py {rel}/hello_qemu-x86_64 "
        f"{rel}/hello_qemu-x86_64.bootinfo -a x86_64 && objcopy {rel}/hello_qemu-x86_64 "
        f"--update-section .uk_bootinfo={rel}/hello_qemu-x86_64.bootinfo\n")
    (build / "hello_qemu-x86_64.multiboot.cmd").write_text(
        f"support/scripts/multiboot.py {rel}/hello_qemu-x86_64\n")
    recipe = read_link_recipe(cmd, uk)
    norm = [str(Path(p).resolve()) for p in recipe.objects]
    assert norm == [str(build / "libkvmplat.o"), str(build / "apphello.o")]
    assert [k for k, _ in recipe.scripts] == ["dT", "T", "T"]
    assert Path(recipe.default_script).resolve() == build / "libkvmplat" / "link64.lds"
    assert Path(recipe.scripts[2][1]) == uk / "lib" / "uksched" / "extra.ld"
    assert Path(recipe.debug_image).resolve() == build / "hello_qemu-x86_64.dbg"
    assert recipe.argv[0] == "gcc"
    steps = [c.argv[0] for c in recipe.postlink]
    assert steps == ["strip", "support/scripts/mkbootinfo.py", "objcopy",
                     "support/scripts/multiboot.py"]


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="ab -=/'\"();<>|&{}\\#$\n\t\x0b\xe9", max_size=40))
def test_shell_words_split_as_shlex_does(text: str):
    """The fast splitter of .cmd records gives shlex's words, or fails where it fails."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        expected = list(lexer)
    except ValueError:
        with pytest.raises(ValueError):
            shell_words(text)
        return
    assert shell_words(text) == expected
