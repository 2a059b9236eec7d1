"""How task runs look on the terminal: one line per task that runs, one line per failure."""

from __future__ import annotations

import sys
import time
from typing import ClassVar

from rich.console import Console


class RichReporter:
    """A doit reporter (same hooks as doit's ConsoleReporter), printing with rich.

    It records the tasks it saw run, so callers and tests can tell what a run did.
    """

    desc = "spacer progress"
    executed: ClassVar[list[str]] = []
    failures: ClassVar[list[str]] = []

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
            self.console.print(f"[green]✓[/] {task.name} [dim]{took:.2f}s[/]")

    def add_failure(self, task, fail):
        message = (getattr(fail, "message", "") or fail.get_msg()).strip().splitlines()
        line = message[-1] if message else "failed"
        RichReporter.failures.append(f"{task.name}: {line}")
        self.console.print(f"[red]✗ {task.name}[/]: {line}")

    def skip_uptodate(self, task):
        self.skipped += 1

    def skip_ignore(self, task):
        pass

    def cleanup_error(self, exception):
        self.console.print(f"[red]cleanup failed:[/] {exception.get_msg().strip()}")

    def runtime_error(self, msg):
        RichReporter.failures.append(msg.strip().splitlines()[-1] if msg.strip() else msg)
        self.console.print(f"[red]error:[/] {msg.strip()}")

    def teardown_task(self, task):
        pass

    def complete_run(self):
        ran = len(RichReporter.executed)
        self.console.print(f"[dim]{ran} task(s) run, {self.skipped} up to date[/]")
