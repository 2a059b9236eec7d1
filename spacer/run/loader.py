"""One set of tasks for both entry points: ``doit`` (dodo.py) and the ``spacer`` command.

Both load the same task generators with the same state file (in the output folder),
so a run of one is seen as done by the other.
"""

from __future__ import annotations

from pathlib import Path

from doit import create_after
from doit.cmd_base import ModuleTaskLoader
from doit.doit_cmd import DoitMain

from spacer.core.options import OPTIONS
from spacer.core.outputs.outdir import (
    acquire,
    make_output_folder,
    output_lock,
    remove_leftovers,
)
from spacer.core.outputs.paths import OutputLayout
from spacer.core.readers.workspace import AppBuild, check_output_folder, find_apps, select_apps
from spacer.engine.workers import install as _install_runner
from spacer.run.progress import Failure, RichReporter
from spacer.run.settings import Settings, option_values
from spacer.tasks.align import STAGES, align_tasks
from spacer.tasks.common import Pipeline
from spacer.tasks.fleet import fleet_tasks

_install_runner()  # -j N: doit's process runner, stopped cleanly by an interrupt


def demo_builds(settings: Settings) -> list[AppBuild]:
    """The demo apps' build facts, known before the fleet is built (doit builds it first)."""
    from spacer.demo.apps import fleet
    from spacer.demo.build import app_build_dir, image_path

    ws = settings.workspace.resolve()
    return [AppBuild(app.name, str(ws / "apps" / app.name), str(app_build_dir(ws, app)),
                     f"{image_path(ws, app)}.dbg.cmd") for app in fleet(settings.count, settings.functions)]


def selected_apps(settings: Settings) -> list[AppBuild]:
    """The apps ``settings`` asks to align (the demo ones when it names no workspace)."""
    apps = demo_builds(settings) if settings.demo else find_apps(settings.workspace)
    return select_apps(apps, settings.apps)


def namespace(settings: Settings, relink_only: bool = False) -> dict:
    """``task_*`` creators and ``DOIT_CONFIG`` for ``settings``, as a dodo module would."""
    def task_fleet():
        yield from fleet_tasks(settings.workspace.resolve(), settings.count, settings.functions)

    def task_align():
        pipeline = Pipeline(selected_apps(settings), OutputLayout(settings.out_dir),
                            option_values(settings), settings.verbose)
        yield from align_tasks(pipeline, relink_only or settings.relink_only,
                               tuple(o.name for o in OPTIONS))

    if settings.demo and not all(Path(a.link_cmd).is_file() for a in selected_apps(settings)):
        # The demo's build facts (file_dep) exist once the fleet is built: before its
        # first build, create the pipeline's tasks after it, so that run records them as
        # a rerun sees them. (Once built, they are created at once, with their docs for
        # doit list and doit help.)
        task_align = create_after(executed="fleet", creates=list(STAGES))(task_align)
    tasks = {"task_align": task_align,
             "DOIT_CONFIG": {"dep_file": str(settings.dep_file), "backend": "json",
                             "default_tasks": ["align"], "verbosity": 2 if settings.verbose else 1,
                             "reporter": RichReporter}}
    if settings.demo:
        tasks["task_fleet"] = task_fleet
    if settings.demo or settings.workspace.is_dir():  # never create a missing workspace
        check_output_folder(settings.out_dir, selected_apps(settings))
        make_output_folder(settings.out_dir)
    return tasks


def parallel_args(jobs: int) -> list[str]:
    """doit's options for ``jobs`` tasks at a time: its process runner (``-n N``,
    :class:`~spacer.engine.workers.InterruptibleRunner`); the task actions need no
    pickling, since the workers are forked with the tasks."""
    return [] if jobs <= 1 else ["-n", str(jobs), "-P", "process"]


def run_tasks(settings: Settings, targets: list[str], relink_only: bool = False,
              extra: list[str] | None = None, jobs: int = 1,
              style: str = "auto") -> tuple[int, list[str], list[Failure]]:
    """Run ``targets`` through doit's API, ``jobs`` tasks at a time: doit's exit code,
    the tasks run, the failures. ``style`` is the reporter's (see
    :mod:`spacer.run.progress`). The output folder's lock is held throughout
    (:class:`OutputBusy` if another run holds it)."""
    ns = namespace(settings, relink_only)
    RichReporter.style = "verbose" if settings.verbose else style
    RichReporter.caller_prints_first = True
    try:
        with output_lock(settings.out_dir):
            try:
                code = DoitMain(ModuleTaskLoader(ns)).run([*(extra or []),
                                                           *parallel_args(jobs), *targets])
            except BaseException:
                # The runner has joined every -j worker, and the lock is still ours:
                # clear any scratch an interrupted step left, as the next run would.
                remove_leftovers(settings.out_dir)
                raise
    finally:
        RichReporter.style = "auto"
        RichReporter.caller_prints_first = False
    return code, list(RichReporter.executed), list(RichReporter.failures)


_held: list[int] = []  # the lock of this doit process (dodo.py), held until it exits
_READ_ONLY_COMMANDS = {"list", "info", "help", "tabcompletion", "dumpdb"}


def hold_output_lock(settings: Settings, argv: list[str]) -> None:
    """For ``doit`` (dodo.py): take the output folder's lock for the rest of this
    process, unless doit only reads (``doit list``). :class:`OutputBusy` if another
    run holds it, :class:`BadInput` if the folder cannot be written: dodo.py says
    either in one line."""
    if _held or any(a in _READ_ONLY_COMMANDS for a in argv[1:]):
        return
    if not (settings.demo or settings.workspace.is_dir()):
        return  # the tasks report the missing workspace
    _held.append(acquire(settings.out_dir))

