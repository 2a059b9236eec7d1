"""Interrupted and concurrent runs: an align stopped by SIGINT, SIGTERM or SIGKILL at a
random point is followed by a run that finishes with the right images and leaves no
scratch; two aligns on one output folder never interleave (the second is refused).

The longer sweep is ``spacer bench interrupt --runs N``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spacer import cli
from spacer.bench import interrupt as bench_interrupt
from spacer.core.errors import BAD_INPUT
from spacer.core.outputs.outdir import STATE_NAME, acquire, output_lock, remove_leftovers
from spacer.core.stages.report import check_report_current

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def three_apps(demo_copy, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_copy(tmp_path_factory.mktemp("interrupt-ws"), ("hello", "hashsum", "kvstore"))


@pytest.mark.slow
def test_interrupted_aligns_are_followed_by_a_correct_run(three_apps: Path, tmp_path: Path):
    """Seven interruptions by each signal, at random points of a real subprocess that
    runs two tasks at a time."""
    result = bench_interrupt.sweep(three_apps, tmp_path, runs=21, seed=11, jobs=2)
    assert result.problems == []
    assert result.wrong_finished == 0
    assert result.runs == 21 and result.survived == result.interrupted >= 15
    print(f"\ninterrupt: {result.interrupted} interrupted runs survived, "
          f"{result.scratch_seen} left scratch, {result.seconds:.1f} s")


def test_leftovers_of_a_killed_run_are_removed_under_the_lock(tmp_path: Path):
    out = tmp_path / "out"
    (out / "apps" / "hello" / ".relink-abc123" / "sub").mkdir(parents=True)
    temp = out / "plan" / ".hello.json.k2j4h5g6.tmp"
    temp.parent.mkdir()
    temp.write_text("{half")
    pic_temp = out / "pic" / "hello" / ".libnolibc.o.a1b2c3d4"
    pic_temp.parent.mkdir(parents=True)
    pic_temp.write_bytes(b"\x7fELF")
    cache = out / "cache" / "compiles"  # a compile, and a table rewrite, cut short
    cache.mkdir(parents=True)
    cache_temps = [cache / ".compile.q1w2e3r4.tmp", cache / ".compile.q1w2e3r4.tmp.z9x8c7v6"]
    for path in cache_temps:
        path.write_bytes(b"\x7fELF")
    (out / STATE_NAME).write_text('{"extract:hello": {"')  # cut short by SIGKILL
    kept = [out / ".keep", out / "apps" / "hello" / "hello_qemu-x86_64", out / "layout.json"]
    for path in kept:
        path.write_text("{}")
    with output_lock(out):
        assert not list(out.rglob(".relink-*")) and not temp.exists()
        assert not pic_temp.exists() and not (out / STATE_NAME).exists()
        assert not any(path.exists() for path in cache_temps)
        assert all(p.exists() for p in kept)
    (out / STATE_NAME).write_text("{}")
    assert remove_leftovers(out) == []  # a whole state file stays


def test_second_run_is_refused_while_one_holds_the_folder(three_apps: Path, tmp_path: Path,
                                                          capsys):
    out = tmp_path / "out"
    with output_lock(out):
        code = cli.main(["align", "-w", str(three_apps), "-o", str(out)])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == BAD_INPUT and len(lines) == 1, err
    assert f"another spacer run (pid {os.getpid()})" in lines[0] and str(out) in lines[0]
    assert sorted(p.name for p in out.iterdir()) == [".lock"]  # nothing else written
    assert cli.main(["align", "-w", str(three_apps), "-o", str(out)]) == 0  # lock released


def test_doit_takes_the_same_lock(three_apps: Path, tmp_path: Path):
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    doit = [sys.executable, "-m", "doit", "-f", str(ROOT / "dodo.py"), "--dir", str(ROOT)]
    fd = acquire(out)
    try:
        busy = subprocess.run([*doit, "align", f"workspace={three_apps}", f"out={out}"],
                              env=env, capture_output=True, text=True, timeout=300)
        listed = subprocess.run([*doit, "list", f"workspace={three_apps}", f"out={out}"],
                                env=env, capture_output=True, text=True, timeout=300)
    finally:
        os.close(fd)
    assert busy.returncode == BAD_INPUT, busy.stderr
    assert busy.stderr.strip().splitlines() == [busy.stderr.strip()]
    assert "another spacer run" in busy.stderr and "Traceback" not in busy.stderr
    assert listed.returncode == 0 and "relink" in listed.stdout  # reading needs no lock
    assert not (out / "layout.json").exists()


@pytest.mark.slow
def test_two_aligns_at_once_never_interleave(three_apps: Path, tmp_path: Path):
    ref, _ = bench_interrupt.reference(three_apps, tmp_path / "reference")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    refused = 0
    for attempt in range(3):
        out = tmp_path / f"out{attempt}"
        procs = []
        for _ in range(2):
            procs.append(subprocess.Popen(bench_interrupt.align_command(three_apps, out),
                                          env=env, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.PIPE, text=True))
            time.sleep(0.1 * attempt)
        results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
        codes = sorted(code for code, _ in results)
        assert codes in ([0, 0], [0, BAD_INPUT]), results
        for code, err in results:
            if code == BAD_INPUT:
                refused += 1
                lines = [ln for ln in err.splitlines() if ln.strip()]
                assert len(lines) == 1 and "another spacer run" in lines[0], err
        assert bench_interrupt.images(out) == ref
        assert bench_interrupt.leftovers(out) == []
        check_report_current(out)  # report and manifest describe these images
    assert refused >= 1, "the runs never overlapped"


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_signal_while_workers_are_forked(three_apps: Path, tmp_path: Path, sig: int):
    """A signal while doit forks its -j workers: every run exits 130 at once, leaves no
    worker behind (one would hold the output folder's lock) and no scratch; outputs
    under their final names are right, and the next run finishes."""
    ref, _ = bench_interrupt.reference(three_apps, tmp_path / "reference", jobs=2)
    for attempt in range(4):
        out = tmp_path / f"out{attempt}"
        code, took, left, err = bench_interrupt.interrupt_at_first_worker(three_apps, out, sig)
        assert left == [], f"workers outlived spacer: {left}"
        assert code == 130 and took < 10, (code, took, err)
        assert err.strip().splitlines()[-1] == "spacer: interrupted"
        assert bench_interrupt.leftovers(out) == []
        assert all(ref[name] == digest for name, digest in bench_interrupt.images(out).items())
    assert subprocess.run(bench_interrupt.align_command(three_apps, out, 2),
                          env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, timeout=300).returncode == 0
    assert bench_interrupt.images(out) == ref


@pytest.mark.parametrize("sig", [signal.SIGTERM])
def test_interrupted_run_exits_130_with_one_line(three_apps: Path, tmp_path: Path, sig: int):
    """A signal during the relinks: status 130, one line, no scratch left behind."""
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([*bench_interrupt.align_command(three_apps, out, 2), "-v"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(out.glob("apps/*")) and time.monotonic() < deadline \
            and proc.poll() is None:
        time.sleep(0.01)
    sent = time.monotonic()
    proc.send_signal(sig)
    code = proc.wait(timeout=120)
    took = time.monotonic() - sent
    err = proc.stderr.read()
    if code == 0:
        pytest.skip("the align ended before the signal")
    assert code == 130 and took < 10, (code, took, err)
    assert err.strip().splitlines()[-1] == "spacer: interrupted"
    assert bench_interrupt.leftovers(out) == []
