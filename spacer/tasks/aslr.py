"""doit tasks ``aslr:<app>`` (``--aslr 2``): each image's own placement of its shared
libraries, drawn from the seed and the app's name. The map is the file the linker
script, the relink and verify read, so a new seed relinks every app and a change in
one app's slice relinks that app only."""

from __future__ import annotations

from collections.abc import Iterator

from spacer.core.stages.aslr import run_aslr
from spacer.tasks.common import Pipeline, group, one_line


def tasks(p: Pipeline) -> Iterator[dict]:
    settings = p.settings("aslr")
    yield group("aslr", "draw each image's placement of its shared libraries (--aslr 2, "
                "--seed)")
    for app in p.apps:
        yield {"basename": "aslr", "name": app.name,
               "actions": [(one_line(run_aslr), [p.layout.plan_slice(app.name), p.seed,
                                                 p.layout.aslr_map(app.name)])],
               "file_dep": [str(p.layout.plan_slice(app.name))],
               "targets": [str(p.layout.aslr_map(app.name))], "config": settings,
               "clean": True}
