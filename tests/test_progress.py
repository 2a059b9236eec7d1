"""Output at fleet scale (a few lines, whatever the fleet size) and parallel runs
(``-j N`` gives the same bytes as ``-j 1``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GENERATED = 20


def spacer(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``spacer ARGS`` with stdout and stderr piped into one stream, as in a CI log."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "spacer.cli", *args], cwd=cwd, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=900)


@pytest.fixture(scope="module")
def big_fleet(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The demo fleet plus 20 generated apps, built with ``spacer fleet -j 2`` (piped)."""
    root = tmp_path_factory.mktemp("big-fleet")
    done = spacer("fleet", "-w", str(root / "ws"), "--count", str(GENERATED), "-j", "2",
                  cwd=root)
    return {"root": root, "ws": root / "ws", "fleet": done}


def _summary(text: str) -> tuple[int, int]:
    found = re.search(r"(\d+) task\(s\) run, (\d+) up to date", text)
    assert found, text
    return int(found[1]), int(found[2])


@pytest.mark.slow
def test_fleet_output_is_short_when_piped(big_fleet):
    done = big_fleet["fleet"]
    assert done.returncode == 0, done.stdout
    lines = done.stdout.splitlines()
    assert len(lines) < 30, done.stdout
    ran, fresh = _summary(done.stdout)
    assert ran > 1000 and fresh == 0  # about 60 build steps per app
    assert re.search(rf"^fleet: {ran}/{ran} \({ran} run, 0 up to date\)", done.stdout, re.M)


@pytest.mark.slow
def test_align_output_is_short_and_counts_are_right(big_fleet):
    root, ws = big_fleet["root"], big_fleet["ws"]
    apps = 11 + GENERATED
    tasks = 5 * apps + 2  # extract, symbols, lds, relink, verify per app; plan, report
    first = spacer("align", "-w", str(ws), "-o", str(root / "out-j2"), "-j", "2", cwd=root)
    assert first.returncode == 0, first.stdout
    # Stage lines, the summary, and the report with its legend: as many at any size.
    assert len(first.stdout.splitlines()) < 45, first.stdout
    assert _summary(first.stdout) == (tasks, 0)
    for stage, count in (("extract", apps), ("relink", apps), ("plan", 1), ("report", 1)):
        assert re.search(rf"^{stage}: {count}/{count} \({count} run, 0 up to date\)",
                         first.stdout, re.M), first.stdout
    assert "✓" not in first.stdout
    again = spacer("align", "-w", str(ws), "-o", str(root / "out-j2"), "--plain", cwd=root)
    assert again.returncode == 0, again.stdout
    assert len(again.stdout.splitlines()) < 45
    assert _summary(again.stdout) == (0, tasks)
    assert re.search(rf"^relink: {apps}/{apps} \(0 run, {apps} up to date\)", again.stdout,
                     re.M)


@pytest.mark.slow
def test_verbose_shows_every_task_and_jobs_do_not_change_outputs(big_fleet):
    """``-v`` prints one line per task (and the commands); ``-j 1`` into another folder
    gives the same bytes as ``-j 2``, except the files that name their own folder."""
    root, ws = big_fleet["root"], big_fleet["ws"]
    one = root / "out-j1"
    done = spacer("align", "-w", str(ws), "-o", str(one), "-j", "1", "-v", cwd=root)
    assert done.returncode == 0, done.stdout
    ticks = re.findall(r"^✓ (\S+) ", done.stdout, re.M)
    apps = 11 + GENERATED
    assert len(ticks) == 5 * apps + 2
    assert {t.split(":")[0] for t in ticks} == {"extract", "symbols", "plan", "lds", "relink",
                                                "verify", "report"}
    assert "$ " in done.stdout  # the commands run
    two = root / "out-j2"
    if not (two / "report.json").exists():
        assert spacer("align", "-w", str(ws), "-o", str(two), "-j", "2", cwd=root).returncode == 0
    compare_outputs(one, two)


# Files that legitimately differ between two output folders: the lock (a pid), doit's
# state (keyed by absolute paths), the manifest (absolute image paths), and in the link
# maps the OUTPUT line, which names the relink scratch folder.
_OWN_PATHS = {".lock", "doit-state.json", "manifest.json"}


def compare_outputs(one: Path, two: Path) -> None:
    files = sorted(p.relative_to(one) for p in one.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(two) for p in two.rglob("*") if p.is_file())
    compared = 0
    for rel in files:
        if rel.name in _OWN_PATHS:
            continue
        a, b = (one / rel).read_bytes(), (two / rel).read_bytes()
        if rel.suffix == ".map":
            a, b = (re.sub(rb"^OUTPUT\(.*\)$", b"OUTPUT()", x, flags=re.M) for x in (a, b))
        assert a == b, rel
        compared += 1
    assert compared > 100
    manifest = (two / "manifest.json").read_text().replace(str(two), str(one))
    assert manifest == (one / "manifest.json").read_text()


def test_jobs_default_to_the_cores():
    from spacer.cli import parser
    from spacer.run.jobs import default_jobs
    from spacer.run.loader import parallel_args

    assert parser().parse_args(["align"]).jobs == default_jobs() >= 1
    assert parser().parse_args(["fleet"]).jobs == default_jobs()
    assert parser().parse_args(["fleet", "-j", "3"]).jobs == 3
    with pytest.raises(SystemExit):
        parser().parse_args(["align", "-j", "0"])
    assert parallel_args(1) == []
    assert parallel_args(2) == ["-n", "2", "-P", "process"]
