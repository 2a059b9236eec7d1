"""doit tasks ``lds:<app>``: the platform linker script rewritten for the app's slice."""

from __future__ import annotations

from collections.abc import Iterator

from spacer.core.stages.lds import run_lds
from spacer.tasks.common import Pipeline, group, one_line


def tasks(p: Pipeline) -> Iterator[dict]:
    yield group("lds", "write each app's linker script")
    for app in p.apps:
        yield {"basename": "lds", "name": app.name,
               "actions": [(one_line(run_lds), [p.layout.extract(app.name), p.placed(app.name),
                                                p.layout.script(app.name)])],
               "file_dep": [str(p.layout.extract(app.name)), str(p.placed(app.name)),
                            *p.inputs[app.name]],
               "targets": [str(p.layout.script(app.name))],
               "config": p.settings("lds"), "clean": True}
