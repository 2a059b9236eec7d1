"""spacer align on the demo fleet: relinked images boot and behave like the originals,
shared libraries sit at one address, sharing improves, reruns are incremental, and
bad input gets one line."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from spacer.cli import main
from spacer.core.errors import BAD_INPUT, EXTERNAL
from spacer.core.readers.mapfile import by_file, read_map
from spacer.demo.apps import DEMO_APPS
from spacer.demo.build import build_fleet
from spacer.measure.qemu import boot
from spacer.run.loader import run_tasks
from spacer.run.settings import Settings

APPS = {a.name: a for a in DEMO_APPS}


def tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def aligned(demo_workspace: Path, tmp_path_factory: pytest.TempPathFactory):
    """The demo fleet aligned into its own output folder, and the build tree's digest
    taken before the run."""
    before = tree_digest(demo_workspace / "apps")
    out = tmp_path_factory.mktemp("aligned")
    settings = Settings(workspace=demo_workspace, out=out, demo=False)
    code, ran, failures = run_tasks(settings, ["align"])
    assert code == 0, failures
    return {"ws": demo_workspace, "out": out, "before": before, "ran": ran,
            "settings": settings}


def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())["apps"]


@pytest.mark.slow
@pytest.mark.boot
@pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="QEMU not installed")
@pytest.mark.parametrize("name", sorted(APPS))
def test_aligned_image_behaves_like_the_original(aligned, name: str):
    entry = manifest(aligned["out"])[name]
    original = boot(Path(entry["original"]["image"]), timeout=30)
    relinked = boot(Path(entry["aligned"]["image"]), timeout=30)
    assert not relinked.timed_out
    assert relinked.output == original.output
    assert relinked.exit_code == original.exit_code == APPS[name].exit_code
    assert APPS[name].expected_output in relinked.output


def test_manifest_points_at_bootable_and_debug_images(aligned):
    entries = manifest(aligned["out"])
    assert sorted(entries) == sorted(APPS)
    for entry in entries.values():
        for side in ("original", "aligned"):
            image, debug = Path(entry[side]["image"]), Path(entry[side]["debug"])
            assert image.is_absolute() and image.is_file() and debug.is_file()
            assert image.read_bytes()[4] == 1, "bootable image is the ELF32 multiboot form"
            assert debug.read_bytes()[4] == 2, "debug image is ELF64"
        assert Path(entry["aligned"]["image"]).is_relative_to(aligned["out"])


def test_each_shared_variant_sits_at_one_address(aligned):
    layout = json.loads((aligned["out"] / "layout.json").read_text())
    out = aligned["out"]
    addresses: dict[tuple[str, str, str], set[int]] = {}
    for app, piece in layout["slices"].items():
        image = next((out / "apps" / app).glob("*_qemu-x86_64.map"))
        placed = by_file(read_map(image))
        for kind, area in piece["areas"].items():
            if kind == "tbss":
                continue
            for slot in area["slots"]:
                for part in slot["parts"]:
                    for sec in part["sections"]:
                        where = placed[part["object"]].get(sec)
                        if where is None:  # merged away or empty
                            continue
                        key = (slot["unit"], part["lib"], sec)
                        addresses.setdefault(key, set()).add(where.address)
                        if slot["address"] is not None and kind != "tdata":
                            assert where.address >= slot["address"]
                            assert where.address + where.size <= slot["address"] + slot["size"]
    assert addresses, "the demo fleet has shared libraries"
    spread = {k: sorted(map(hex, v)) for k, v in addresses.items() if len(v) != 1}
    assert not spread, spread
    shared_libs = {lib for _, lib, _ in addresses}
    assert {"libnolibc", "libkvmplat", "libukboot"} <= shared_libs


def test_verify_passes_and_sharing_improves(aligned):
    report = json.loads((aligned["out"] / "report.json").read_text())
    before, after = report["original"]["readonly"], report["aligned"]["readonly"]
    assert after["shared"] > before["shared"]
    assert after["distinct"] < before["distinct"], (before, after)
    slots = report["shared_libraries"]
    assert slots["identical_pages"] > slots["differing_pages"]
    for page in report["differing_pages"]:
        assert page["symbols"], f"differing page {page['vaddr']:#x} is not explained"


def test_packed_bound_holds_for_both_fleets(aligned):
    """The bound is below what the original images and the aligned ones reach, and not
    trivially: at least the largest image's library content."""
    report = json.loads((aligned["out"] / "report.json").read_text())
    bound = report["packed_bound"]
    assert bound <= report["aligned"]["readonly"]["distinct"]
    assert bound <= report["original"]["readonly"]["distinct"]
    largest = max(a["original_bytes"] for a in report["apps"].values())
    assert bound * 4096 >= largest // 2


def test_build_folders_are_untouched(aligned):
    assert tree_digest(aligned["ws"] / "apps") == aligned["before"]


def test_second_run_does_nothing(aligned):
    code, ran, _ = run_tasks(aligned["settings"], ["align"])
    assert code == 0 and ran == []


# --- incremental: one app changes --------------------------------------------

@pytest.mark.slow
def test_changed_app_relinks_only_what_its_change_reaches(small_fleet):
    settings = Settings(workspace=small_fleet["ws"], out=small_fleet["out"], demo=False)
    code, first, _ = run_tasks(settings, ["align"])
    assert code == 0 and "relink:hello" in first
    main_c = small_fleet["src"] / "apps" / "hello" / "main.c"
    main_c.write_text(main_c.read_text() + "\nint spacer_test_extra(int x) { return 3 * x; }\n")
    build_fleet(small_fleet["ws"], [APPS["hello"]], src_root=small_fleet["src"])
    code, ran, _ = run_tasks(settings, ["align"])
    assert code == 0
    assert "extract:hello" in ran and "relink:hello" in ran
    assert not {"extract:hashsum", "extract:kvstore", "extract:counter"} & set(ran)
    # hello's own code is not shared: no other app's slice moved, so none is relinked
    assert not {"relink:hashsum", "relink:kvstore", "relink:counter"} & set(ran)


# --- bad input: one line, non-zero exit, nothing half-written --------------------

def run_cli(capsys, *args: str) -> tuple[int, str]:
    code = main(["align", *args])
    err = capsys.readouterr().err
    return code, err


def assert_one_line(err: str, *needles: str) -> None:
    """The error is one ``spacer:`` line, printed once, with no traceback."""
    lines = [ln for ln in err.splitlines() if ln.startswith("spacer:")]
    assert lines, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[-1], (needle, lines[-1])
    message = lines[-1].removeprefix("spacer: ")
    assert sum(message in ln for ln in err.splitlines()) == 1, f"printed twice:\n{err}"


def assert_nothing_finished(out: Path) -> None:
    assert not (out / "manifest.json").exists()
    assert not list(out.glob("apps/*/*_qemu-x86_64"))


def test_workspace_without_unikernels(tmp_path: Path, capsys):
    (tmp_path / "apps" / "x").mkdir(parents=True)
    code, err = run_cli(capsys, "-w", str(tmp_path))
    assert code == BAD_INPUT
    assert_one_line(err, str(tmp_path), "no unikernel builds")


@pytest.mark.parametrize("damage", ["not-elf", "truncated", "wrong-machine"])
def test_damaged_object_is_named(small_fleet, capsys, damage: str):
    obj = small_fleet["ws"] / "apps" / "hashsum" / "build" / "libukhash.o"
    data = obj.read_bytes()
    if damage == "not-elf":
        obj.write_text("this is not an object\n")
    elif damage == "truncated":
        obj.write_bytes(data[:200])
    else:
        obj.write_bytes(data[:18] + (183).to_bytes(2, "little") + data[20:])  # EM_AARCH64
    out = small_fleet["out"]
    code, err = run_cli(capsys, "-w", str(small_fleet["ws"]), "-o", str(out))
    assert code == BAD_INPUT
    assert_one_line(err, str(obj))
    assert_nothing_finished(out)


def test_missing_linker_script(small_fleet, capsys):
    lds = small_fleet["ws"] / "apps" / "hello" / "build" / "libkvmplat" / "link64.lds"
    lds.unlink()
    code, err = run_cli(capsys, "-w", str(small_fleet["ws"]), "-o", str(small_fleet["out"]))
    assert code == BAD_INPUT
    assert_one_line(err, str(lds), "linker script missing")
    assert_nothing_finished(small_fleet["out"])


def test_missing_postlink_cmd(small_fleet, capsys):
    build = small_fleet["ws"] / "apps" / "kvstore" / "build"
    for cmd in build.glob("kvstore_qemu-x86_64.cmd"):
        cmd.unlink()
    for cmd in build.glob("kvstore_qemu-x86_64.multiboot.cmd"):
        cmd.unlink()
    code, err = run_cli(capsys, "-w", str(small_fleet["ws"]), "-o", str(small_fleet["out"]))
    assert code == BAD_INPUT
    assert_one_line(err, "kvstore_qemu-x86_64", "post-link")
    assert_nothing_finished(small_fleet["out"])


def test_failing_linker_message_is_shown(small_fleet, capsys, tmp_path: Path):
    # An object that calls a function nobody defines: the relink must fail in ld.
    src = tmp_path / "bad.c"
    src.write_text("extern int spacer_nowhere(void); int ukhash_extra(void) "
                   "{ return spacer_nowhere(); }\n")
    obj = small_fleet["ws"] / "apps" / "hashsum" / "build" / "libukhash.o"
    import subprocess

    subprocess.run(["gcc", "-c", "-O2", "-fno-pic", "-ffreestanding", str(src), "-o",
                    str(tmp_path / "bad.o")], check=True)
    subprocess.run(["ld", "-r", str(obj), str(tmp_path / "bad.o"), "-o", str(obj) + ".new"],
                   check=True)
    Path(str(obj) + ".new").replace(obj)
    code, err = run_cli(capsys, "-w", str(small_fleet["ws"]), "-o", str(small_fleet["out"]))
    assert code == EXTERNAL
    assert_one_line(err, "hashsum", "spacer_nowhere")
    assert not list(small_fleet["out"].glob("apps/hashsum/*_qemu-x86_64"))


@pytest.mark.slow
@pytest.mark.boot
@pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="QEMU not installed")
def test_copy_objs_links_one_canonical_object(small_fleet):
    settings = Settings(workspace=small_fleet["ws"], out=small_fleet["out"], demo=False,
                        plan={"copy_objs": True})
    code, _, failures = run_tasks(settings, ["align"])
    assert code == 0, failures
    slices = {app: json.loads((small_fleet["out"] / "plan" / f"{app}.json").read_text())
              for app in ("kvstore", "counter")}
    used = [{Path(k).name: v for k, v in s["objects"].items()} for s in slices.values()]
    # Identical library sets: kvstore links counter's files (the first holder's)...
    assert used[0]["libnolibc.o"] == used[1]["libnolibc.o"]
    assert "/apps/counter/build/" in used[0]["libukhash.o"]
    assert used[0]["appkvstore.o"].endswith("/apps/kvstore/build/appkvstore.o")
    # ...and the user's files are read, never written.
    entry = manifest(small_fleet["out"])["counter"]
    original = boot(Path(entry["original"]["image"]))
    relinked = boot(Path(entry["aligned"]["image"]))
    assert relinked.output == original.output and relinked.exit_code == original.exit_code
