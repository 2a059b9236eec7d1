"""doit tasks ``symbols:<app>``: the references that leave each library of an app, read
from the relocations of the objects it links; the plan sizes the tables from them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from spacer.core.stages import OutputLayout, run_symbols
from spacer.core.workspace import AppBuild
from spacer.tasks.actions import one_line


def symbols_tasks(apps: list[AppBuild], layout: OutputLayout,
                  facts: dict[str, Path]) -> Iterator[dict]:
    """``facts``: per app, the extract (or, under --aslr, the pic stage's) file."""
    yield {"basename": "symbols", "name": None,
           "doc": "list the references that leave each library, and its table"}
    for app in apps:
        yield {"basename": "symbols", "name": app.name,
               "actions": [(one_line(run_symbols), [facts[app.name],
                                                    layout.symbols(app.name)])],
               "file_dep": [str(facts[app.name])],
               "targets": [str(layout.symbols(app.name))], "clean": True}
