"""doit tasks ``verify:<app>``: every slot where the plan put it, and a fingerprint of
every page a shared library touches."""

from __future__ import annotations

from collections.abc import Iterator

from spacer.core.stages.verify import run_verify
from spacer.tasks.common import Pipeline, group, one_line
from spacer.tasks.relink import objects_task


def tasks(p: Pipeline) -> Iterator[dict]:
    yield group("verify", "check planned addresses; fingerprint shared pages")
    for app in p.apps:
        image = p.layout.image(app)
        yield {"basename": "verify", "name": app.name,
               "actions": [(one_line(run_verify), [p.placed(app.name), image,
                                                   p.layout.verify(app.name)])],
               "file_dep": [str(p.placed(app.name)), str(image), f"{image}.dbg",
                            f"{image}.map", *p.inputs[app.name]],
               "calc_dep": [objects_task(app.name)],
               "targets": [str(p.layout.verify(app.name))],
               "config": p.settings("verify"), "clean": True}
