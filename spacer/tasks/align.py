"""doit tasks of the align pipeline: extract, plan, lds, relink, verify, report, align.

Every arrow of the pipeline is a file; doit's md5 check on those files decides what
reruns. The plan writes one slice per app and leaves unchanged slices untouched,
so a change in one app relinks only the apps whose slice moved. The options that
change a stage's output are given to ``config_changed``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

from doit.exceptions import TaskFailed
from doit.tools import config_changed

from spacer.core.errors import SpacerError
from spacer.core.plan import PlanOptions
from spacer.core.stages import (
    OutputLayout,
    run_extract,
    run_lds,
    run_pic,
    run_plan,
    run_relink,
    run_report,
    run_verify,
)
from spacer.core.workspace import AppBuild


def code_digest() -> str:
    """A digest of spacer's own pipeline code: a spacer that plans or links differently
    reruns every stage (doit cannot see a change of the code behind an action)."""
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parent.parent
    for path in sorted([*root.glob("core/*.py"), *root.glob("tasks/*.py")]):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def _versioned(tasks: Iterator[dict]) -> Iterator[dict]:
    """Each task's settings (its ``config``) plus spacer's code digest, in one
    ``config_changed``: doit keeps one value per task for it, so two would undo
    each other and the task would never be up to date."""
    code = code_digest()
    for task in tasks:
        if task.get("actions"):
            task["uptodate"] = [config_changed({"spacer": code, **task.pop("config", {})})]
        yield task


def _log(line: str) -> None:
    print(f"  $ {line}")


def failing_as_one_line(fn):
    """A doit action that reports a :class:`SpacerError` as its one line, no traceback."""
    def action(*args):
        try:
            fn(*args)
        except SpacerError as err:
            return TaskFailed(err.line())
        return None
    action.__name__ = fn.__name__
    return action


run_extract, run_pic, run_plan, run_lds, run_relink, run_verify, run_report = map(
    failing_as_one_line,
    (run_extract, run_pic, run_plan, run_lds, run_relink, run_verify, run_report))


def align_tasks(apps: list[AppBuild], out: Path, options: PlanOptions, verbose: bool = False,
                relink_only: bool = False) -> Iterator[dict]:
    yield from _versioned(_align_tasks(apps, out, options, verbose, relink_only))


def _align_tasks(apps: list[AppBuild], out: Path, options: PlanOptions, verbose: bool,
                 relink_only: bool) -> Iterator[dict]:
    layout = OutputLayout(out)
    names = [a.name for a in apps]
    docs = {"extract": "read objects, sections and build commands of each app",
            "lds": "write each app's linker script", "relink": "relink each app and run its "
            "post-link steps", "verify": "check planned addresses; fingerprint shared pages"}
    for basename, doc in docs.items():
        if not (relink_only and basename in ("extract", "lds")):
            yield {"basename": basename, "name": None, "doc": doc}
    if not relink_only:
        for app in apps:
            image = Path(app.link_cmd).with_name(Path(app.link_cmd).name.removesuffix(".dbg.cmd"))
            yield {"basename": "extract", "name": app.name,
                   "actions": [(run_extract, [app, layout.extract(app.name)])],
                   "file_dep": [app.link_cmd, f"{image}.dbg", str(image)],
                   "targets": [str(layout.extract(app.name))], "clean": True}
        facts = [layout.extract(n) for n in names]
        if options.aslr:
            yield {"basename": "pic", "name": None,
                   "doc": "rebuild each app's libraries as position-independent code with "
                   "indirection tables (--aslr 1)"}
            for app in apps:
                yield {"basename": "pic", "name": app.name,
                       "actions": [(run_pic, [layout.extract(app.name), layout.pic(app.name),
                                              layout.pic_dir(app.name),
                                              _log if verbose else None])],
                       "file_dep": [str(layout.extract(app.name))],
                       "targets": [str(layout.pic(app.name))], "clean": True}
            facts = [layout.pic(n) for n in names]
        yield {"basename": "plan", "doc": "one layout for the whole fleet",
               "actions": [(run_plan, [facts, options, layout])],
               "file_dep": [str(f) for f in facts],
               "targets": [str(layout.layout)] + [str(layout.plan_slice(n)) for n in names],
               "config": {"options": asdict(options), "apps": names},
               "clean": True}
        for app in apps:
            yield {"basename": "lds", "name": app.name, "actions": [(run_lds, [layout.extract(app.name), layout.plan_slice(app.name),
                                          layout.script(app.name)])],
                   "file_dep": [str(layout.extract(app.name)), str(layout.plan_slice(app.name))],
                   "targets": [str(layout.script(app.name))], "clean": True}
    for app in apps:
        image = layout.image(app)
        yield {"basename": "relink", "name": app.name,
               "actions": [(run_relink, [layout.extract(app.name), layout.plan_slice(app.name),
                                         layout.script(app.name), layout.app_dir(app.name),
                                         _log if verbose else None])],
               "file_dep": [str(layout.extract(app.name)), str(layout.plan_slice(app.name)),
                            str(layout.script(app.name))],
               "targets": [str(image), f"{image}.dbg", f"{image}.map"], "clean": True}
        yield {"basename": "verify", "name": app.name,
               "actions": [(run_verify, [layout.plan_slice(app.name), image,
                                         layout.verify(app.name)])],
               "file_dep": [str(layout.plan_slice(app.name)), str(image), f"{image}.dbg",
                            f"{image}.map"],
               "targets": [str(layout.verify(app.name))], "clean": True}
    yield {"basename": "report", "doc": "static page sharing, original vs aligned",
           "actions": [(run_report, [apps, layout])],
           "file_dep": [str(layout.verify(n)) for n in names]
           + [str(layout.image(a)) for a in apps] + [str(layout.layout)],
           "targets": [str(layout.report), str(layout.manifest)], "clean": True}
    yield {"basename": "align", "doc": "extract, plan, relink, verify and report the fleet",
           "actions": None, "task_dep": ["report"]}
