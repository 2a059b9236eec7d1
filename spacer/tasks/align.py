"""doit tasks of the align pipeline: extract, pic (``--aslr``), symbols, plan, aslr
(``--aslr 2``), lds, relink, verify, report, align.

Every arrow of the pipeline is a file; doit's md5 check on those files decides what
reruns. The plan keeps the previous layout and writes one slice per app, leaving
unchanged slices untouched, so a change in one app relinks only the apps whose
slice moved. The settings that change a stage's output, and spacer's own code, are
given to ``config_changed``; every file a stage reads from a build is in its
``file_dep``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

from spacer.core.plan import PlanOptions
from spacer.core.stages import (
    OutputLayout,
    run_extract,
    run_lds,
    run_plan,
    run_relink,
    run_report,
    run_verify,
)
from spacer.core.extract import recorded_inputs
from spacer.core.workspace import AppBuild
from spacer.tasks.actions import log_command, one_line, versioned
from spacer.tasks.aslr import aslr_tasks
from spacer.tasks.config import DOIT_VARIABLES
from spacer.tasks.pic import pic_tasks
from spacer.tasks.symbols import symbols_tasks

run_extract, run_plan, run_lds, run_relink, run_verify, run_report = map(
    one_line, (run_extract, run_plan, run_lds, run_relink, run_verify, run_report))


def _original_images(app: AppBuild) -> list[str]:
    image = Path(app.link_cmd).with_name(Path(app.link_cmd).name.removesuffix(".dbg.cmd"))
    return [str(image), f"{image}.dbg"]


def align_tasks(apps: list[AppBuild], out: Path, options: PlanOptions, verbose: bool = False,
                relink_only: bool = False, seed: int = 0,
                replan: bool = False) -> Iterator[dict]:
    yield from versioned(_align_tasks(apps, out, options, verbose, relink_only, seed, replan))


def _align_tasks(apps: list[AppBuild], out: Path, options: PlanOptions, verbose: bool,
                 relink_only: bool, seed: int, replan: bool) -> Iterator[dict]:
    layout = OutputLayout(out)
    # Every file a stage reads from a build is in its file_dep (read once, here).
    inputs = {app.name: recorded_inputs(app) for app in apps}
    # What lds, relink and verify follow: the plan slice, or under --aslr 2 the map
    # that places the slice's libraries for this image.
    placed = layout.aslr_map if options.moving else layout.plan_slice
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
                   # The objects, scripts and post-link programs too: a file changed
                   # there without a new image is seen.
                   "file_dep": [app.link_cmd, f"{image}.dbg", str(image),
                                *inputs[app.name]],
                   "targets": [str(layout.extract(app.name))], "clean": True}
        facts = [layout.extract(n) for n in names]
        if options.aslr:
            yield from pic_tasks(apps, layout, verbose)
            facts = [layout.pic(n) for n in names]
        yield from symbols_tasks(apps, layout, dict(zip(names, facts, strict=True)))
        symbols = [layout.symbols(n) for n in names]
        yield {"basename": "plan", "doc": "one layout for the whole fleet",
               "actions": [(run_plan, [facts, symbols, options, layout, replan])],
               "file_dep": [str(f) for f in [*facts, *symbols]],
               "targets": [str(layout.layout)] + [str(layout.plan_slice(n)) for n in names],
               "config": {"options": asdict(options), "apps": names, "replan": replan},
               "clean": True}
        if options.moving:
            yield from aslr_tasks(apps, layout, seed)
        for app in apps:
            yield {"basename": "lds", "name": app.name,
                   "actions": [(run_lds, [layout.extract(app.name), placed(app.name),
                                          layout.script(app.name)])],
                   "file_dep": [str(layout.extract(app.name)), str(placed(app.name)),
                                *inputs[app.name]],
                   "targets": [str(layout.script(app.name))], "clean": True}
    for app in apps:
        image = layout.image(app)
        yield {"basename": "relink", "name": app.name,
               "actions": [(run_relink, [layout.extract(app.name), placed(app.name),
                                         layout.script(app.name), layout.app_dir(app.name),
                                         log_command if verbose else None])],
               "file_dep": [str(layout.extract(app.name)), str(placed(app.name)),
                            str(layout.script(app.name)), *inputs[app.name]],
               "targets": [str(image), f"{image}.dbg", f"{image}.map"], "clean": True}
        yield {"basename": "verify", "name": app.name,
               "actions": [(run_verify, [placed(app.name), image,
                                         layout.verify(app.name)])],
               "file_dep": [str(placed(app.name)), str(image), f"{image}.dbg",
                            f"{image}.map", *inputs[app.name]],
               "targets": [str(layout.verify(app.name))], "clean": True}
    yield {"basename": "report", "doc": "static page sharing, original vs aligned",
           "actions": [(run_report, [apps, layout])],
           "file_dep": [str(layout.verify(n)) for n in names]
           + [str(layout.symbols(n)) for n in names]
           + [p for a in apps for p in _original_images(a)]
           + [str(layout.image(a)) for a in apps] + [str(layout.layout)],
           "targets": [str(layout.report), str(layout.manifest)], "clean": True}
    # doit shows a task's first doc line only: the variables are named there.
    yield {"basename": "align", "doc": "extract, plan, relink, verify and report the fleet; "
           f"variables (NAME=VALUE): {', '.join(DOIT_VARIABLES)} (README)",
           "actions": None, "task_dep": ["report"]}
