"""The demo fleet builds like Unikraft, boots under QEMU, and rebuilds exactly."""

from __future__ import annotations

import hashlib
import shlex
import shutil
import struct
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from doit.cmd_base import ModuleTaskLoader
from doit.doit_cmd import DoitMain
from elftools.elf.elffile import ELFFile

from spacer.demo import SRC_DIR
from spacer.demo.apps import DEMO_APPS, fleet, generated_source
from spacer.demo.build import (
    app_build_dir,
    app_steps,
    build_fleet,
    build_steps,
    image_path,
    run_step,
)
from spacer.tasks.fleet import fleet_tasks

APPS = {app.name: app for app in DEMO_APPS}
MB_MAGIC = 0x1BADB002


def digests(root: Path, skip_cmd: bool = True) -> dict[str, str]:
    """sha256 of every file under ``root`` (relative names), .cmd files left out."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))
            if p.is_file() and not (skip_cmd and p.name.endswith(".cmd"))}


def mtimes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


# --- the fleet definition --------------------------------------------------

def test_fleet_has_the_shapes_the_aligner_needs():
    assert len(DEMO_APPS) >= 8
    sets = Counter(app.libs for app in DEMO_APPS if not app.config)
    assert max(sets.values()) >= 2, "two apps must share exactly the same libraries"
    users = Counter(lib for app in DEMO_APPS for lib in set(app.libs))
    assert any(2 <= n <= 4 for n in users.values()), "a library shared by a subset"
    assert any(app.config for app in DEMO_APPS), "a library built with another configuration"
    codes = [app.exit_code for app in DEMO_APPS]
    assert len(set(codes)) == len(codes) and all(0 < c < 128 for c in codes)


def test_generated_apps_are_deterministic_and_varied():
    first, again = fleet(12), fleet(12)
    assert first == again and len(first) == len(DEMO_APPS) + 12
    generated = first[len(DEMO_APPS):]
    assert len({app.libs for app in generated}) >= 4
    assert generated_source(generated[3]) == generated_source(again[len(DEMO_APPS) + 3])


# --- booting -----------------------------------------------------------------

@pytest.fixture
def boot(monkeypatch: pytest.MonkeyPatch):
    """spacer.measure.qemu.boot under TCG: /dev/kvm may exist without working nested KVM."""
    if shutil.which("qemu-system-x86_64") is None:
        pytest.skip("qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)")
    from spacer.measure import qemu

    monkeypatch.setattr(qemu, "kvm_usable", lambda: False)
    return qemu.boot


@pytest.mark.slow
@pytest.mark.boot
@pytest.mark.parametrize("name", sorted(APPS))
def test_app_boots_prints_and_exits(demo_workspace: Path, name: str, boot):
    app = APPS[name]
    result = boot(image_path(demo_workspace, app), timeout=30)
    assert not result.timed_out
    assert result.output.replace("\r\n", "\n").strip() == app.expected_output
    assert result.exit_code == app.exit_code


@pytest.mark.slow
@pytest.mark.boot
def test_generated_apps_boot(tmp_path: Path, boot):
    generated = fleet(8)[len(DEMO_APPS):]
    apps = [generated[2], generated[7]]
    assert apps[1].config, "index 7 uses the nolibc variant"
    build_fleet(tmp_path, apps)
    for app in apps:
        assert (tmp_path / "apps" / app.name / "src" / "main.c").is_file()
        result = boot(image_path(tmp_path, app), timeout=30)
        assert result.output.strip() == app.expected_output
        assert result.exit_code == app.exit_code


@pytest.mark.slow
@pytest.mark.boot
def test_boot_command_line_reaches_the_app(demo_workspace: Path, boot):
    app = APPS["args"]
    result = boot(image_path(demo_workspace, app), append="alpha \"beta gamma\"", timeout=30)
    assert "extra=2 errno=34" in result.output
    assert result.exit_code == app.exit_code


# --- what the build leaves behind ------------------------------------------------

def test_build_tree_has_unikraft_layout(demo_workspace: Path):
    for app in DEMO_APPS:
        build = app_build_dir(demo_workspace, app)
        for lib in app.libs:
            assert (build / f"lib{lib}.o").is_file()
            assert (build / f"lib{lib}.ld.o").is_file()
            assert (build / f"lib{lib}.o.cmd").is_file()
            assert list((build / f"lib{lib}").glob("*.o"))
        assert (build / f"app{app.name}.o").is_file()
        assert (build / "libkvmplat" / "link64.lds").is_file()
        image = image_path(demo_workspace, app)
        for suffix in ("", ".dbg", ".cmd", ".dbg.cmd", ".multiboot.cmd"):
            assert image.with_name(image.name + suffix).is_file(), suffix


def test_final_link_command_has_unikraft_form(demo_workspace: Path):
    app = APPS["kvstore"]
    build = app_build_dir(demo_workspace, app)
    dbg = image_path(demo_workspace, app).with_suffix(".dbg")
    argv = shlex.split((build / f"{dbg.name}.cmd").read_text())
    assert argv[:3] == ["gcc", "-Wl,-m,elf_x86_64", "-Wl,--entry=_multiboot_entry"]
    objects = [a for a in argv if a.endswith(".o")]
    libs = [str(build / f"lib{lib}.o") for lib in app.libs]
    # Unikraft's order: the platform library, the app, then the other libraries.
    assert objects == [libs[0], str(build / "appkvstore.o"), *libs[1:]]
    assert f"-Wl,-dT,{build / 'libkvmplat' / 'link64.lds'}" in argv
    assert argv[-2:] == ["-o", str(dbg)]
    assert {"-nostdlib", "-Wl,--build-id=none", "-nostdinc", "-no-pie"} <= set(argv)
    image = image_path(demo_workspace, app)
    assert shlex.split(image.with_name(image.name + ".cmd").read_text()) == [
        "strip", "-s", str(dbg), "-o", str(image)]
    mb = shlex.split(image.with_name(image.name + ".multiboot.cmd").read_text())
    assert mb[1].endswith("multiboot.py") and mb[2] == str(image)


def sections(path: Path) -> dict[str, int]:
    with path.open("rb") as f:
        elf = ELFFile(f)
        assert elf.header.e_type == "ET_REL" and elf.header.e_machine == "EM_X86_64"
        return {s.name: s.data_size for s in elf.iter_sections()}


def test_library_objects_are_relocatable_with_expected_sections(demo_workspace: Path):
    build = app_build_dir(demo_workspace, APPS["libinfo"])
    for obj in build.glob("*.o"):
        names = sections(obj)
        assert names.get(".text", 0) > 0 and ".eh_frame" in names, obj.name
        # No -ffunction-sections: only gcc's own .text.startup/.unlikely and .text.boot.
        extra = {n for n in names if n.startswith(".text.") and not n.startswith(".rela")}
        assert extra <= {".text.startup", ".text.unlikely", ".text.hot", ".text.boot"}, obj.name
    plat = sections(build / "libkvmplat.o")
    assert {".data.boot", ".text.boot", ".tdata", ".uk_libinfo"} <= set(plat)
    assert ".tbss" in sections(build / "libnolibc.o")
    assert ".uk_inittab1" in sections(build / "libukalloc.o")
    assert ".uk_inittab2" in sections(build / "libuksched.o")
    hashlib_sections = sections(app_build_dir(demo_workspace, APPS["hashsum"]) / "libukhash.o")
    assert {".uk_ctortab1", ".tdata", ".uk_libinfo"} <= set(hashlib_sections)
    assert ".uk_fs_list" in sections(app_build_dir(demo_workspace, APPS["fsdemo"]) / "libramfs.o")


def test_same_library_same_bytes_variant_differs(demo_workspace: Path):
    def lib(app: str, name: str) -> bytes:
        return (app_build_dir(demo_workspace, APPS[app]) / f"lib{name}.o").read_bytes()

    assert lib("hello", "nolibc") == lib("kvstore", "nolibc") == lib("bigtable", "nolibc")
    assert lib("hello", "ukboot") == lib("libinfo", "ukboot")
    assert lib("hexdump", "nolibc") != lib("hello", "nolibc")
    bigger = image_path(demo_workspace, APPS["bigtable"]).stat().st_size
    assert bigger > 3 * image_path(demo_workspace, APPS["hello"]).stat().st_size


def test_images_have_unikraft_segments_and_multiboot_form(demo_workspace: Path):
    for app in DEMO_APPS:
        image = image_path(demo_workspace, app)
        with image.with_name(image.name + ".dbg").open("rb") as f:
            elf = ELFFile(f)
            loads = [(s["p_vaddr"], s["p_flags"], s["p_memsz"])
                     for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"]
            assert loads[0][:2] == (0x100000, 5) and loads[1][1] == 4 and loads[-1][1] == 6
            assert all(vaddr and memsz for vaddr, _flags, memsz in loads)
            assert any(s["p_type"] == "PT_TLS" for s in elf.iter_segments())
            symbols = elf.get_section_by_name(".symtab")
            for name in ("_etext", "_rodata", "_ctors", "_ectors", "_data", "__bss_start",
                         "_end", "_tls_start", "_tls_end", "_multiboot_entry"):
                assert symbols.get_symbol_by_name(name), name
        data = image.read_bytes()
        assert data[4] == 1 and struct.unpack_from("<H", data, 18)[0] == 3  # ELF32, EM_386
        assert struct.unpack_from("<I", data, 32)[0] == 0  # no section headers
        header = [off for off in range(0, 8192, 4)
                  if struct.unpack_from("<I", data, off)[0] == MB_MAGIC]
        assert header, "multiboot header within the first 8 KiB"
        magic, flags, check = struct.unpack_from("<III", data, header[0])
        assert (magic + flags + check) & 0xFFFFFFFF == 0


# --- reproducibility --------------------------------------------------------------

@pytest.mark.slow
def test_two_clean_builds_are_byte_identical(demo_workspace: Path, tmp_path: Path):
    build_fleet(tmp_path, list(DEMO_APPS))
    first, second = digests(demo_workspace / "apps"), digests(tmp_path / "apps")
    assert first == second
    # No path of either workspace or of the sources leaks into any output.
    for root in (tmp_path,):
        for p in (root / "apps").rglob("*.o"):
            data = p.read_bytes()
            assert str(tmp_path).encode() not in data and str(SRC_DIR).encode() not in data


@pytest.mark.slow
def test_cmd_files_reproduce_the_build(tmp_path: Path):
    app = APPS["hashsum"]
    build_fleet(tmp_path, [app])
    before = digests(app_build_dir(tmp_path, app))
    steps = app_steps(tmp_path, app)
    for step in steps:
        for out in step.outputs:
            out.unlink()
    for step in steps:  # the order of the build; the commands come from the .cmd files
        subprocess.run(shlex.split(step.cmd_file.read_text()), check=True)
    assert digests(app_build_dir(tmp_path, app)) == before


def test_failing_step_raises_one_line(tmp_path: Path):
    from spacer.core.errors import ExternalFailure

    step = build_steps(tmp_path, [APPS["hello"]])[1]
    broken = tmp_path / "broken.c"
    broken.write_text("int main(void) { return }\n")
    bad = type(step)(step.name, tuple(str(broken) if a.endswith(".c") else a for a in step.argv),
                     (broken,), step.outputs, step.cmd_file)
    with pytest.raises(ExternalFailure) as info:
        run_step(bad)
    line = str(info.value)
    assert "\n" not in line and str(step.outputs[0]) in line and "error" in line


# --- incremental rebuilds through doit ------------------------------------------

def run_doit(workspace: Path, src_root: Path, apps: tuple[str, ...]) -> int:
    def task_fleet():
        yield from fleet_tasks(workspace, apps=apps, src_root=src_root)

    config = {"dep_file": str(workspace / ".doit.json"), "backend": "json", "verbosity": 0}
    loader = ModuleTaskLoader({"task_fleet": task_fleet, "DOIT_CONFIG": config})
    return DoitMain(loader).run(["fleet"])


@pytest.mark.slow
def test_changed_source_rebuilds_only_its_dependants(tmp_path: Path):
    src = shutil.copytree(SRC_DIR, tmp_path / "src")
    ws = tmp_path / "ws"
    ws.mkdir()
    apps = ("hello", "hashsum")
    assert run_doit(ws, src, apps) == 0
    built = mtimes(ws / "apps")
    assert run_doit(ws, src, apps) == 0
    assert mtimes(ws / "apps") == built, "a second run with nothing changed does nothing"

    fnv = src / "libukhash" / "fnv.c"
    fnv.write_text(fnv.read_text().replace("0x811C9DC5u", "0x811C9DC6u"))
    assert run_doit(ws, src, apps) == 0
    after = mtimes(ws / "apps")
    changed = {name for name in after if after[name] != built[name]}
    image = "hashsum/build/hashsum_qemu-x86_64"
    outputs = {"hashsum/build/libukhash/fnv.o", "hashsum/build/libukhash.ld.o",
               "hashsum/build/libukhash.o", f"{image}.dbg", image}
    assert changed == (outputs | {f"{p}.cmd" for p in outputs} | {f"{image}.multiboot.cmd"}
                       | {"hashsum/build/libukhash/.fnv.o.d"})  # the compile's header list

    # A comment-only change recompiles one object; doit sees identical bytes and stops.
    fnv.write_text(fnv.read_text() + "/* no code */\n")
    assert run_doit(ws, src, apps) == 0
    again = mtimes(ws / "apps")
    assert {n for n in again if again[n] != after[n]} == {
        "hashsum/build/libukhash/fnv.o", "hashsum/build/libukhash/fnv.o.cmd",
        "hashsum/build/libukhash/.fnv.o.d"}
