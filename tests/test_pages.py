"""Static page analysis on ELF images built here with known segment contents."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile
from tinyelf import BASE, PAGE, segments_image

from spacer.core.errors import BadInput
from spacer.core.sharing.pages import fleet_page_stats, image_pages

RO_PAGES = 3  # rodata pages, all different
BSS_PAGES = 2
TEXT = b"\x90" * 16 + b"\xc3"
DATA = b"\x01" * 100


def h(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def pad(data: bytes) -> bytes:
    return data + bytes(-len(data) % PAGE)


def rodata(seed: int, pages: int = RO_PAGES) -> bytes:
    return random.Random(seed).randbytes(pages * PAGE)


@pytest.mark.parametrize("bits", [64, 32])
def test_segments_are_cut_into_known_pages(tmp_path: Path, bits: int) -> None:
    ro = rodata(1)
    img = segments_image(tmp_path, f"img{bits}", bits=bits, text=TEXT, rodata=ro, data=DATA,
                         bss=BSS_PAGES * PAGE)
    pages = image_pages(img)
    readonly = [p for p in pages if not p.writable]
    writable = [p for p in pages if p.writable]

    assert len(readonly) == 1 + RO_PAGES  # text fits one page
    assert len(writable) == 1 + BSS_PAGES  # data page, then bss on pages of its own
    assert [p.vaddr for p in pages] == [BASE + i * PAGE for i in range(len(pages))]
    # The guest's view: file bytes, zeros after them.
    assert readonly[0].digest == h(pad(TEXT))
    for i, page in enumerate(readonly[1:]):
        assert page.digest == h(ro[i * PAGE:(i + 1) * PAGE])
    assert writable[0].digest == h(pad(DATA))
    assert [p.zero for p in pages] == [False] * (2 + RO_PAGES) + [True] * BSS_PAGES


def test_segment_sharing_a_page_with_the_previous_one(tmp_path: Path) -> None:
    ro = b"\xaa" * 100  # rodata ends early in its page: data starts in the same page
    img = segments_image(tmp_path, "mixed", text=TEXT, rodata=ro, data=DATA, bss=0,
                         align_data=False)
    with img.open("rb") as f:
        elf = ELFFile(f)
        ro_addr = elf.get_section_by_name(".rodata")["sh_addr"]
        data_addr = elf.get_section_by_name(".data")["sh_addr"]
    assert ro_addr // PAGE == data_addr // PAGE, "linker did not put both in one page"

    expected = bytearray(PAGE)
    expected[ro_addr % PAGE:ro_addr % PAGE + len(ro)] = ro
    expected[data_addr % PAGE:data_addr % PAGE + len(DATA)] = DATA
    pages = {p.vaddr: p for p in image_pages(img)}
    shared = pages[ro_addr - ro_addr % PAGE]
    assert shared.writable  # one writable segment touching it is enough
    assert shared.digest == h(bytes(expected))
    assert len(pages) == 2  # text page + the mixed page


def test_fleet_stats_count_what_two_images_have_in_common(tmp_path: Path) -> None:
    ro = rodata(7)
    a = segments_image(tmp_path, "a", text=TEXT, rodata=ro, data=DATA, bss=BSS_PAGES * PAGE)
    b = segments_image(tmp_path, "b", text=TEXT[::-1], rodata=ro, data=DATA,
                       bss=BSS_PAGES * PAGE)
    stats = fleet_page_stats([a, b])

    assert stats.images == 2
    ro_stats, rw_stats = stats.readonly, stats.writable
    assert ro_stats.total == 2 * (1 + RO_PAGES)
    assert ro_stats.distinct == 2 + RO_PAGES  # two texts, one copy of the rodata
    assert ro_stats.shared == 2 * RO_PAGES
    assert ro_stats.zero == 0
    assert ro_stats.frames_saved == RO_PAGES
    assert rw_stats.total == 2 * (1 + BSS_PAGES)
    assert rw_stats.distinct == 2  # the data page and the zero page
    assert rw_stats.zero == 2 * BSS_PAGES
    assert rw_stats.shared == rw_stats.total
    assert rw_stats.frames_saved == 1  # the second data page; zero pages are no saving
    json.dumps(asdict(stats))  # plain data


def test_identical_pages_inside_one_image_are_not_shared(tmp_path: Path) -> None:
    # "shared" means found in two images, not twice in one.
    same = bytes([5]) * (2 * PAGE)
    a = segments_image(tmp_path, "a", text=TEXT, rodata=same, data=DATA, bss=0)
    stats = fleet_page_stats([a])
    assert stats.readonly.total == 3
    assert stats.readonly.distinct == 2
    assert stats.readonly.shared == 0


def test_bad_images_get_one_line(tmp_path: Path) -> None:
    good = segments_image(tmp_path, "g", text=TEXT, rodata=rodata(3), data=DATA, bss=0)
    not_elf = tmp_path / "not.elf"
    not_elf.write_bytes(b"hello world\n" * 10)
    truncated = tmp_path / "cut.elf"
    truncated.write_bytes(good.read_bytes()[:PAGE + 100])
    for path in (not_elf, truncated, tmp_path / "missing"):
        with pytest.raises(BadInput) as err:
            image_pages(path)
        assert "\n" not in str(err.value)
        assert str(path) in str(err.value)


def test_code_gap_fill_is_padding_data_is_not(tmp_path: Path) -> None:
    nops = bytes.fromhex("662e0f1f840000000000") * (2 * PAGE // 10 + 1)
    text = TEXT + bytes(-len(TEXT) % PAGE) + nops[: 2 * PAGE]
    same = bytes([5]) * PAGE  # a repeated pattern in read-only data is content
    a = segments_image(tmp_path, "a", text=text, rodata=same, data=DATA, bss=0)
    b = segments_image(tmp_path, "b", text=text, rodata=same, data=DATA, bss=0)
    stats = fleet_page_stats([a, b])
    ro = stats.readonly
    assert ro.total == 2 * 4 and ro.padding == 2 * 2
    assert ro.frames_saved == 2  # the first text page and the rodata page, once each
