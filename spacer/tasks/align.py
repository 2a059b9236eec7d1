"""doit tasks of the align pipeline, stage by stage: extract, pic (``--aslr``), symbols,
plan, aslr (``--aslr 2``), lds, relink, verify, pool (``-c``), report, and ``align``
over them all.

Every arrow of the pipeline is a file; doit's md5 check on those files decides what
reruns. The plan keeps the previous layout and writes one slice per app, leaving
unchanged slices untouched, so a change in one app relinks only the apps whose
slice moved. The settings that change a stage's output, and spacer's own code, are
given to ``config_changed``; every file a stage reads from a build is in its
``file_dep``.
"""

from __future__ import annotations

from collections.abc import Iterator

from spacer.tasks import aslr, extract, lds, pic, plan, pool, relink, report, symbols, verify
from spacer.tasks.common import Pipeline, versioned

# Every basename the pipeline's tasks use (doit must know them before a delayed
# creation: ``doit align`` on the demo creates them after the fleet is built).
STAGES = ("extract", "pic", "symbols", "plan", "aslr", "_objects", "lds", "relink", "verify",
          "pool", "report", "align")


def align_tasks(p: Pipeline, relink_only: bool = False,
                variables: tuple[str, ...] = ()) -> Iterator[dict]:
    yield from versioned(_align_tasks(p, relink_only, variables))


def _align_tasks(p: Pipeline, relink_only: bool, variables: tuple[str, ...]) -> Iterator[dict]:
    if not relink_only:
        yield from extract.tasks(p)
        if p.options.aslr:
            yield from pic.tasks(p)
        yield from symbols.tasks(p)
        yield from plan.tasks(p)
        if p.options.moving:
            yield from aslr.tasks(p)
        yield from lds.tasks(p)
    yield from relink.tasks(p)
    yield from verify.tasks(p)
    if p.options.custom_loader:
        yield from pool.tasks(p)
    yield from report.tasks(p)
    # doit shows a task's first doc line only: the variables are named there.
    yield {"basename": "align", "doc": "extract, plan, relink, verify and report the fleet; "
           f"variables (NAME=VALUE): {', '.join(variables)} (README)",
           "actions": None, "task_dep": ["report"]}
