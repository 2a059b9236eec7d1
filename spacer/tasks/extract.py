"""doit tasks ``extract:<app>``: each app's objects, sections and recorded commands."""

from __future__ import annotations

from collections.abc import Iterator

from spacer.core.stages.extract import run_extract
from spacer.tasks.common import Pipeline, group, one_line, original_images


def tasks(p: Pipeline) -> Iterator[dict]:
    yield group("extract", "read objects, sections and build commands of each app")
    for app in p.apps:
        yield {"basename": "extract", "name": app.name,
               "actions": [(one_line(run_extract), [app, p.layout.extract(app.name)])],
               # The objects, scripts and post-link programs too: a file changed
               # there without a new image is seen.
               "file_dep": [app.link_cmd, *reversed(original_images(app)),
                            *p.inputs[app.name]],
               "targets": [str(p.layout.extract(app.name))], "config": p.settings("extract"),
               "clean": True}
