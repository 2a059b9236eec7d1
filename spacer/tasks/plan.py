"""doit task ``plan``: one layout for the whole fleet, and one slice per app. A slice
is rewritten only when it changed, so only the apps whose slice moved relink."""

from __future__ import annotations

from collections.abc import Iterator

from spacer.core.stages.plan import run_plan
from spacer.tasks.common import Pipeline, one_line


def tasks(p: Pipeline) -> Iterator[dict]:
    facts = [p.facts(n) for n in p.names]
    symbols = [p.layout.symbols(n) for n in p.names]
    yield {"basename": "plan", "doc": "one layout for the whole fleet",
           "actions": [(one_line(run_plan), [facts, symbols, p.options, p.layout, p.replan,
                                             p.recorded])],
           "file_dep": [str(f) for f in [*facts, *symbols]],
           "targets": [str(p.layout.layout)] + [str(p.layout.plan_slice(n)) for n in p.names],
           "config": {**p.settings("plan"), "apps": p.names},
           "clean": True}
