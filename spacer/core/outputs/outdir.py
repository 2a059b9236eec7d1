"""One run at a time per output folder, and what a killed run left behind.

A run (``spacer align``, ``doit align``) holds an exclusive ``flock`` on
``OUT/.lock`` from start to end. A second run on the same folder is refused at once
with one line that names the holder. ``flock`` locks die with their process, so a run
killed outright (SIGKILL) never leaves a stale lock.

While it holds the lock, a run knows that any scratch in the folder belongs to a dead
run, and removes it before doing anything: relink scratch folders (``.relink-*``),
temporary files of atomic writes (``.<name>.<random>.tmp``) and a doit state file
cut short by a kill during its write (doit then reruns every task, and the tasks
rewrite every output atomically).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from spacer.core.errors import BadInput

LOCK_NAME = ".lock"
SCRATCH_PREFIX = ".relink-"  # spacer.core.stages.relink's scratch folders
STATE_NAME = "doit-state.json"
# fileio.write_bytes_atomic and the compile cache: ".<name>.<8 random>.tmp";
# indirect.py's copies under pic/ (and cache/, for the cached rewrite) have no suffix.
_TEMP = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")
_PIC_TEMP = re.compile(r"\..+\.[a-z0-9_]{8}")


class OutputBusy(BadInput):
    """Another run holds the output folder's lock."""


def make_output_folder(out_dir: Path) -> None:
    """Create ``out_dir`` if missing; :class:`BadInput` with one line when it cannot be
    created or written (a read-only file system or folder), before any work."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        os.close(os.open(out_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o666))
    except OSError as exc:
        raise BadInput(f"cannot write the output folder ({exc.strerror})", out_dir,
                       "give -o a folder you can write") from None


def acquire(out_dir: Path) -> int:
    """Take ``out_dir``'s lock without waiting; the open descriptor holds it (close it,
    or exit, to release). :class:`OutputBusy` when another run holds it."""
    out_dir = Path(out_dir)
    make_output_folder(out_dir)
    fd = os.open(out_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise OutputBusy(f"another spacer run (pid {holder}) is using this output folder",
                         out_dir, "wait until it ends, or give another -o") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    remove_leftovers(out_dir)
    return fd


@contextmanager
def output_lock(out_dir: Path) -> Iterator[None]:
    """Hold ``out_dir``'s lock for the ``with`` block (see :func:`acquire`)."""
    fd = acquire(out_dir)
    try:
        yield
    finally:
        os.close(fd)


def remove_leftovers(out_dir: Path) -> list[Path]:
    """Remove what killed runs left in ``out_dir``; call only while holding its lock.
    Returns what was removed."""
    removed: list[Path] = []
    for path in sorted(Path(out_dir).rglob(".*")):
        if path.is_symlink() or not path.exists():
            continue
        name = path.name
        if path.is_dir() and name.startswith(SCRATCH_PREFIX):
            shutil.rmtree(path, ignore_errors=True)
        elif path.is_file() and (_TEMP.fullmatch(name) or (
                {"pic", "cache"} & set(path.relative_to(out_dir).parts)
                and _PIC_TEMP.fullmatch(name))):
            path.unlink(missing_ok=True)
        else:
            continue
        removed.append(path)
    state = Path(out_dir) / STATE_NAME
    if state.is_file():
        try:
            json.loads(state.read_text())
        except (ValueError, UnicodeDecodeError):
            state.unlink()  # cut short by a kill: doit would refuse to start
            removed.append(state)
    return removed
