"""doit tasks ``symbols:<app>``: the references that leave each library of an app, read
from the relocations of the objects it links; the plan sizes the tables from them."""

from __future__ import annotations

from collections.abc import Iterator

from spacer.core.stages.symbols import run_symbols
from spacer.tasks.common import Pipeline, group, one_line


def tasks(p: Pipeline) -> Iterator[dict]:
    yield group("symbols", "list the references that leave each library, and its table")
    for app in p.apps:
        yield {"basename": "symbols", "name": app.name,
               "actions": [(one_line(run_symbols), [p.facts(app.name),
                                                    p.layout.symbols(app.name)])],
               "file_dep": [str(p.facts(app.name)), *p.linked_objects(app.name)],
               "targets": [str(p.layout.symbols(app.name))],
               "config": p.settings("symbols"), "clean": True}
