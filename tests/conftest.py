"""Shared fixtures. ``demo_workspace`` builds the demo fleet once per session;
``small_fleet`` gives each test its own copy of four of its apps, without compiling.

Markers (pyproject.toml): ``boot`` for a test that boots QEMU, ``slow`` for one that
takes seconds (every boot test too); ``python3 -m pytest -m "not slow"`` is the fast tier.
"""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path

import pytest

from spacer.demo import SRC_DIR
from spacer.demo.apps import DEMO_APPS
from spacer.demo.build import app_steps, build_fleet

APPS = {a.name: a for a in DEMO_APPS}
SMALL = ("hello", "hashsum", "kvstore", "counter")


@pytest.fixture(scope="session")
def demo_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace holding the built demo fleet (``apps/<app>/build/``). Do not modify it."""
    return build_fleet(tmp_path_factory.mktemp("demo-fleet"), list(DEMO_APPS))


def _relocated_copy(built: Path, src: Path, ws: Path, apps: list) -> None:
    """Copy ``apps``' build folders from the workspace ``built`` (built from ``SRC_DIR``)
    into ``ws``, as if they had been built there from the sources at ``src``: the
    objects and images do not depend on where they were built (no path is compiled
    in), and every ``.cmd`` record and dependency list is rewritten to name ``ws`` and
    ``src``, its mtime kept. The records are then checked against the commands a build there would run."""
    moves = [(f"{built.resolve()}/", f"{ws.resolve()}/"), (f"{SRC_DIR.resolve()}/",
                                                            f"{src.resolve()}/")]
    for app in apps:
        shutil.copytree(built / "apps" / app.name, ws / "apps" / app.name, symlinks=True)
    for record in sorted((ws / "apps").rglob("*.cmd")):
        stat = record.stat()
        lines = []
        for line in record.read_text().splitlines():
            argv = shlex.split(line)
            for old, new in moves:
                argv = [arg.replace(old, new) for arg in argv]
            lines.append(shlex.join(argv) + "\n")
        record.write_text("".join(lines))
        os.utime(record, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    for listing in sorted((ws / "apps").rglob(".*.o.d")):  # the compiles' dependency lists
        stat = listing.stat()
        text = listing.read_text()
        for old, new in moves:
            text = text.replace(old, new)
        listing.write_text(text)
        os.utime(listing, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    for app in apps:
        for step in app_steps(ws, app, src):
            assert step.cmd_file.read_text() == shlex.join(step.argv) + "\n", step.cmd_file


@pytest.fixture(scope="session")
def demo_copy(demo_workspace: Path):
    """``demo_copy(ws, names)``: the demo apps ``names`` in a new workspace ``ws``, as
    if built there (from ``src``, the shipped sources unless given), without compiling."""

    def copy(ws: Path, names: tuple[str, ...], src: Path = SRC_DIR) -> Path:
        _relocated_copy(demo_workspace, src, ws, [APPS[n] for n in names])
        return ws

    return copy


@pytest.fixture
def small_fleet(demo_copy, tmp_path: Path) -> dict:
    """Four demo apps as built from a private copy of the sources, so a test may edit
    one and rebuild with ``build_fleet(ws, [app], src_root=src)``:
    {"ws": workspace, "src": sources, "apps": the DemoApps, "out": an output folder}."""
    src = tmp_path / "src"
    shutil.copytree(SRC_DIR, src)
    ws = demo_copy(tmp_path / "ws", SMALL, src)
    return {"ws": ws, "src": src, "apps": [APPS[n] for n in SMALL], "out": tmp_path / "out"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that boots QEMU takes seconds: it must be marked ``slow`` too, so that
    ``-m "not slow"`` leaves every boot out."""
    unmarked = [item.nodeid for item in items
                if item.get_closest_marker("boot") and not item.get_closest_marker("slow")]
    if unmarked:
        raise pytest.UsageError(f"marked boot but not slow: {', '.join(unmarked)}")
