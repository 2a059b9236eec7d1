"""What spacer writes and prints: file modes, tables that survive a pipe, and a saving
figure that does not count zero padding."""

from __future__ import annotations

import io
import json
import os
import stat
from pathlib import Path

import pytest
from rich.console import Console

from spacer.bench import memory as bench_memory
from spacer.core.outputs.atomic import write_json_atomic
from spacer.core.sharing.pages import image_pages
from spacer.measure import fleet as memory
from spacer.measure import frames
from spacer.run.loader import run_tasks
from spacer.run.settings import Settings
from spacer.views.report import ROWS, show_report


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_atomic_writes_respect_the_umask(tmp_path: Path, umask: int):
    old = os.umask(umask)
    try:
        write_json_atomic(tmp_path / "x.json", {"a": 1})
        (tmp_path / "plain").write_text("x")
    finally:
        os.umask(old)
    mode = stat.S_IMODE((tmp_path / "x.json").stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / "plain").stat().st_mode) == 0o666 & ~umask


def _render(renderable, width: int = 80) -> str:
    buf = io.StringIO()
    Console(file=buf, width=width, force_terminal=False).print(renderable)
    return buf.getvalue()


def _measurement(label: str, stable: bool, split: bool = True) -> memory.SetMeasurement:
    parts = frames.Split(123456, 54321, 45679, 40000, 300) if split else None
    return memory.SetMeasurement(label, 16, 160, 1234567, 223456, 1011111, "pagemap", 10, 20,
                                 123.45, 7, stable, parts, 99999, 1234.5)


@pytest.mark.parametrize("x", ["instances", "apps"])
@pytest.mark.parametrize("pool", [False, True])
def test_memory_table_fits_80_columns_without_cutting_headers(x: str, pool: bool):
    labels = memory.POOL_SETS if pool else memory.PLAIN_SETS
    points = [memory.Point(100, 16, {label: _measurement(label, label != "aligned",
                                                          split=label != "aligned")
                                     for label in labels}),
              memory.Point(1000, 1, {label: _measurement(label, True) for label in labels})]
    result = memory.FleetMemory(["a"] * 1000, 32, x, points, labels=labels)
    text = _render(bench_memory.table(result))
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 80
    words = set(text.split())
    for header in (x, *bench_memory.COLUMNS):
        assert set(header.split()) <= words, header
    assert {"original", "aligned", "223456", "223456*", "54321", "45679", "?"} <= words


def test_report_table_fits_80_columns(tmp_path: Path, small_fleet):
    settings = Settings(workspace=small_fleet["ws"], out=small_fleet["out"], demo=False)
    code, _, failures = run_tasks(settings, ["align"])
    assert code == 0, failures
    text = _render_report(small_fleet["out"])
    assert "…" not in text
    *lines, where = text.splitlines()  # the last names report.json: a path is not cut
    assert max(len(line) for line in lines) <= 80
    assert where == f"{small_fleet['out'] / 'report.json'}, manifest.json"
    for path in [*small_fleet["out"].glob("*.json"), *small_fleet["out"].glob("apps/*/*")]:
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) & 0o044 == 0o044, path  # readable


def _render_report(out: Path) -> str:
    buf = io.StringIO()
    show_report(out, buf)
    return buf.getvalue()


def test_padding_is_not_a_saving(small_fleet):
    """With the shared area far away (-l), the images gain pages of padding (ld fills
    the gap in .text with NOPs); those are shown on their own row and are not counted
    as frames saved."""
    settings = Settings(workspace=small_fleet["ws"], out=small_fleet["out"], demo=False,
                        plan={"loc": 0x200000})
    code, _, failures = run_tasks(settings, ["align"])
    assert code == 0, failures
    report = json.loads((small_fleet["out"] / "report.json").read_text())
    manifest = json.loads((small_fleet["out"] / "manifest.json").read_text())["apps"]
    pages = [image_pages(Path(e["aligned"]["image"])) for e in manifest.values()]
    readonly = [p for ps in pages for p in ps if not p.writable]
    content = [p for p in readonly if not p.padding]
    padding = len(readonly) - len(content)
    assert padding > 0x80, "the far shared area pads every image with about 0xf0 pages"
    ro = report["aligned"]["readonly"]
    assert ro["padding"] == padding
    assert ro["frames_saved"] == len(content) - len({p.digest for p in content})
    assert ro["frames_saved"] < ro["total"] - ro["distinct"] - padding // 2
    text = _render_report(small_fleet["out"])
    lines = text.splitlines()[:-1]  # the last names report.json: a path is not cut
    assert all(len(line) <= 80 for line in lines)
    # Every row is explained under the table, the figure to read first and marked.
    legend = [line.split(":")[0].strip() for line in lines if line.startswith("  ")
              and ":" in line]
    rows = [label for label, _, _ in ROWS if any(line.startswith(label + " ")
                                                 for line in lines)]
    assert rows[0] == "frames saved" and set(rows) == {label for label, _, _ in ROWS}
    assert set(rows) <= set(legend)
    assert "figure to read" in next(line for line in lines if "frames saved:" in line)
    padded = next(line for line in lines if line.startswith("padding "))
    assert str(ro["padding"]) in padded
    assert "aligned images are larger" in text
