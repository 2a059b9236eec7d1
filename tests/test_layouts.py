"""Workspace layouts beside the make one: kraftkit's ``<app>/.unikraft/build/`` and the
older ``<name>_kvm-x86_64`` image names. The fixtures are demo builds copied into
those shapes, with their ``.cmd`` records rewritten to match, as a real build there
would have written them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from spacer.core.readers.workspace import find_apps
from spacer.run.loader import run_tasks
from spacer.run.settings import Settings

APPS = ("hello", "hashsum", "kvstore")


def _copy_build(src: Path, dst: Path, rename: tuple[str, str] | None = None) -> None:
    """Copy the build folder ``src`` to ``dst``; rewrite every ``.cmd`` record to name
    ``dst``, and with ``rename`` rename files and records (``_qemu-`` -> ``_kvm-``)."""
    shutil.copytree(src, dst, symlinks=True)
    for path in sorted(dst.rglob("*")):
        if rename and rename[0] in path.name:
            path = path.rename(path.with_name(path.name.replace(*rename)))
        if path.is_file() and path.name.endswith(".cmd"):
            text = path.read_text().replace(str(src), str(dst))
            if rename:
                text = text.replace(*rename)
            path.write_text(text)


def _shaped(demo: Path, root: Path, kind: str) -> Path:
    for app in APPS:
        src = demo / "apps" / app / "build"
        if kind == "kraftkit":
            _copy_build(src, root / app / ".unikraft" / "build")
        else:
            _copy_build(src, root / "apps" / app / "build", ("_qemu-x86_64", "_kvm-x86_64"))
    return root


@pytest.fixture(scope="module")
def make_aligned(demo_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same apps aligned in the make layout, to compare with."""
    out = tmp_path_factory.mktemp("make-layout") / "out"
    code, _, failures = run_tasks(Settings(workspace=demo_workspace, out=out, demo=False,
                                           apps=APPS), ["align"])
    assert code == 0, failures
    return out


@pytest.mark.parametrize("kind", ["kraftkit", "kvm-names"])
def test_layout_is_found_and_aligned(demo_workspace: Path, tmp_path: Path, kind: str,
                                     make_aligned: Path):
    ws = _shaped(demo_workspace, tmp_path / "ws", kind)
    apps = find_apps(ws)
    assert [a.name for a in apps] == sorted(APPS)
    for app in apps:
        if kind == "kraftkit":
            assert app.build_dir == str((ws / app.name / ".unikraft" / "build").resolve())
            assert app.link_cmd.endswith(f"{app.name}_qemu-x86_64.dbg.cmd")
        else:
            assert app.link_cmd.endswith(f"apps/{app.name}/build/{app.name}_kvm-x86_64.dbg.cmd")
    out = tmp_path / "out"
    code, ran, failures = run_tasks(Settings(workspace=ws, out=out, demo=False), ["align"],
                                    jobs=2)
    assert code == 0, failures
    assert sum(t.startswith("relink:") for t in ran) == len(APPS)
    manifest = json.loads((out / "manifest.json").read_text())["apps"]
    suffix = "_qemu-x86_64" if kind == "kraftkit" else "_kvm-x86_64"
    for app in APPS:
        image = Path(manifest[app]["aligned"]["image"])
        assert image == out / "apps" / app / f"{app}{suffix}"
        assert Path(manifest[app]["original"]["image"]).is_relative_to(ws.resolve())
        # The same objects and plan as in the make layout: the same bytes.
        same = make_aligned / "apps" / app / f"{app}_qemu-x86_64"
        assert image.read_bytes() == same.read_bytes(), app
    assert json.loads((out / "report.json").read_text())["original"]["images"] == len(APPS)
