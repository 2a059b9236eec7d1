"""The reporter's figures: the summary adds up what the stage lines say, also after an
interruption, and ``doit --verbosity 2`` lists every task it ran."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from rich.console import Console

from spacer.run.progress import RichReporter, doit_verbosity

REPO = Path(__file__).resolve().parents[1]


def _task(name: str) -> SimpleNamespace:
    return SimpleNamespace(name=name, actions=["x"], task_dep=[], setup_tasks=[])


def test_summary_counts_a_stopped_task_apart_from_those_run():
    RichReporter.style = "plain"
    try:
        reporter = RichReporter(io.StringIO(), {})
    finally:
        RichReporter.style = "auto"
    shown = io.StringIO()
    reporter.console = Console(file=shown, width=100)
    tasks = {n: _task(n) for n in ("relink:a", "relink:b", "relink:c")}
    reporter.initialize(tasks, list(tasks))
    for task in tasks.values():
        reporter.execute_task(task)
    reporter.add_success(tasks["relink:a"])
    reporter.add_success(tasks["relink:b"])
    reporter.complete_run()  # relink:c was stopped by an interruption
    text = shown.getvalue()
    assert "2 task(s) run, 0 up to date, 1 stopped" in text


@pytest.mark.parametrize("argv,level", [
    (["doit", "--verbosity", "2", "align"], 2), (["doit", "-v", "2", "align"], 2),
    (["doit", "align", "--verbosity=0"], 0), (["doit", "-v2", "align"], 2),
    (["doit", "align", "aslr=1"], 1)])
def test_doit_verbosity_is_read_from_the_command_line(argv, level):
    assert doit_verbosity(argv) == level


def test_doit_verbosity_2_lists_the_tasks_it_ran(demo_workspace, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "doit", "-f", str(REPO / "dodo.py"),
                           "--verbosity", "2", "align", f"workspace={demo_workspace}",
                           f"out={tmp_path / 'out'}", "apps=hello,counter"],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    listed = [ln.split()[1] for ln in proc.stderr.splitlines() if ln.startswith("✓")]
    assert {"extract:hello", "relink:counter", "report"} <= set(listed)
