"""Table tests for the linker-script parser and the link-map parser, on inputs shaped
like Unikraft 0.17's (link64.lds, extra -T scripts with INSERT AFTER, ld -Map output)."""

from __future__ import annotations

from pathlib import Path

import pytest

from spacer.core.errors import BadInput
from spacer.core.readers.ldparse import parse_script
from spacer.core.readers.mapfile import by_file, read_map
from spacer.core.readers.placement import find_anchors

LINK64 = """/* SPDX */
OUTPUT_FORMAT("elf64-x86-64")
PHDRS
{
	text PT_LOAD FILEHDR PHDRS;
	rodata PT_LOAD;
	data PT_LOAD;
	tls PT_TLS;
	tls_load PT_LOAD;
}
SECTIONS
{
	. = 0x100000;
	_text = .;
	.text :
	{
		KEEP (*(.data.boot))
		*(.text.boot)
		*(.text)
		*(.text.*)
	} :text
	_etext = .;
	. = ALIGN(__PAGE_SIZE);
	_rodata = .;
	.rodata :
	{
		*(.rodata)
		*(.rodata.*)
	} :rodata
	.eh_frame : { __eh_frame_start = .; KEEP(*(.eh_frame)) __eh_frame_end = .; }
	.uk_inittab : { PROVIDE(uk_inittab_start = .); KEEP(*(SORT_BY_NAME(.uk_inittab*))) }
	_erodata = .;
	.tdata : ALIGN(64) { _tls_start = .; *(.tdata) *(.tdata.*) _etdata = .; } :tls :tls_load
	.tbss : { *(.tbss) *(.tbss.*) . = ALIGN(0x8); _tls_end = . + 8; } :tls
	. = ALIGN(__PAGE_SIZE);
	_data = .;
	.data : { *(.data) *(.data.*) } :data
	_edata = .;
	__bss_start = .;
	.bss : { *(.bss) *(.bss.*) *(COMMON) . = ALIGN(__PAGE_SIZE); }
	_end = .;
	/DISCARD/ : { *(.note.gnu.build-id) }
}
"""

EXTRA = """SECTIONS
{
	.uk_fs_list : {
		PROVIDE(uk_fslist_start = .);
		KEEP (*(.uk_fs_list));
		PROVIDE(uk_fslist_end = .);
	}
}
INSERT AFTER .rodata;
"""


@pytest.mark.parametrize(("section", "path", "output"), [
    (".data.boot", "/b/libkvmplat.o", ".text"),
    (".text", "/b/libnolibc.o", ".text"),
    (".text.unlikely", "/b/libnolibc.o", ".text"),
    (".rodata.str1.1", "/b/libukboot.o", ".rodata"),
    (".eh_frame", "/b/appx.o", ".eh_frame"),
    (".uk_inittab3", "/b/libukboot.o", ".uk_inittab"),
    (".tdata", "/b/libnolibc.o", ".tdata"),
    (".tbss.errno", "/b/libnolibc.o", ".tbss"),
    (".data.rel.ro", "/b/libnolibc.o", ".data"),
    (".bss", "/b/libnolibc.o", ".bss"),
    ("COMMON", "/b/libnolibc.o", ".bss"),
    (".comment", "/b/libnolibc.o", None),
])
def test_link64_sends_each_input_section_to_its_output(section: str, path: str,
                                                       output: str | None):
    script = parse_script(LINK64, "link64.lds")
    found = [out.name for out in script.outputs
             if any(i.spec is not None and i.spec.matches(path, section) for i in out.items)]
    assert (found[0] if found else None) == output


def test_link64_anchors_phdrs_and_offsets():
    script = parse_script(LINK64, "link64.lds")
    assert script.phdrs == ["text", "rodata", "data", "tls", "tls_load"]
    anchors = find_anchors(script)
    assert {k: a.output for k, a in anchors.items()} == {
        "text": ".text", "rodata": ".rodata", "eh_frame": ".eh_frame", "tdata": ".tdata",
        "tbss": ".tbss", "data": ".data", "bss": ".bss"}
    # The boot code comes before the first statement that may take library code.
    text = script.output(".text")
    assert text.items[anchors["text"].split].spec.sections == (".text",)
    assert script.output(".tdata").phdrs == ("tls", "tls_load")
    # ALIGN(64) after the colon aligns, it is no address; one before the colon is.
    assert not script.output(".tdata").has_address
    assert parse_script("SECTIONS { .x 0x2000 : { *(.x) } }").output(".x").has_address
    # Offsets point into the text: an edit there lands where the parser says.
    assert LINK64[text.body_start - 1] == "{" and LINK64[text.body_end] == "}"
    assert LINK64[script.output(".rodata").start:].startswith(".rodata :")


def test_extra_script_with_insert_after():
    script = parse_script(EXTRA, "extra.ld")
    assert script.insert == ("AFTER", ".rodata")
    (out,) = script.outputs
    assert out.name == ".uk_fs_list" and [i.spec.keep for i in out.items if i.spec] == [True]


@pytest.mark.parametrize("text", [
    "SECTIONS { .text : { *(.text) }",  # unclosed
    "SECTIONS { .text : { *(.text) } /* no end",
    'SECTIONS { .text : { "unterminated } }',
])
def test_bad_scripts_are_one_line_errors(text: str):
    with pytest.raises(BadInput) as err:
        parse_script(text, "bad.lds")
    assert "bad.lds" in str(err.value) and "\n" not in str(err.value)


MAP = """Archive member included to satisfy reference by file (symbol)

Memory Configuration

Name             Origin             Length             Attributes
*default*        0x0000000000000000 0xffffffffffffffff

Linker script and memory map

                0x0000000000100000                . = 0x100000
                0x0000000000100000                _text = .

.text           0x0000000000100000     0x9a10
 *(.data.boot)
 .data.boot     0x0000000000100000       0x30 /b/libkvmplat.o
 *(.text.boot)
 .text.boot     0x0000000000100030      0x1d0 /b/libkvmplat.o
                0x0000000000100030                _multiboot_entry
                0x0000000000101000                . = 0x1000
 /b/spacer/libnolibc.o(.text)
 .text          0x0000000000101000     0x6040 /b/spacer/libnolibc.o
                0x0000000000101000                memcpy
 .text.unlikely
                0x0000000000107040       0x1c /b/spacer/libnolibc.o
 *(.text)
 .text          0x0000000000107060        0x0 /b/appx.o
 *fill*         0x0000000000107060       0x20
 .rodata.spacer.libnolibc
                0x0000000000108000      0x5f2
 .rodata.str1.1
                0x0000000000108000      0x5f2 /b/spacer/libnolibc.o
                                        0x5f5 (size before relaxing)
 .tbss          0x0000000000110000        0x4 /b/spacer/libnolibc.o
                0x0000000000110000                errno
LOAD /b/appx.o
OUTPUT(/b/x.dbg elf64-x86-64)
"""


def test_map_file_places_input_sections_by_file(tmp_path: Path):
    path = tmp_path / "x.map"
    path.write_text(MAP)
    placed = by_file(read_map(path))
    nolibc = placed["/b/spacer/libnolibc.o"]
    assert (nolibc[".text"].address, nolibc[".text"].size) == (0x101000, 0x6040)
    # A section name too long for its column puts address and size on the next line.
    assert (nolibc[".text.unlikely"].address, nolibc[".text.unlikely"].size) == (0x107040, 0x1c)
    assert nolibc[".rodata.str1.1"].address == 0x108000
    assert nolibc[".tbss"].size == 4
    assert placed["/b/libkvmplat.o"][".data.boot"].address == 0x100000
    # Empty sections, fill and output section headers are not input placements.
    assert ".text" not in placed.get("/b/appx.o", {})
    assert not any("fill" in name for sections in placed.values() for name in sections)
    assert "/b/spacer/libnolibc.o(.text)" not in placed
