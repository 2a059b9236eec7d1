"""doit tasks ``relink:<app>``: the build's own link and post-link steps, rerun with
the new linker script, into the output folder."""

from __future__ import annotations

from collections.abc import Iterator

from spacer.core.stages.relink import linked_objects, run_relink
from spacer.tasks.common import Pipeline, group, one_line


def objects_task(app: str) -> str:
    """The hidden task that lists the objects ``app``'s slice links (a ``calc_dep``)."""
    return f"_objects:{app}"


def tasks(p: Pipeline) -> Iterator[dict]:
    for app in p.apps:
        yield {"basename": "_objects", "name": app.name,
               "actions": [(one_line(linked_objects), [p.placed(app.name)])],
               "file_dep": [str(p.placed(app.name))]}
    yield group("relink", "relink each app and run its post-link steps")
    for app in p.apps:
        image = p.layout.image(app)
        yield {"basename": "relink", "name": app.name,
               "actions": [(one_line(run_relink), [p.layout.extract(app.name),
                                                   p.placed(app.name),
                                                   p.layout.script(app.name),
                                                   p.layout.app_dir(app.name), p.log])],
               "file_dep": [str(p.layout.extract(app.name)), str(p.placed(app.name)),
                            str(p.layout.script(app.name)), *p.inputs[app.name]],
               "calc_dep": [objects_task(app.name)],
               "targets": [str(image), f"{image}.dbg", f"{image}.map"],
               "config": p.settings("relink"), "clean": True}
