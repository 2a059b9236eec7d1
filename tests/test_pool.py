"""-c/--custom-loader: the pool region above every image's own pages, the pool file, the
loader images and patches, and booting from the pool with plain QEMU."""

from __future__ import annotations

import bisect
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from spacer import cli
from spacer.core.errors import BAD_INPUT
from spacer.core.formats.layout import read_layout
from spacer.core.formats.pool import read_pool
from spacer.core.formats.report import read_report
from spacer.core.outputs.poolfile import PAGE, pool_digest
from spacer.core.readers.elf import PT_LOAD, SHF_ALLOC, STT_TLS, ElfFile
from spacer.core.rewrite.loader import patch_elf
from spacer.core.sharing.pages import loaded_memory
from spacer.demo.apps import DEMO_APPS
from spacer.measure.qemu import boot, has_multiboot_header
from spacer.run.loader import run_tasks
from spacer.run.settings import Settings

APPS = {a.name: a for a in DEMO_APPS}
QEMU = pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None,
                          reason="QEMU not installed")


def _align(workspace: Path, out: Path, **plan) -> Path:
    settings = Settings(workspace=workspace, out=out, demo=False,
                        plan={"custom_loader": True, **plan})
    code, _, failures = run_tasks(settings, ["align"])
    assert code == 0, failures
    return out


@pytest.fixture(scope="module")
def pooled(demo_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _align(demo_workspace, tmp_path_factory.mktemp("pool0"))


@pytest.fixture(scope="module")
def pooled1(demo_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _align(demo_workspace, tmp_path_factory.mktemp("pool1"), aslr=1)


def _segments(path: Path):
    with path.open("rb") as f, ElfFile.open(f) as elf:
        return [h for h in elf.program_headers() if h.type == PT_LOAD]


def _file_pages(path: Path, lo: int, hi: int) -> dict[int, bytes]:
    with path.open("rb") as f:
        f.seek(lo)
        data = f.read(hi - lo)
    return {lo + i: data[i:i + PAGE] for i in range(0, len(data), PAGE)}


def _used_bytes(debug: Path) -> list[tuple[int, int]]:
    """The address ranges of an image's symbols (TLS ones in its TLS template), and of
    its allocated sections but the TLS block and the pool region's fillers: the bytes a
    guest must see as built."""
    with debug.open("rb") as f, ElfFile.open(f) as elf:
        tdata = elf.section_by_name(".tdata")
        symtab = elf.section_by_name(".symtab")
        symbols = [(s.value + (tdata.addr if s.type == STT_TLS else 0), s.size)
                   for s in elf.symbols(symtab) if s.size and 0 < s.shndx < 0xff00]
        sections = [(sec.addr, sec.size) for sec in elf.sections
                    if sec.flags & SHF_ALLOC and sec.size and sec.name not in (".tdata", ".tbss")
                    and not sec.name.startswith(".spacer.pool.")]
    merged: list[tuple[int, int]] = []
    for a, b in sorted((a, a + n) for a, n in symbols + sections):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _covers(used: list[tuple[int, int]], lo: int, hi: int) -> bool:
    i = bisect.bisect_right(used, (lo, 1 << 64)) - 1
    return any(a < hi and lo < b for a, b in used[max(i, 0):i + 2])


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["pooled", "pooled1"])
def test_pool_and_patch_give_every_image_its_own_bytes(request, mode: str):
    """What a guest booted from the pool sees (the pool's page, or its patch's) is its
    aligned image as loaded, and zeros on every page it does not load, but for bytes
    that no symbol and no section of the image covers: room for the slots of libraries
    it does not link, where the pool may hold another image's, unpatched. Its loader is
    a stub that loads one page of zeros above all of that, and keeps the multiboot
    header."""
    out = request.getfixturevalue(mode)
    pool = read_pool(out / "pool" / "pool.json")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["pool"] == {"path": pool.file, "size": pool.size, "digest": pool.digest}
    assert pool_digest(Path(pool.file)) == pool.digest
    in_pool = _file_pages(Path(pool.file), 0, pool.end)
    shared = 0
    tops = []
    others = set()  # apps that see, unpatched, a page another image holds there
    for app, entry in manifest["apps"].items():
        pages, _, _ = loaded_memory(Path(entry["aligned"]["image"]))
        used = _used_bytes(Path(entry["aligned"]["debug"]))
        patch = {}
        if entry["pool"]["patch"]:
            patch, _, _ = loaded_memory(Path(entry["pool"]["patch"]))
        for addr, data in in_pool.items():
            seen = bytes(patch[addr]) if addr in patch else data
            built = bytes(pages[addr]) if addr in pages else bytes(PAGE)
            if seen == built:
                continue
            assert addr in pages, (app, hex(addr))  # its heap starts as zeros
            others.add(app)
            for i in (i for i in range(PAGE) if seen[i] != built[i]):
                assert not _covers(used, addr + i, addr + i + 1), (app, hex(addr + i))
        shared += len(pages) - len(patch)
        tops.append(max(pages))
        stub = Path(entry["pool"]["image"])
        assert has_multiboot_header(stub.read_bytes()[:8192]), app
        (segment,) = _segments(stub)
        assert segment.filesz == 0 and segment.memsz == PAGE
        tops.append(segment.paddr)
        assert not bytes(pages.get(segment.paddr, bytes(PAGE))).strip(b"\0"), app
    assert shared > len(manifest["apps"]) * 3  # the pool serves every image
    assert others  # the demo's apps link different libraries
    assert max(tops) + PAGE <= pool.end  # QEMU's information goes after the stub's page
    with open(pool.file, "rb") as f:  # nothing past what the images load
        f.seek(max(tops) + PAGE)
        assert not f.read(1 << 20).strip(b"\0")


@pytest.mark.slow
def test_the_pool_costs_no_read_only_sharing(pooled: Path, demo_workspace: Path,
                                             tmp_path: Path):
    """-c moves the shared slots into the pool region, but code that calls the image's
    own symbols (libukboot calling main) and that every image links stays in the text
    area, before the image's own code, which fills its last page: the fleet keeps as
    few distinct read-only pages as without -c (at most 3% more)."""
    settings = Settings(workspace=demo_workspace, out=tmp_path / "plain", demo=False)
    code, _, failures = run_tasks(settings, ["align"])
    assert code == 0, failures
    plain = read_report(tmp_path / "plain" / "report.json").aligned.readonly.distinct
    with_pool = read_report(pooled / "report.json").aligned.readonly.distinct
    assert with_pool <= plain * 1.03, (with_pool, plain)
    plan = read_layout(pooled / "layout.json")
    left = {s.unit for piece in plan.slices.values() for s in piece.areas["text"].slots
            if not plan.pool.holds(s.address)}
    assert left == {next(u.id for u in plan.units if "libukboot" in u.members)}


@pytest.mark.slow
def test_the_pool_packs_writable_data(pooled: Path):
    """A page a guest writes becomes its own copy: in the pool region, data and bss
    slots of different libraries share pages (at their natural alignment), so a guest
    that writes a variable of each copies fewer pages. Read-only slots start on a page."""
    plan = read_layout(pooled / "layout.json")
    for kinds, packed in ((("data", "bss"), True), (("text", "rodata"), False)):
        starts = {(s.unit, kind): s.address for piece in plan.slices.values() for kind in kinds
                  if kind in piece.areas for s in piece.areas[kind].slots
                  if plan.pool.holds(s.address)}
        pages = {address // PAGE for address in starts.values()}
        assert (len(pages) < len(starts)) == packed, kinds
        assert packed or all(a % PAGE == 0 for a in starts.values())


@pytest.mark.slow
def test_a_variant_that_two_images_link_is_in_the_pool_unpatched(pooled: Path):
    """args and fsdemo link another libnolibc than the other demo apps: it gets a slot
    of its own in the pool region, so neither patches its code or read-only data."""
    plan = read_layout(pooled / "layout.json")
    pool = read_pool(pooled / "pool" / "pool.json")
    own = [u for u in plan.units if "@" in u.id]
    assert [(u.id.split("@")[0], u.apps) for u in own] == [("libnolibc", ["args", "fsdemo"])]
    for app in own[0].apps:
        patch, _, _ = loaded_memory(Path(pool.apps[app].patch))
        slots = [s for kind in ("text", "rodata") for s in plan.slices[app].areas[kind].slots
                 if s.unit == own[0].id]
        assert slots
        for slot in slots:
            inside = range(-(-slot.address // PAGE) * PAGE, slot.address + slot.size - PAGE + 1,
                           PAGE)
            assert inside and not set(inside) & set(patch), (app, slot.unit)


@pytest.mark.slow
@pytest.mark.boot
@QEMU
@pytest.mark.parametrize("mode", ["pooled", "pooled1"])
@pytest.mark.parametrize("name", sorted(APPS))
def test_demo_boots_from_the_pool_like_the_original(request, capsys, mode: str, name: str):
    out = request.getfixturevalue(mode)
    entry = json.loads((out / "manifest.json").read_text())["apps"][name]
    original = boot(Path(entry["original"]["image"]), timeout=30)
    code = cli.main(["boot", "--pool", name, "-o", str(out), "-v"])
    printed = capsys.readouterr()
    assert printed.out == original.output
    assert code == original.exit_code == APPS[name].exit_code
    argv = printed.err.splitlines()[0]  # -v: the QEMU line, for an operator's launcher
    assert f"mem-path={read_pool(out / 'pool' / 'pool.json').file}" in argv
    assert f"-kernel {entry['pool']['image']}" in argv


@pytest.mark.slow
@pytest.mark.boot
@QEMU
def test_a_guest_writes_never_reach_the_pool_file(pooled1: Path, capsys):
    """Every guest writes its RAM, which the pool file backs (and QEMU's generic loader
    writes the patches' pages over pool pages): the file stays as it was."""
    pool = read_pool(pooled1 / "pool" / "pool.json")
    path = Path(pool.file)
    before = hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns
    patched = [a for a, e in pool.apps.items() if e.patch]
    for name in sorted({*patched[:2], "kvstore", "tlsdemo"}):
        assert cli.main(["boot", "--pool", name, "-o", str(pooled1)]) == APPS[name].exit_code
    capsys.readouterr()
    assert (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns) == before
    assert path.stat().st_mode & 0o777 == 0o444


def _copy_out(out: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "out"
    shutil.copytree(out, copy, symlinks=True)
    facts = json.loads((copy / "pool" / "pool.json").read_text())
    pool = copy / "pool" / Path(facts["file"]).name
    facts["file"] = str(pool)
    facts["apps"] = {a: {**e, "image": e["image"].replace(str(out), str(copy)),
                         "patch": e["patch"] and e["patch"].replace(str(out), str(copy))}
                     for a, e in facts["apps"].items()}
    (copy / "pool" / "pool.json").write_text(json.dumps(facts))
    return copy


@pytest.mark.slow
def test_a_pool_that_does_not_match_is_refused_before_qemu_starts(pooled: Path, tmp_path,
                                                                   capsys, monkeypatch):
    def no_qemu(*_args, **_kwargs):
        raise AssertionError("QEMU started")

    monkeypatch.setattr("spacer.measure.qemu.boot", no_qemu)
    out = _copy_out(pooled, tmp_path)
    facts = json.loads((out / "pool" / "pool.json").read_text())
    pool = Path(facts["file"])
    pool.chmod(0o644)

    def refused(*argv: str) -> str:
        code = cli.main(["boot", "--pool", "counter", "-o", str(out), *argv])
        lines = capsys.readouterr().err.strip().splitlines()
        assert code == BAD_INPUT and len(lines) == 1, lines
        return lines[0]

    size = pool.stat().st_size
    assert "larger than the pool" in refused("-m", str(size // 2**20 * 2))
    assert "does not reach the end of the pool region" in refused("-m", "2")
    assert "no app nosuch" in cli_line(out, capsys, "nosuch")
    with pool.open("r+b") as f:  # one byte of a pool page changed
        f.seek(facts["base"] + 16)
        old = f.read(1)
        f.seek(facts["base"] + 16)
        f.write(bytes([old[0] ^ 0xFF]))
    assert "content is not what pool.json records" in refused()
    with pool.open("r+b") as f:
        f.truncate(size - PAGE)
    assert "bytes, pool.json says" in refused()


def cli_line(out: Path, capsys, app: str) -> str:
    code = cli.main(["boot", "--pool", app, "-o", str(out)])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == BAD_INPUT and len(lines) == 1, lines
    return lines[0]


def test_patch_elf_loads_each_run_of_pages_where_it_belongs(tmp_path: Path):
    pages = {0x400000: b"a" * PAGE, 0x401000: b"b" * PAGE, 0x409000: b"c" * PAGE}
    path = tmp_path / "patch.elf"
    path.write_bytes(patch_elf(pages))
    segments = _segments(path)
    assert [(h.paddr, h.memsz) for h in segments] == [(0x400000, 2 * PAGE), (0x409000, PAGE)]
    loaded, _, _ = loaded_memory(path)
    assert {a: bytes(p) for a, p in loaded.items()} == pages


@pytest.mark.slow
def test_adding_an_app_rewrites_no_other_app_nor_a_pool_that_holds_its_pages(
        small_fleet: dict, demo_copy, tmp_path: Path):
    ws, out = small_fleet["ws"], small_fleet["out"]
    _align(ws, out)
    pool_dir = out / "pool"
    before = {p: p.stat().st_mtime_ns for p in pool_dir.rglob("*") if p.is_file()
              and p.name != "pool.json"}
    first = read_pool(pool_dir / "pool.json")
    # A copy of an app: every page it loads is one the pool or the first app's patch
    # already holds, so the pool keeps its file and no other app's file is rewritten.
    shutil.copytree(ws / "apps" / "counter", ws / "apps" / "counter2", symlinks=True)
    for record in (ws / "apps" / "counter2").rglob("*.cmd"):
        record.write_text(record.read_text().replace("/apps/counter/", "/apps/counter2/"))
    for listing in (ws / "apps" / "counter2").rglob(".*.o.d"):
        listing.write_text(listing.read_text().replace("/apps/counter/", "/apps/counter2/"))
    _align(ws, out)
    after = read_pool(pool_dir / "pool.json")
    assert after.file == first.file and after.digest == first.digest
    assert {p: p.stat().st_mtime_ns for p in before} == before
    # It takes what the first takes from the pool, and patches what the first patches.
    assert (after.apps["counter2"].pool_pages, after.apps["counter2"].patch_pages) == \
        (first.apps["counter"].pool_pages, first.apps["counter"].patch_pages)
