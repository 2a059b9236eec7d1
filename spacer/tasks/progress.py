"""How task runs look on the terminal: one line per task that runs. Failures are
recorded, not printed: the ``spacer`` command prints the first one, once."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import ClassVar

from doit.exceptions import DependencyError
from rich.console import Console
from rich.markup import escape

from spacer.core.errors import BAD_INPUT, INTERNAL


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


class RichReporter:
    """A doit reporter (same hooks as doit's ConsoleReporter), printing with rich.

    It records the tasks it saw run, so callers and tests can tell what a run did.
    """

    desc = "spacer progress"
    executed: ClassVar[list[str]] = []
    failures: ClassVar[list[Failure]] = []

    def __init__(self, outstream, options):
        self.console = Console(file=sys.stderr, highlight=False, soft_wrap=True)
        self.started: dict[str, float] = {}
        self.skipped = 0
        RichReporter.executed = []
        RichReporter.failures = []

    def initialize(self, tasks, selected_tasks):
        pass

    def get_status(self, task):
        pass

    def execute_task(self, task):
        if task.actions and not task.name.startswith("_"):
            RichReporter.executed.append(task.name)
            self.started[task.name] = time.perf_counter()

    def add_success(self, task):
        if task.name in self.started:
            took = time.perf_counter() - self.started[task.name]
            self.console.print(f"[green]✓[/] {escape(task.name)} [dim]{took:.2f}s[/]")

    def add_failure(self, task, fail):
        RichReporter.failures.append(_failure(task.name, fail))

    def skip_uptodate(self, task):
        self.skipped += 1

    def skip_ignore(self, task):
        pass

    def cleanup_error(self, exception):
        self.console.print(f"[red]cleanup failed:[/] {escape(exception.get_msg().strip())}")

    def runtime_error(self, msg):
        lines = msg.strip().splitlines()
        RichReporter.failures.append(Failure(lines[-1] if lines else "doit failed", INTERNAL,
                                             msg))

    def teardown_task(self, task):
        pass

    def complete_run(self):
        ran = len(RichReporter.executed)
        self.console.print(f"[dim]{ran} task(s) run, {self.skipped} up to date[/]")
