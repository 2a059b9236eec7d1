"""doit tasks ``pic:<app>`` (``--aslr 1`` and up): the app's libraries rebuilt as
position-independent code, their GOT relocations aimed at per-library tables."""

from __future__ import annotations

from collections.abc import Iterator

from spacer.core.stages import OutputLayout, run_pic
from spacer.core.workspace import AppBuild
from spacer.tasks.actions import log_command, one_line

# What changes a rebuilt object: the compile flags are spacer's own (core.rebuild),
# covered by the code digest; the recorded commands come in through extract.
SETTINGS: dict = {}


def pic_tasks(apps: list[AppBuild], layout: OutputLayout, verbose: bool) -> Iterator[dict]:
    yield {"basename": "pic", "name": None,
           "doc": "rebuild each app's libraries as position-independent code with "
           "indirection tables (--aslr 1, 2)"}
    for app in apps:
        yield {"basename": "pic", "name": app.name,
               "actions": [(one_line(run_pic), [layout.extract(app.name), layout.pic(app.name),
                                                layout.pic_dir(app.name),
                                                log_command if verbose else None])],
               "file_dep": [str(layout.extract(app.name))],
               "targets": [str(layout.pic(app.name))], "config": SETTINGS, "clean": True}
