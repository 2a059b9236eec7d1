"""doit tasks that build the demo fleet: one sub-task per build step.

file_dep are the step's sources and headers, targets its outputs and its .cmd
record; doit's md5 check then rebuilds only what a changed file reaches, and
stops early when a rebuilt file comes out identical. The command line itself is
part of the up-to-date check, so a changed flag or define rebuilds too.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from pathlib import Path

from doit.tools import config_changed

from spacer.demo import SRC_DIR
from spacer.demo.apps import fleet
from spacer.demo.build import build_steps, run_step
from spacer.engine.failures import failing_as_one_line


def fleet_tasks(workspace: Path, count: int = 0, functions: int = 0, *,
                apps: tuple[str, ...] = (), src_root: Path = SRC_DIR) -> Iterator[dict]:
    """Tasks building the demo apps (or only ``apps``) plus ``count`` generated ones and
    ``functions`` function apps."""
    selected = [app for app in fleet(count, functions) if not apps or app.name in apps]
    yield {"basename": "fleet", "name": None, "doc": "build the demo fleet"}
    for step in build_steps(Path(workspace), selected, src_root):
        yield {
            "basename": "fleet",
            "name": step.name,
            "actions": [(failing_as_one_line(run_step), [step])],
            "file_dep": [str(p) for p in step.inputs],
            "targets": [str(p) for p in (*step.outputs, step.cmd_file)],
            "uptodate": [config_changed(shlex.join(step.argv))],
            "clean": True,
        }
