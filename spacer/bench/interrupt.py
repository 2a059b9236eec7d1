"""``spacer bench interrupt``: ``spacer align`` stopped at random points, then run again.

Each run starts ``python3 -m spacer.cli align`` on a fresh output folder, sends it
SIGINT, SIGTERM or SIGKILL after a random delay (once or twice in a row), then runs it
to the end. What must hold:

- after an interruption, every aligned image that exists under its final name is the
  right one (byte-identical to an uninterrupted reference run): nothing that looks
  finished is half made;
- the run after it finishes, with images byte-identical to the reference;
- no scratch is left: no ``.relink-*`` folder, no temporary file, nothing hidden in
  the output folder but its ``.lock``.

SIGKILL goes to the whole process group (as ``kill -9`` of a job, so no linker
outlives spacer); SIGINT and SIGTERM go to spacer alone, which stops its children.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from spacer.core.errors import INTERNAL, BadInput
from spacer.core.formats.manifest import read_manifest
from spacer.core.formats.report import read_report

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGKILL)


@dataclass
class SweepResult:
    runs: int = 0
    interrupted: int = 0  # signals that landed before the run ended
    finished_first: int = 0  # runs that ended before their signal was sent
    survived: int = 0  # interrupted runs whose next run finished with the right images
    wrong_finished: int = 0  # outputs under their final name, but not the right bytes
    scratch_seen: int = 0  # interrupted runs that left scratch for the next run to remove
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)


def _env() -> dict[str, str]:
    root = str(Path(__file__).resolve().parents[2])  # the folder that holds spacer/
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    # A run that does not stop is sent SIGABRT: Python then prints where it waited.
    env["PYTHONFAULTHANDLER"] = "1"
    return env


def align_command(ws: Path, out: Path, jobs: int | None = None) -> list[str]:
    """``spacer align`` of ``ws`` into ``out``, with ``-j jobs`` if given."""
    return [sys.executable, "-m", "spacer.cli", "align", "-w", str(ws), "-o", str(out),
            *(["-j", str(jobs)] if jobs else [])]


def images(out: Path) -> dict[str, str]:
    """Digest of every aligned image (bootable and debug) under its final name."""
    found = {}
    for path in sorted(out.glob("apps/*/*_qemu-x86_64*")):
        if path.suffix in ("", ".dbg") and not path.name.startswith("."):
            found[str(path.relative_to(out))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def leftovers(out: Path) -> list[str]:
    """Anything hidden in ``out`` but its lock: scratch folders and temporary files."""
    return sorted(str(p.relative_to(out)) for p in out.rglob(".*") if p.name != ".lock")


def _run(ws: Path, out: Path, timeout: float = 600,
         jobs: int | None = None) -> tuple[int, str]:
    proc = subprocess.run(align_command(ws, out, jobs), env=_env(), stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, timeout=timeout, check=False)
    return proc.returncode, proc.stderr


def reference(ws: Path, out: Path, jobs: int | None = None) -> tuple[dict[str, str], float]:
    """Images of an uninterrupted run, and how long such a run takes: the faster of two
    (the first pays for cold caches, and signals drawn up to its time would often come
    after the runs that follow had ended)."""
    times = []
    for folder in (out, out.with_name(out.name + "-again")):
        start = time.perf_counter()
        code, err = _run(ws, folder, jobs=jobs)
        times.append(time.perf_counter() - start)
        if code != 0:
            raise RuntimeError(f"the reference align failed ({code}): {err.strip()[-500:]}")
    return images(out), min(times)


def _interrupt_once(ws: Path, out: Path, sig: int, delay: float,
                    jobs: int | None = None) -> bool:
    """Start an align, send ``sig`` after ``delay`` s; True if it was still running."""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(align_command(ws, out, jobs), env=_env(),
                                stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        try:
            proc.wait(timeout=delay)
            return False
        except subprocess.TimeoutExpired:
            pass
        if sig == signal.SIGKILL:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            members = group_members(proc.pid)
            proc.send_signal(signal.SIGABRT)  # its tracebacks, where it waits
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            err.seek(0)
            where = err.read().decode(errors="replace")[-4000:]
            raise RuntimeError(f"align did not stop within 120 s of "
                               f"{signal.Signals(sig).name} after {delay:.2f} s; processes "
                               f"{members}; its stderr:\n{where}") from None
    return True


def group_members(pgid: int) -> list[str]:
    """The live processes (not zombies) of process group ``pgid``: "pid command"."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name, rest = text[text.index("(") + 1:text.rindex(")")], text[text.rindex(")") + 2:]
        fields = rest.split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(f"{stat.parent.name} {name}")
    return sorted(found)


def interrupt_at_first_worker(ws: Path, out: Path, sig: int, jobs: int = 2,
                              timeout: float = 60) -> tuple[int | None, float, list[str], str]:
    """Start an align with ``-j jobs`` and send ``sig`` to spacer the moment its first
    worker process exists, while doit forks the others: where a signal used to break
    multiprocessing's bookkeeping (see :mod:`spacer.engine.workers`). Returns the exit
    status (None if it did not end within ``timeout`` s), the seconds from the signal
    to the exit, the processes its group still held after it, and its stderr."""
    proc = subprocess.Popen(align_command(ws, out, jobs), env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    while proc.poll() is None:
        try:
            if children.read_text().split():
                break
        except OSError:
            break
    start = time.perf_counter()
    proc.send_signal(sig)  # nothing if it has ended
    err = ""
    try:  # reading stderr as it comes: a full pipe would block the child
        err = proc.communicate(timeout=timeout)[1]
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        code = None
    took = time.perf_counter() - start
    time.sleep(0.2)  # a worker that outlived it would still be there
    left = group_members(proc.pid)
    if code is None or left:
        os.killpg(proc.pid, signal.SIGKILL)
        err += proc.communicate()[1] or ""
    return code, took, left, err


def _looks_finished_but_wrong(out: Path, ref: dict[str, str]) -> list[str]:
    wrong = [name for name, digest in images(out).items() if ref.get(name) != digest]
    for name, read in (("report.json", read_report), ("manifest.json", read_manifest)):
        try:
            if (out / name).exists():
                read(out / name)
        except BadInput:
            wrong.append(name)
    return wrong


def sweep(ws: Path, root: Path, runs: int, seed: int = 0,
          signals: tuple[int, ...] = SIGNALS, jobs: int | None = None) -> SweepResult:
    """``runs`` interrupted aligns of workspace ``ws``, output folders under ``root``,
    with ``-j jobs`` (default: spacer's)."""
    rng = random.Random(seed)
    result = SweepResult()
    start = time.perf_counter()
    ref, took = reference(ws, root / "reference", jobs)
    for i in range(runs):
        sig = signals[i % len(signals)]
        out = root / f"run{i}"
        landed = False
        for _ in range(rng.choice((1, 1, 2))):  # sometimes twice before a clean run
            delay = rng.uniform(0.05, took)
            landed |= _interrupt_once(ws, out, sig, delay, jobs)
            wrong = _looks_finished_but_wrong(out, ref)
            if wrong:
                result.wrong_finished += len(wrong)
                result.problems.append(f"run {i} ({signal.Signals(sig).name} after {delay:.2f} "
                                       f"s): looks finished but is wrong: {wrong}")
        result.runs += 1
        result.interrupted += landed
        result.finished_first += not landed
        result.scratch_seen += bool(leftovers(out)) if out.is_dir() else 0
        code, err = _run(ws, out, jobs=jobs)
        left = leftovers(out)
        got = images(out)
        if code != 0:
            result.problems.append(f"run {i} ({signal.Signals(sig).name}): the next align "
                                   f"failed ({code}): {err.strip().splitlines()[-1:]}")
        elif got != ref:
            result.problems.append(f"run {i} ({signal.Signals(sig).name}): images differ from "
                                   f"the reference: {sorted(set(got.items()) ^ set(ref.items()))}")
        elif left:
            result.problems.append(f"run {i} ({signal.Signals(sig).name}): left behind {left}")
        elif landed:
            result.survived += 1
        shutil.rmtree(out, ignore_errors=True)
    result.seconds = time.perf_counter() - start
    return result




def run(ns: argparse.Namespace) -> int:
    from rich.console import Console

    out = Console(highlight=False, soft_wrap=True)
    with tempfile.TemporaryDirectory(prefix="spacer-interrupt-") as tmp:
        ws = ns.workspace
        if ws is None:
            from spacer.demo.apps import DEMO_APPS
            from spacer.demo.build import build_fleet

            ws = build_fleet(Path(tmp) / "ws", [a for a in DEMO_APPS
                                                if a.name in ("hello", "hashsum", "kvstore")])
        result = sweep(Path(ws), Path(tmp), ns.runs, ns.seed, jobs=ns.jobs)
    out.print(f"{result.runs} runs in {result.seconds:.1f} s (seed {ns.seed}): "
              f"{result.interrupted} interrupted, {result.survived} of them followed by a "
              f"correct run, {result.finished_first} ended before the signal, "
              f"{result.scratch_seen} left scratch that the next run removed; "
              f"{result.wrong_finished} outputs looked finished but were wrong", markup=False)
    for problem in result.problems:
        out.print(f"  {problem}", markup=False)
    return INTERNAL if result.problems else 0
