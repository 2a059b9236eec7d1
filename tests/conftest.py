"""Shared fixtures. ``demo_workspace`` builds the demo fleet once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from spacer.demo.apps import DEMO_APPS
from spacer.demo.build import build_fleet


@pytest.fixture(scope="session")
def demo_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace holding the built demo fleet (``apps/<app>/build/``). Do not modify it."""
    return build_fleet(tmp_path_factory.mktemp("demo-fleet"), list(DEMO_APPS))
