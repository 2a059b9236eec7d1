"""An app with thread-local variables of its own (tlsdemo) next to apps without: in the
original images its TLS moves the shared libraries' thread-pointer offsets; aligned,
every shared library's TLS sits at one offset from the thread pointer in every image,
so the code that reads it (``mov %fs:-0x100, %eax`` for nolibc's errno) is the same."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import APPS
from elftools.elf.elffile import ELFFile

from spacer.core.readers.placement import align_up
from spacer.run.loader import run_tasks
from spacer.run.settings import Settings

SHARED_TLS = ("errno", "ukplat_tls_canary")  # libnolibc's and libkvmplat's


def tp_offsets(image: Path) -> dict[str, int]:
    """Thread-pointer offset of every TLS symbol of a linked x86-64 image: its value
    in the TLS segment minus the segment's aligned size (variant II, the block ends at
    the thread pointer)."""
    with image.open("rb") as f:
        elf = ELFFile(f)
        tls = next(s for s in elf.iter_segments() if s["p_type"] == "PT_TLS")
        end = align_up(tls["p_memsz"], max(1, tls["p_align"]))
        symtab = elf.get_section_by_name(".symtab")
        return {s.name: s["st_value"] - end for s in symtab.iter_symbols()
                if s["st_info"]["type"] == "STT_TLS"}


@pytest.fixture(scope="module")
def tls_fleet(demo_copy, tmp_path_factory: pytest.TempPathFactory) -> dict:
    ws = demo_copy(tmp_path_factory.mktemp("tls-ws"), ("hello", "tlsdemo", "hashsum"))
    out = ws / "out"
    code, _, failures = run_tasks(Settings(workspace=ws, out=out, demo=False), ["align"])
    assert code == 0, failures
    return {"ws": ws, "out": out,
            "manifest": json.loads((out / "manifest.json").read_text())["apps"]}


def test_app_tls_moves_shared_offsets_in_the_originals(tls_fleet):
    m = tls_fleet["manifest"]
    hello = tp_offsets(Path(m["hello"]["original"]["debug"]))
    demo = tp_offsets(Path(m["tlsdemo"]["original"]["debug"]))
    assert {"tls_hits", "tls_sum", "tls_log"} <= set(demo)
    assert all(hello[s] != demo[s] for s in SHARED_TLS), (hello, demo)  # the case exists


def test_shared_tls_has_one_offset_when_aligned(tls_fleet):
    m = tls_fleet["manifest"]
    offsets = {app: tp_offsets(Path(entry["aligned"]["debug"])) for app, entry in m.items()}
    for sym in SHARED_TLS:
        assert len({offsets[app][sym] for app in offsets}) == 1, (sym, offsets)
    assert offsets["hello"]["errno"] < 0 and offsets["tlsdemo"]["tls_hits"] < 0
    # The app's own TLS stays its own: it does not land on a shared library's.
    own = {offsets["tlsdemo"][s] for s in ("tls_hits", "tls_sum", "tls_log")}
    assert not own & {offsets["tlsdemo"][s] for s in SHARED_TLS}


def test_nolibc_text_pages_are_identical(tls_fleet):
    def nolibc_text(app: str) -> list[str]:
        verify = json.loads((tls_fleet["out"] / "apps" / app / "verify.json").read_text())
        (key,) = [k for k in verify["libraries"] if k.startswith("libnolibc/text/")]
        return [p["digest"] for p in verify["libraries"][key]["pages"]]

    hello, demo = nolibc_text("hello"), nolibc_text("tlsdemo")
    assert hello and hello == demo


@pytest.mark.slow
@pytest.mark.boot
@pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="QEMU not installed")
def test_aligned_tlsdemo_boots_like_the_original(tls_fleet, monkeypatch):
    from spacer.measure import qemu

    monkeypatch.setattr(qemu, "kvm_usable", lambda: False)
    entry = tls_fleet["manifest"]["tlsdemo"]
    original = qemu.boot(Path(entry["original"]["image"]), timeout=30)
    aligned = qemu.boot(Path(entry["aligned"]["image"]), timeout=30)
    assert aligned.output == original.output
    assert aligned.output.replace("\r\n", "\n").strip() == APPS["tlsdemo"].expected_output
    assert aligned.exit_code == original.exit_code == APPS["tlsdemo"].exit_code
