"""doit task ``pool`` (``-c``): the pool file of the fleet's shared read-only pages,
and each app's loader image and patch."""

from __future__ import annotations

from collections.abc import Iterator

from spacer.core.stages.pool import run_pool
from spacer.tasks.common import Pipeline, one_line


def tasks(p: Pipeline) -> Iterator[dict]:
    yield {"basename": "pool", "doc": "the pool file and each app's loader image (-c)",
           "actions": [(one_line(run_pool), [p.apps, p.layout, p.values["pool_memory"],
                                              p.values["replan"]])],
           "file_dep": [str(p.layout.layout)]
           + [str(path) for a in p.apps
              for path in (p.layout.image(a), p.layout.debug_image(a))],
           "targets": [str(p.layout.pool_facts)]
           + [str(p.layout.pool_image(a)) for a in p.apps],
           "config": p.settings("pool"), "clean": True}
