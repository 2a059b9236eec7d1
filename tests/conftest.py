"""Shared fixtures. ``demo_workspace`` builds the demo fleet once per session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from spacer.demo import SRC_DIR
from spacer.demo.apps import DEMO_APPS
from spacer.demo.build import build_fleet

APPS = {a.name: a for a in DEMO_APPS}


@pytest.fixture(scope="session")
def demo_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace holding the built demo fleet (``apps/<app>/build/``). Do not modify it."""
    return build_fleet(tmp_path_factory.mktemp("demo-fleet"), list(DEMO_APPS))


@pytest.fixture
def small_fleet(tmp_path: Path) -> dict:
    """Four demo apps built from a private copy of the sources, so a test may edit one:
    {"ws": workspace, "src": sources, "apps": the DemoApps, "out": an output folder}."""
    src = tmp_path / "src"
    shutil.copytree(SRC_DIR, src)
    apps = [APPS[n] for n in ("hello", "hashsum", "kvstore", "counter")]
    ws = build_fleet(tmp_path / "ws", apps, src_root=src)
    return {"ws": ws, "src": src, "apps": apps, "out": tmp_path / "out"}
