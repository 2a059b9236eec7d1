"""How a task's failure reaches doit: one line, and the exit status of its kind.

A :class:`SpacerError` becomes a ``TaskFailed`` with its one line; any other
exception is a bug in spacer and becomes a ``TaskError`` with a one-line summary
(what, and where) that keeps the traceback for ``-v``. Both carry ``exit_code``
(see :mod:`spacer.core.errors`), which the ``spacer`` command exits with.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from doit.exceptions import TaskError, TaskFailed

from spacer.core.errors import INTERNAL, SpacerError, internal_error_line
from spacer.engine.workers import task_action


class OneLine:
    """A doit action calling ``fn`` that reports failures as described above. A class,
    not a closure, so that doit can pickle it for a ``-j`` worker (tasks created after
    the workers started, like the demo's pipeline after its fleet, travel pickled)."""

    def __init__(self, fn: Callable[..., object]):
        self.fn = fn
        functools.update_wrapper(self, fn)

    def __call__(self, *args):
        try:
            with task_action():
                result = self.fn(*args)
        except SpacerError as err:
            fail = TaskFailed(err.line())
            fail.exit_code = err.exit_code
            return fail
        except Exception as exc:
            fail = TaskError(internal_error_line(exc), exc)
            fail.exit_code = INTERNAL
            return fail
        # A dict is what doit saves as the task's values (calc_dep reads them).
        return result if isinstance(result, dict) else None


def failing_as_one_line(fn: Callable[..., object]) -> Callable[..., object]:
    """A doit action calling ``fn`` that reports failures as described above."""
    return OneLine(fn)
