"""How task runs look on the terminal, whatever the fleet size.

A *stage* is a task's basename (``extract``, ``relink``, ``fleet``...). Three styles:

- ``live`` (stderr is a terminal): one rich progress row per stage (done/total, the
  task running, elapsed time, time left), then a one-line summary;
- ``plain`` (piped, or ``--plain``): one line per stage when it ends, with its
  counts, then the summary;
- ``verbose`` (``-v``): one line per task that runs, as before, then the summary.

Failures are recorded, not printed: the ``spacer`` command prints the first one,
once. The reporter also records the tasks it saw run and the time each stage took,
so callers, benches and tests can tell what a run did.
"""

from __future__ import annotations

import signal
import sys
import time
from dataclasses import dataclass, field
from typing import ClassVar

from doit.exceptions import DependencyError
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from spacer.core.errors import BAD_INPUT, INTERNAL
from spacer.engine.workers import STOP_SIGNALS

STYLES = ("auto", "live", "plain", "verbose")


@dataclass(frozen=True)
class Failure:
    """One failed task: the line to print, the exit status of its kind, the traceback
    of an unexpected exception (shown with ``-v``)."""

    line: str
    exit_code: int
    traceback: str = ""

    def __str__(self) -> str:
        return self.line


def _failure(task_name: str, fail) -> Failure:
    message = (getattr(fail, "message", "") or fail.get_msg()).strip().splitlines()
    if isinstance(fail, DependencyError):
        # doit's own check of file_dep (a build file vanished): bad input.
        line = " ".join(m.strip() for m in message).removeprefix("ERROR: ")
        return Failure(f"{task_name}: {line} (rebuild the unikernel or rerun spacer align)",
                       BAD_INPUT)
    line = message[-1] if message else "failed"
    code = getattr(fail, "exit_code", INTERNAL)
    return Failure(f"{task_name}: {line}", code, "".join(getattr(fail, "traceback", "") or ""))


def doit_verbosity(argv: list[str]) -> int:
    """``doit --verbosity N`` / ``-v N`` as given on the command line (doit hands its
    reporter only the failure verbosity); 1, doit's default, when absent."""
    for i, arg in enumerate(argv):
        for flag in ("--verbosity", "-v"):
            if arg == flag and i + 1 < len(argv) and argv[i + 1].isdigit():
                return int(argv[i + 1])
            if arg.startswith((f"{flag}=", flag)) and arg[len(flag):].lstrip("=").isdigit():
                return int(arg[len(flag):].lstrip("="))
    return 1


def stage_of(task_name: str) -> str:
    """The stage a task belongs to: its basename (``relink:hello`` -> ``relink``)."""
    return task_name.split(":", 1)[0]


@dataclass
class StageCount:
    """What happened to one stage's tasks in this run."""

    total: int = 0
    run: int = 0
    up_to_date: int = 0
    failed: int = 0
    started: float | None = None  # perf_counter of its first task
    busy: float = 0.0  # summed task times (more than the wall time under -j N)
    ended: float | None = None
    reported: bool = False
    running: list[str] = field(default_factory=list)

    @property
    def done(self) -> int:
        return self.run + self.up_to_date + self.failed

    @property
    def wall(self) -> float:
        if self.started is None:
            return 0.0
        return (self.ended or time.perf_counter()) - self.started


def _to_run(tasks: dict, selected: list[str]) -> list[str]:
    """The tasks with actions that ``selected`` needs (task_dep and setup, including
    the ones doit added for file_dep produced by another task), in a stable order."""
    seen: set[str] = set()
    stack = list(selected)
    while stack:
        name = stack.pop()
        if name in seen or name not in tasks:
            continue
        seen.add(name)
        task = tasks[name]
        stack.extend(task.task_dep)
        stack.extend(task.setup_tasks)
    return [n for n in tasks if n in seen and tasks[n].actions and not n.startswith("_")]


class RichReporter:
    """A doit reporter (same hooks as doit's ConsoleReporter), printing with rich.

    Set :attr:`style` before a run (``spacer`` does it from ``--plain`` and ``-v``);
    ``auto`` picks ``live`` on a terminal and ``plain`` otherwise, or ``verbose``
    when doit runs with verbosity 2.
    """

    desc = "spacer progress"
    style: ClassVar[str] = "auto"
    # The spacer command prints the first failure itself, last and once; plain doit
    # (dodo.py) has the reporter print it.
    caller_prints_first: ClassVar[bool] = False
    executed: ClassVar[list[str]] = []
    failures: ClassVar[list[Failure]] = []
    stages: ClassVar[dict[str, StageCount]] = {}

    def __init__(self, outstream, options):
        self.console = Console(file=sys.stderr, highlight=False, soft_wrap=True)
        style = RichReporter.style
        if style == "auto":
            if doit_verbosity(sys.argv) >= 2:
                style = "verbose"
            else:
                style = "live" if self.console.is_terminal else "plain"
        self.mode = style
        self.started: dict[str, float] = {}
        self.begun = time.perf_counter()
        self.progress: Progress | None = None
        self.rows: dict[str, int] = {}
        self._tasks: dict = {}
        self._selected: list[str] = []
        RichReporter.executed = []
        RichReporter.failures = []
        RichReporter.stages = {}

    # -- doit's hooks -------------------------------------------------------------

    def initialize(self, tasks, selected_tasks):
        # doit adds tasks created later (the demo's pipeline, after its fleet) to this
        # same dict: a stage first seen then is counted when its first task comes.
        self._tasks, self._selected = tasks, list(selected_tasks or [])
        for name in _to_run(tasks, self._selected):
            RichReporter.stages.setdefault(stage_of(name), StageCount()).total += 1
        if self.mode == "live" and RichReporter.stages:
            self.progress = Progress(
                TextColumn("{task.description:<8}"), BarColumn(bar_width=24),
                MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("eta"),
                TimeRemainingColumn(), TextColumn("[dim]{task.fields[now]}"),
                console=self.console, transient=False)
            # Its refresh thread must not take the stop signals: a Ctrl-C it took would
            # wait for the main thread to finish waiting (spacer.engine.workers).
            mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
            try:
                self.progress.start()
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)

    def get_status(self, task):
        pass

    def execute_task(self, task):
        if task.actions and not task.name.startswith("_"):
            RichReporter.executed.append(task.name)
            now = time.perf_counter()
            self.started[task.name] = now
            stage = self._stage(task.name)
            if stage.started is None:
                stage.started = now
            stage.running.append(task.name)
            self._show(task.name)

    def add_success(self, task):
        if task.name not in self.started:
            return
        took = time.perf_counter() - self.started[task.name]
        stage = self._stage(task.name)
        stage.run += 1
        stage.busy += took
        self._finished(task.name)
        if self.mode == "verbose":
            self.console.print(f"[green]✓[/] {escape(task.name)} [dim]{took:.2f}s[/]")

    def add_failure(self, task, fail):
        RichReporter.failures.append(_failure(task.name, fail))
        if task.actions and not task.name.startswith("_"):
            self._stage(task.name).failed += 1
            self._finished(task.name)

    def skip_uptodate(self, task):
        if task.actions and not task.name.startswith("_"):
            stage = self._stage(task.name)
            stage.up_to_date += 1
            self._finished(task.name)

    def skip_ignore(self, task):
        pass

    def cleanup_error(self, exception):
        self._stop()
        self.console.print(f"[red]cleanup failed:[/] {escape(exception.get_msg().strip())}")

    def runtime_error(self, msg):
        lines = msg.strip().splitlines()
        RichReporter.failures.append(Failure(lines[-1] if lines else "doit failed", INTERNAL,
                                             msg))

    def teardown_task(self, task):
        pass

    def complete_run(self):
        for name, stage in RichReporter.stages.items():
            if stage.done and not stage.reported:
                self._stage_ended(name, stage)
        self._stop()
        # The figures the stage lines add up to: a task an interruption stopped
        # started but did not run to its end.
        stages = RichReporter.stages.values()
        ran = sum(s.run for s in stages)
        fresh = sum(s.up_to_date for s in stages)
        stopped = sum(len(s.running) for s in stages)
        failed = len(RichReporter.failures)
        took = time.perf_counter() - self.begun
        summary = f"{ran} task(s) run, {fresh} up to date"
        if stopped:
            summary += f", {stopped} stopped"
        if failed:
            summary += f", {failed} failed"
        self.console.print(f"[dim]{summary} in {took:.1f} s[/]")
        skip = 1 if RichReporter.caller_prints_first else 0
        for fail in RichReporter.failures[skip:4]:
            prefix = "also failed" if skip else "spacer"
            self.console.print(f"{prefix}: {fail.line}", markup=False)
        if failed > 4:
            self.console.print(f"and {failed - 4} more", markup=False)

    # -- drawing ------------------------------------------------------------------

    def _stage(self, task_name: str) -> StageCount:
        stage = RichReporter.stages.setdefault(stage_of(task_name), StageCount())
        if not stage.total:  # a stage of tasks created after the run began
            stage.total = sum(1 for name in _to_run(self._tasks, self._selected)
                              if stage_of(name) == stage_of(task_name)) or 1
        return stage

    def _show(self, task_name: str) -> None:
        if self.progress is None:
            return
        name = stage_of(task_name)
        stage = RichReporter.stages[name]
        if name not in self.rows:
            self.rows[name] = self.progress.add_task(name, total=stage.total or None,
                                                     now="")
        now = stage.running[-1] if stage.running else ""
        self.progress.update(self.rows[name], completed=stage.done, now=now)

    def _finished(self, task_name: str) -> None:
        name = stage_of(task_name)
        stage = RichReporter.stages[name]
        if task_name in stage.running:
            stage.running.remove(task_name)
        if stage.started is None:
            stage.started = time.perf_counter()
        if stage.done >= stage.total:
            stage.ended = time.perf_counter()
        if self.progress is not None:
            self._show(task_name)
        elif stage.done >= stage.total and not stage.reported:
            self._stage_ended(name, stage)

    def _stage_ended(self, name: str, stage: StageCount) -> None:
        stage.reported = True
        if stage.ended is None:
            stage.ended = time.perf_counter()
        if self.mode != "plain":
            return
        parts = [f"{stage.run} run", f"{stage.up_to_date} up to date"]
        if stage.failed:
            parts.append(f"{stage.failed} failed")
        self.console.print(f"{name}: {stage.done}/{stage.total} ({', '.join(parts)}) "
                           f"{stage.wall:.1f} s", markup=False)

    def _stop(self) -> None:
        if self.progress is not None:
            for name, stage in RichReporter.stages.items():
                if name in self.rows:
                    self.progress.update(self.rows[name], completed=stage.done, now="")
            self.progress.stop()
            self.progress = None
