"""What every pipeline task shares: one-line failures, the command log, and the
code digest that makes a changed spacer rerun its stages."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

from doit.tools import config_changed

from spacer.tasks.failures import failing_as_one_line


def code_digest() -> str:
    """A digest of spacer's own pipeline code: a spacer that plans or links differently
    reruns every stage (doit cannot see a change of the code behind an action)."""
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parent.parent
    for path in sorted([*root.glob("core/*.py"), *root.glob("tasks/*.py")]):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def versioned(tasks: Iterator[dict]) -> Iterator[dict]:
    """Each task's settings (its ``config``) plus spacer's code digest, in one
    ``config_changed``: doit keeps one value per task for it, so two would undo
    each other and the task would never be up to date."""
    code = code_digest()
    for task in tasks:
        if task.get("actions"):
            task["uptodate"] = [config_changed({"spacer": code, **task.pop("config", {})})]
        yield task


def one_line(fn: Callable) -> Callable:
    """A doit action that fails with one line and its kind's exit status."""
    return failing_as_one_line(fn)


def log_command(line: str) -> None:
    print(f"  $ {line}")
