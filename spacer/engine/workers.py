"""doit's process runner (``spacer -j N``, ``doit -n N``), made safe to interrupt.

doit's ``MRunner`` forks its workers with :mod:`multiprocessing`, and Python runs a
signal's handler between any two bytecodes of the main thread. Signalling
``spacer align -j 2`` the moment its first worker appeared (under CPU load) showed
what a ``KeyboardInterrupt`` raised inside multiprocessing's own machinery does:

- raised in an at-fork callback (logging's ``_releaseLock``), it is printed as
  "Exception ignored" and lost: the run goes on, or, since the SIGTERM handler had
  already killed the workers, the main process waits for their results forever;
- raised after ``os.fork()`` but before multiprocessing records the child, nobody
  stops or joins that worker: it waits for its next task forever, and keeps the
  output folder's lock (the next run is refused) and its caller's pipes;
- raised while the first ``Queue.put`` starts the queue's feeder thread, the
  interpreter waits at exit for a thread that never gets its end marker.

And a signal sent to a worker may be taken by its queue's feeder thread: Python then
runs the handler in the main thread, but only once that thread stops waiting for
its next task, which is never.

:class:`InterruptibleRunner` is doit's runner with these changes:

1. While it works, SIGINT, SIGTERM and SIGHUP pass through :func:`_gate`. The first
   one runs the caller's handler (``KeyboardInterrupt``), except while workers are
   being forked: then it is noted, and runs once the workers are recorded. Once the
   run is stopping, more signals change nothing.
2. The queues are ``SimpleQueue``: no feeder threads, so a worker's only thread gets
   the signals, and nothing waits for a thread at exit.
3. Workers are forked with those signals blocked and unblock them once their own
   handler is in place: one that comes early waits for them instead of being lost.
4. A worker told to stop lets the task action it runs unwind (scratch folders,
   programs it started, temporary files are removed), tells the main process, and
   exits at once; between actions it exits at once. It also gets SIGTERM when the
   main process dies.
5. On any exception in the main process every worker is told to stop, then joined:
   no timeout is needed, since each exits promptly.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar

from doit import cmd_run
from doit.runner import MRunner

from spacer.core.errors import INTERRUPTED

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_PR_SET_PDEATHSIG = 1


class _Gate:
    """The main process's view of the stop signals while a runner works."""

    installed = False
    previous: ClassVar[dict[int, object]] = {}  # the caller's handlers
    held = 0  # > 0: note signals, run nothing
    noted: int | None = None  # a signal that came while held
    stopping = False  # the run is stopping (the caller's handler raised, or an error)


def _gate(signum: int, frame: object) -> None:
    if _Gate.held or _Gate.stopping:
        _Gate.noted = _Gate.noted or signum
        return
    _deliver(signum, frame)


def _deliver(signum: int, frame: object) -> None:
    handler = _Gate.previous.get(signum)
    if not callable(handler):
        return
    try:
        handler(signum, frame)
    except BaseException:
        _Gate.stopping = True
        raise


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def _gate_installed() -> Iterator[None]:
    """Route the stop signals through :func:`_gate` for the ``with`` block (main thread
    only; a signal whose action is the default or ignore keeps it)."""
    if _Gate.installed or not _main_thread():
        yield
        return
    _Gate.held += 1  # nothing runs while the handlers change
    _Gate.previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    for sig, handler in _Gate.previous.items():
        if callable(handler):
            signal.signal(sig, _gate)
    _Gate.installed, _Gate.stopping, _Gate.noted = True, False, None
    _Gate.held -= 1
    try:
        yield
    finally:
        _Gate.held += 1
        for sig, handler in _Gate.previous.items():
            if callable(handler):
                signal.signal(sig, handler)
        noted, stopping = _Gate.noted, _Gate.stopping
        _Gate.installed, _Gate.noted, _Gate.held = False, None, _Gate.held - 1
        if noted and not stopping:  # came in the last moments: it still stops the run
            _deliver(noted, None)


@contextmanager
def signals_held(deliver: bool = True) -> Iterator[None]:
    """Hold the stop signals for the ``with`` block: :func:`_gate` only notes them, and
    the kernel blocks them in this thread, so a process forked here starts with them
    blocked. With ``deliver``, the first one noted then runs the caller's handler."""
    if not _Gate.installed:
        yield
        return
    _Gate.held += 1
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # pending ones are noted now
        _Gate.held -= 1
    if _Gate.noted and not _Gate.held and not _Gate.stopping:
        signum, _Gate.noted = _Gate.noted, None
        if deliver:
            _deliver(signum, None)


class _Worker:
    """State of a forked worker (class attributes: one worker per process)."""

    parent = 0  # the main process; 0 in the main process itself
    in_action = False  # running a task action, which cleans up as it unwinds
    stopping = False


def _stop_worker(signum: int, _frame: object) -> None:
    """A worker's handler of the stop signals. The first one is passed on to the main
    process (a worker signalled alone stops the whole run). Inside a task action it
    unwinds the action, once; anywhere else the worker exits at once."""
    first = not _Worker.stopping
    _Worker.stopping = True
    if first and os.getppid() == _Worker.parent:
        os.kill(_Worker.parent, signum)
    if not _Worker.in_action:
        os._exit(INTERRUPTED)
    if first:
        raise KeyboardInterrupt


@contextmanager
def task_action() -> Iterator[None]:
    """Around a task action: in a ``-j`` worker that is told to stop, the action
    unwinds (removing its scratch, stopping the programs it started) and the worker
    then exits here. Elsewhere it changes nothing."""
    if not _Worker.parent:
        yield
        return
    try:
        _Worker.in_action = True
        yield
    finally:
        _Worker.in_action = False
        if _Worker.stopping:
            os._exit(INTERRUPTED)


def _become_worker(parent: int, mask: set) -> None:
    """In a newly forked worker: the process's own output streams (not the main
    process's live display, whose lock a thread of the main process may have held at
    the fork), its own signal handler, death with its parent, then the signals
    unblocked (any that came since the fork run now)."""
    _Worker.parent = parent
    sys.stdout = sys.__stdout__ or sys.stdout
    sys.stderr = sys.__stderr__ or sys.stderr
    for sig in STOP_SIGNALS:
        signal.signal(sig, _stop_worker)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: orphans wait for their next task
        pass
    if os.getppid() != parent:  # the main process died before prctl
        _stop_worker(signal.SIGTERM, None)
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)


class InterruptibleRunner(MRunner):
    """doit's multiprocessing runner, stopped cleanly by SIGINT, SIGTERM or SIGHUP."""

    # No feeder threads: a signal sent to a worker could land in its feeder thread,
    # and then never interrupt the main thread's wait for its next task.
    Queue = staticmethod(multiprocessing.SimpleQueue)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._workers: list = []
        self._parent = os.getpid()
        self._mask: set = set()

    def run_tasks(self, task_dispatcher):
        with _gate_installed():
            try:
                super().run_tasks(task_dispatcher)
            except BaseException:
                # Before any call: a signal can act on entering a function, and a
                # second one must not skip stopping the workers.
                _Gate.stopping = True
                self._stop_workers()
                raise

    def _run_start_processes(self, job_q, result_q):
        self._mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])
        with signals_held():  # every worker is recorded before a signal acts
            self._workers = super()._run_start_processes(job_q, result_q)
        return self._workers

    def _stop_workers(self) -> None:
        """Tell every worker to stop and wait until all are gone; a second Ctrl-C
        meanwhile changes nothing."""
        with signals_held(deliver=False):
            for proc in self._workers:
                proc.terminate()
            for proc in self._workers:
                proc.join()

    def execute_task_subprocess(self, job_q, result_q, reporter_class):
        try:
            _become_worker(self._parent, self._mask)
            super().execute_task_subprocess(job_q, result_q, reporter_class)
        finally:
            if _Worker.stopping:
                # Never wait on doit's queues: the main process stops reading them.
                os._exit(INTERRUPTED)


def install() -> None:
    """Make ``-P process`` (doit's default with ``-n N``) use
    :class:`InterruptibleRunner`: doit picks its runner class by name in ``cmd_run``
    and has no option for it."""
    cmd_run.MRunner = InterruptibleRunner
