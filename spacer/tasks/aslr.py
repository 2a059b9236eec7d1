"""doit tasks ``aslr:<app>`` (``--aslr 2``): each image's own placement of its shared
libraries, drawn from the seed and the app's name. The map is the file the linker
script, the relink and verify read, so a new seed relinks every app and a change in
one app's slice relinks that app only."""

from __future__ import annotations

from collections.abc import Iterator

from spacer.core.stages import OutputLayout, run_aslr
from spacer.core.workspace import AppBuild
from spacer.tasks.actions import one_line


def aslr_tasks(apps: list[AppBuild], layout: OutputLayout, seed: int) -> Iterator[dict]:
    settings = {"seed": seed}
    yield {"basename": "aslr", "name": None,
           "doc": "draw each image's placement of its shared libraries (--aslr 2, --seed)"}
    for app in apps:
        yield {"basename": "aslr", "name": app.name,
               "actions": [(one_line(run_aslr), [layout.plan_slice(app.name), seed,
                                                 layout.aslr_map(app.name)])],
               "file_dep": [str(layout.plan_slice(app.name))],
               "targets": [str(layout.aslr_map(app.name))], "config": settings,
               "clean": True}
