"""An output folder that cannot be written is one line and exit status 2 through both
entry points, named, before any work (a read-only file system, as the new user had)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from spacer import cli
from spacer.core.errors import BAD_INPUT

REPO = Path(__file__).resolve().parents[1]


def _read_only_again(folder: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)


@pytest.fixture
def read_only(tmp_path: Path):
    """A folder on a read-only tmpfs (root ignores file modes, not a read-only mount)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "none", str(folder)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    _read_only_again(folder)
    yield folder
    subprocess.run(["umount", str(folder)], check=False)


@pytest.mark.parametrize("where", ["ro", "ro/sub"])
def test_read_only_output_folder_is_one_line(demo_workspace, read_only, where, capsys):
    out = read_only.parent / where
    code = cli.main(["align", "-w", str(demo_workspace), "-o", str(out), "--plain"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == BAD_INPUT
    assert len(err) == 1 and str(out) in err[0] and "cannot write" in err[0], err


def test_read_only_output_folder_through_doit(demo_workspace, read_only):
    proc = subprocess.run([sys.executable, "-m", "doit", "-f", str(REPO / "dodo.py"), "align",
                           f"workspace={demo_workspace}", f"out={read_only / 'sub'}"],
                          cwd=REPO, capture_output=True, text=True)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == BAD_INPUT, proc.stderr
    assert len(lines) == 1 and "cannot write" in lines[0] and "Traceback" not in proc.stderr


def test_read_only_workspace_with_the_default_output_folder(demo_workspace, read_only, capsys):
    subprocess.run(["mount", "-o", "remount,rw", str(read_only)], check=True)
    for app in ("hello", "counter"):
        shutil.copytree(demo_workspace / "apps" / app, read_only / "apps" / app, symlinks=True)
    _read_only_again(read_only)
    code = cli.main(["align", "-w", str(read_only), "--plain"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == BAD_INPUT
    assert len(err) == 1 and str(read_only / ".spacer") in err[0] and "cannot write" in err[0]
