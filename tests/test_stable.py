"""A fleet that changes: the plan keeps the previous layout, so adding, removing or
rebuilding one app relinks only what must move (DESIGN.md section 8)."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from spacer.core.errors import BadInput
from spacer.core.formats.facts import AppFacts
from spacer.core.formats.symbols import AppSymbols
from spacer.core.outputs.atomic import write_json_atomic
from spacer.core.outputs.paths import OutputLayout
from spacer.core.planner.plan import PlanOptions
from spacer.core.readers.recipe import LinkRecipe
from spacer.core.stages.plan import run_plan
from spacer.demo.apps import DEMO_APPS
from spacer.demo.build import build_fleet
from spacer.run.loader import run_tasks
from spacer.run.settings import Settings

APPS = {a.name: a for a in DEMO_APPS}
UKHASH = ("hashsum", "kvstore", "counter")  # the small fleet's holders of libukhash


def _align(ws: Path, out: Path, **extra) -> list[str]:
    code, ran, failures = run_tasks(Settings(workspace=ws, out=out, demo=False, **extra),
                                    ["align"])
    assert code == 0, failures
    return ran


def _relinked(ran: list[str]) -> set[str]:
    return {t.split(":", 1)[1] for t in ran if t.startswith("relink:")}


def _images(out: Path) -> dict[str, str]:
    return {p.parent.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((out / "apps").glob("*/*_qemu-x86_64"))}


@pytest.mark.slow
def test_new_app_relinks_alone(small_fleet):
    ws, out = small_fleet["ws"], small_fleet["out"]
    shutil.rmtree(ws / "apps" / "counter")
    _align(ws, out)
    before = _images(out)
    build_fleet(ws, [APPS["counter"]], src_root=small_fleet["src"])
    ran = _align(ws, out)
    assert _relinked(ran) == {"counter"}
    after = _images(out)
    assert {app: after[app] for app in before} == before, "existing images changed"


def test_removed_app_relinks_nothing(small_fleet):
    ws, out = small_fleet["ws"], small_fleet["out"]
    _align(ws, out)
    before = _images(out)
    shutil.rmtree(ws / "apps" / "hello")
    ran = _align(ws, out)
    assert _relinked(ran) == set()
    assert {app: h for app, h in _images(out).items() if app != "hello"} == \
        {app: h for app, h in before.items() if app != "hello"}


@pytest.mark.slow
def test_rebuilt_library_of_the_same_size_relinks_its_app(small_fleet):
    ws, out, src = small_fleet["ws"], small_fleet["out"], small_fleet["src"]
    _align(ws, out)
    selftest = src / "libukhash" / "selftest.c"
    selftest.write_text(selftest.read_text().replace('"123456789"', '"123456780"'))
    build_fleet(ws, [APPS["hashsum"]], src_root=src)  # only hashsum is rebuilt
    ran = _align(ws, out)
    assert _relinked(ran) == {"hashsum"}


@pytest.mark.slow
def test_grown_library_moves_and_says_which_apps_relink(small_fleet):
    ws, out, src = small_fleet["ws"], small_fleet["out"], small_fleet["src"]
    _align(ws, out)
    crc = src / "libukhash" / "crc.c"
    crc.write_text(crc.read_text() + "\nconst unsigned char uk_hash_pad[20480] = { 1 };\n"
                   "unsigned int uk_hash_grow(unsigned int x)\n{\n\treturn x * 7u + 1u;\n}\n")
    build_fleet(ws, [APPS["hashsum"]], src_root=src)
    ran = _align(ws, out)
    relinked = _relinked(ran)
    assert "hashsum" in relinked and "hello" not in relinked
    moves = json.loads((out / "layout.json").read_text())["moves"]
    assert moves and all("libukhash" in m["unit"] for m in moves)
    assert relinked <= {"hashsum", *(app for m in moves for app in m["apps"])}


@pytest.mark.slow
def test_replan_reproduces_the_fresh_plan(small_fleet, tmp_path: Path):
    ws, out = small_fleet["ws"], small_fleet["out"]
    shutil.rmtree(ws / "apps" / "counter")
    _align(ws, out)
    build_fleet(ws, [APPS["counter"]], src_root=small_fleet["src"])
    _align(ws, out)
    _align(ws, out, replan=True)
    fresh = tmp_path / "fresh"
    _align(ws, fresh)
    assert _images(out) == _images(fresh)


def test_layout_of_another_version_is_refused(tmp_path: Path):
    """A previous layout.json of another format version stops the plan with one line
    naming it, before anything is planned: --replan is the way out."""
    recipe = LinkRecipe("/b/a.dbg.cmd", "/b", ("gcc",), (), (), "/b/a.dbg", "/b/a", ())
    extract = AppFacts(app="a", build_dir="/b", recipe=recipe, anchors={}, text_head=0,
                       objects=[], anchor_addresses={})
    out = OutputLayout(tmp_path)
    files = []
    for app in ("a", "b"):
        write_json_atomic(out.extract(app), replace(extract, app=app).to_json())
        write_json_atomic(out.symbols(app), AppSymbols(app, {}).to_json())
        files.append((out.extract(app), out.symbols(app)))
    write_json_atomic(out.layout, {"version": 1, "options": asdict(PlanOptions())})
    with pytest.raises(BadInput, match="--replan") as caught:
        run_plan(*zip(*files, strict=True), PlanOptions(), out)
    assert "format version 1" in caught.value.line() and str(out.layout) in caught.value.line()


def _app_tasks(ran: list[str]) -> set[str]:
    return {t.split(":", 1)[1] for t in ran if ":" in t}


def test_changed_inputs_rerun_exactly_their_apps_tasks(small_fleet):
    """Each kind of file a stage reads from a build, changed in one app only."""
    ws, out = small_fleet["ws"], small_fleet["out"]
    _align(ws, out)
    build = ws / "apps" / "hashsum" / "build"
    # The platform linker script: the app's script is rewritten and the app relinked.
    lds = build / "libkvmplat" / "link64.lds"
    lds.write_text(lds.read_text() + "\n/* edited */\n")
    ran = _align(ws, out)
    assert {"extract:hashsum", "lds:hashsum", "relink:hashsum"} <= set(ran)
    assert _app_tasks(ran) == {"hashsum"}
    # An object (the relink and verify read it too), changed where no section is.
    obj = build / "libukhash.o"
    obj.write_bytes(obj.read_bytes() + b"\0" * 16)
    ran = _align(ws, out)
    assert {"extract:hashsum", "relink:hashsum", "verify:hashsum"} <= set(ran)
    assert _app_tasks(ran) == {"hashsum"}
    # A post-link record: the recipe changed, so the app is relinked with it.
    strip_cmd = build / "hashsum_qemu-x86_64.cmd"
    strip_cmd.write_text(strip_cmd.read_text().replace("strip -s", "strip -s -p"))
    ran = _align(ws, out)
    assert "relink:hashsum" in ran and _app_tasks(ran) == {"hashsum"}
    # The original image: extract checks it and the report compares with it.
    image = build / "hashsum_qemu-x86_64"
    image.write_bytes(image.read_bytes() + b"\0" * 16)
    ran = _align(ws, out)
    assert {"extract:hashsum", "report"} <= set(ran) and _app_tasks(ran) == {"hashsum"}


@pytest.mark.slow
def test_plan_diff_measures_a_replan_without_touching_the_outputs(small_fleet, capsys):
    from spacer.cli import main

    ws, out, src = small_fleet["ws"], small_fleet["out"], small_fleet["src"]
    _align(ws, out)
    crc = src / "libukhash" / "crc.c"  # grown: the kept layout now differs from a fresh one
    crc.write_text(crc.read_text() + "\nconst unsigned char uk_hash_pad[20480] = { 1 };\n")
    build_fleet(ws, [APPS["hashsum"]], src_root=src)
    _align(ws, out)
    before = _images(out)
    capsys.readouterr()
    assert main(["plan", "--diff", "-w", str(ws), "-o", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-2].startswith("a replan would relink ") and " of 4 apps" in lines[-2]
    assert lines[-1].startswith("read-only distinct pages: ")
    assert _images(out) == before


def test_slice_round_trips_typed_and_a_foreign_one_is_refused(small_fleet):
    from spacer.core.formats.slices import Slice

    ws, out = small_fleet["ws"], small_fleet["out"]
    _align(ws, out)
    data = json.loads((out / "plan" / "hello.json").read_text())
    piece = Slice.from_json(data)
    assert json.loads(json.dumps(piece.to_json())) == data
    assert piece.areas["text"].slots[0].parts[0].object == data["areas"]["text"]["slots"][0][
        "parts"][0]["object"]
    del data["areas"]["text"]["slots"][0]["parts"][0]["offset"]
    with pytest.raises(BadInput, match="--replan"):
        Slice.from_json(data, "plan/hello.json")


@pytest.mark.slow
def test_apps_added_one_at_a_time_rewrite_no_existing_image(demo_workspace, tmp_path: Path):
    """The demo fleet, then generated apps added one at a time: an image that linked its
    own copy of a library keeps it when the next app comes, so no slot moves under the
    images already deployed. Counted by the images' bytes."""
    from spacer.demo import SRC_DIR
    from spacer.demo.apps import generated_app

    ws, out = tmp_path / "ws", tmp_path / "out"
    shutil.copytree(demo_workspace, ws, symlinks=True)
    _align(ws, out)
    rewritten: set[str] = set()
    for index in range(4):
        before = _images(out)
        build_fleet(ws, [generated_app(index)], src_root=SRC_DIR)
        _align(ws, out)
        after = _images(out)
        rewritten |= {app for app, digest in before.items() if after[app] != digest}
    assert rewritten == set()


def test_move_lines_name_every_app_a_move_relinks():
    """Two moves of one library, one that relinks nothing and one that relinks two
    images, are two lines: the relinks are not hidden behind the first move's words."""
    from spacer.core.formats.layout import Move
    from spacer.views import report as view

    moves = [Move("libuksched", "text", "gen0001 links its own copy", [], 2),
             Move("libuksched", "bss", "meets another library's slot in a new image",
                  ["libinfo", "sched"], 0)]
    lines = view.move_lines(moves)
    assert len(lines) == 2
    assert any("relinks libinfo, sched" in ln and "(bss)" in ln for ln in lines)
    assert any("relinks no existing app" in ln and "(text)" in ln for ln in lines)
