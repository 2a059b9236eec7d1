"""KSM settings are always restored, guests never outlive a run, and KSM sees sharing."""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import pytest
from tinyelf import PAGE, multiboot_image

from spacer import bench_memory
from spacer.core import ksm, memory
from spacer.core.errors import BAD_INPUT, BadInput, ExternalFailure, ToolMissing

PAYLOAD_PAGES = 32
FAKE = {
    "ksm/run": "0\n",
    "ksm/sleep_millisecs": "20\n",
    "ksm/pages_to_scan": "100\n",
    "ksm/use_zero_pages": "0\n",
    "ksm/smart_scan": "1\n",
    "ksm/advisor_mode": "[none] scan-time\n",
    "ksm/merge_across_nodes": "1\n",
    "ksm/pages_shared": "0\n",
    "ksm/pages_sharing": "0\n",
    "ksm/full_scans": "0\n",
    "transparent_hugepage/enabled": "always [madvise] never\n",
}

needs_qemu = pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None,
                                reason="qemu-system-x86_64 not installed")


@pytest.fixture
def sysfs(tmp_path: Path) -> Path:
    root = tmp_path / "sysfs"
    for name, value in FAKE.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(value)
    return root


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two bootable images that differ in PAYLOAD_PAGES pages, and nothing else."""
    d = tmp_path_factory.mktemp("tiny")
    return {name: multiboot_image(d, name, random.Random(seed).randbytes(PAYLOAD_PAGES * PAGE))
            for name, seed in (("a", 1), ("b", 2))}


def real_ksm_or_skip() -> None:
    try:
        ksm.check_ksm()
    except (BadInput, ToolMissing) as exc:
        print(f"skipped: {exc}")
        pytest.skip(f"KSM not usable here: {exc}")


def gone(pid: int) -> bool:
    return not os.path.exists(f"/proc/{pid}")


# --- settings ---------------------------------------------------------------

def test_selected_value_is_the_bracketed_one() -> None:
    assert ksm.selected("always [madvise] never\n") == "madvise"
    assert ksm.selected("never") == "never"


def test_session_switches_ksm_on_and_restores_everything(sysfs: Path) -> None:
    before = ksm.snapshot(sysfs)
    with ksm.ksm_session(sysfs) as session:
        assert ksm.read_setting(ksm.RUN, sysfs) == "1"
        assert ksm.thp_mode(sysfs) == "never"
        assert int(ksm.read_setting(ksm.PAGES_TO_SCAN, sysfs)) > 100
        assert set(session.saved) <= set(before)
    assert ksm.snapshot(sysfs) == before
    for name in ("ksm/run", "ksm/sleep_millisecs", "ksm/pages_to_scan", "ksm/smart_scan"):
        assert (sysfs / name).read_text() == FAKE[name]
    assert (sysfs / "ksm/merge_across_nodes").read_text() == FAKE["ksm/merge_across_nodes"]


@pytest.mark.parametrize("exc", [KeyboardInterrupt, RuntimeError])
def test_session_restores_after_interrupt_or_error(sysfs: Path, exc: type) -> None:
    before = ksm.snapshot(sysfs)
    with pytest.raises(exc), ksm.ksm_session(sysfs):
        raise exc()
    assert ksm.snapshot(sysfs) == before


def test_interrupt_while_switching_on_restores_what_was_changed(
        sysfs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = ksm.snapshot(sysfs)
    real_write = ksm.write_setting
    calls = []

    def flaky(name: str, value: str, root: Path = ksm.DEFAULT_ROOT) -> None:
        calls.append(name)
        if len(calls) == 3:
            raise KeyboardInterrupt
        real_write(name, value, root)

    monkeypatch.setattr(ksm, "write_setting", flaky)
    with pytest.raises(KeyboardInterrupt), ksm.ksm_session(sysfs):
        pytest.fail("the body must not run")
    assert ksm.snapshot(sysfs) == before


def test_missing_or_unwritable_ksm_is_one_line(sysfs: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ToolMissing) as err:
        ksm.check_ksm(tmp_path / "nothing")
    assert "\n" not in str(err.value)
    monkeypatch.setattr(ksm.os, "access", lambda *_a: False)
    with pytest.raises(BadInput, match="root"), ksm.ksm_session(sysfs):
        pass
    monkeypatch.undo()
    assert ksm.read_setting(ksm.RUN, sysfs) == "0"


def test_wait_stable_needs_quiet_full_scans(monkeypatch: pytest.MonkeyPatch, sysfs: Path) -> None:
    # (full_scans, pages_sharing) as successive reads: merging goes on until scan 3.
    script = iter([(0, 0), (1, 5), (2, 9), (3, 9), (4, 9), (5, 9), (6, 9), (7, 9)])

    def counters(_root: Path) -> ksm.Counters:
        scans, sharing = next(script)
        return ksm.Counters(1, sharing, scans)

    monkeypatch.setattr(ksm, "read_counters", counters)
    waited = ksm.wait_stable(sysfs, scans=3, poll=0, min_seconds=0)
    assert waited.stable and waited.counters.full_scans == 5 and waited.scans == 5
    # Never quiet: the timeout ends the wait, flagged as not stable.
    busy = iter(range(10**9))
    monkeypatch.setattr(ksm, "read_counters",
                        lambda _root: ksm.Counters(1, (n := next(busy)), n))
    assert not ksm.wait_stable(sysfs, timeout=0.2, poll=0.01, min_seconds=0).stable


# --- guests -----------------------------------------------------------------

def test_guest_argv_keeps_guests_resident(tiny: dict[str, Path]) -> None:
    argv = memory.guest_argv(tiny["a"])
    assert "-no-reboot" not in argv
    assert not any(a.startswith("isa-debug-exit") for a in argv)
    assert argv[argv.index("-action") + 1] == "reboot=shutdown,shutdown=pause"


@needs_qemu
def test_guests_stay_resident_after_printing_and_are_stopped(tiny: dict[str, Path]) -> None:
    with memory.running_guests([tiny["a"], tiny["b"]]) as guests:
        pids = [g.proc.pid for g in guests]
        assert all(g.proc.poll() is None for g in guests)
        assert all(b"tiny: up" in g.output() for g in guests)
        # The payload was loaded into guest RAM, so at least that much is resident.
        assert all(memory.mergeable_resident_pages(pid) >= PAYLOAD_PAGES for pid in pids)
    assert all(g.proc.returncode is not None for g in guests)
    assert all(gone(pid) for pid in pids)


@needs_qemu
def test_interrupted_measurement_stops_guests_and_restores_settings(
        sysfs: Path, tiny: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    before = ksm.snapshot(sysfs)
    seen: list[int] = []

    def interrupt(self: ksm.Session, **_kw: object) -> ksm.Wait:
        seen.extend(p.pid for p in _children())
        raise KeyboardInterrupt

    monkeypatch.setattr(ksm.Session, "wait_stable", interrupt)
    with pytest.raises(KeyboardInterrupt), ksm.ksm_session(sysfs) as session:
        memory.measure_set(session, [tiny["a"]], 2, "original")
    assert len(seen) == 2
    assert all(gone(pid) for pid in seen)
    assert ksm.snapshot(sysfs) == before


def _children(parent: int | None = None) -> list:
    """Our QEMU children (or ``parent``'s), found through /proc (no shell)."""
    class P:
        def __init__(self, pid: int):
            self.pid = pid

    me = str(parent or os.getpid())
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = stat.rsplit(")", 1)[1].split()[1]
        if ppid == me and b"qemu-system" in cmd:
            out.append(P(int(entry.name)))
    return out


@needs_qemu
def test_bench_command_with_fake_sysfs(tmp_path: Path, sysfs: Path, tiny: dict[str, Path],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    entry = {s: {"image": str(tiny["a"]), "debug": str(tiny["a"])} for s in memory.SETS}
    other = {s: {"image": str(tiny["b"]), "debug": str(tiny["b"])} for s in memory.SETS}
    (out / "manifest.json").write_text(json.dumps({"apps": {"a": entry, "b": other}}))
    before = ksm.snapshot(sysfs)
    rc = bench_memory.main(["memory", "-w", str(tmp_path), "-o", str(out), "--instances", "1",
                            "--json", "--sysfs", str(sysfs), "--timeout", "0.2"])
    assert rc == 0
    data = json.loads(capsys.readouterr().out)
    assert [m["guests"] for m in data["original"]] == [2]
    assert data["predicted_pages"]["original"] == data["predicted_pages"]["aligned"]
    assert ksm.snapshot(sysfs) == before
    assert not _children()

    rc = bench_memory.main(["memory", "-w", str(tmp_path), "-o", str(out), "--apps", "zzz",
                            "--sysfs", str(sysfs)])
    err = capsys.readouterr().err
    assert rc == BAD_INPUT and "zzz" in err and len(err.strip().splitlines()) == 1


# --- real KSM ----------------------------------------------------------------

@needs_qemu
def test_identical_pair_needs_fewer_frames_than_different_pair(tiny: dict[str, Path]) -> None:
    real_ksm_or_skip()
    before = ksm.snapshot()
    with ksm.ksm_session() as session:
        same = memory.measure_set(session, [tiny["a"], tiny["a"]], 1, "same")
        diff = memory.measure_set(session, [tiny["a"], tiny["b"]], 1, "different")
    assert ksm.snapshot() == before
    print(f"frames: identical pair {same.frames}, different pair {diff.frames}, "
          f"KSM wait {same.ksm_seconds} s / {diff.ksm_seconds} s")
    assert same.stable and diff.stable
    # b's payload cannot merge with a's: about PAYLOAD_PAGES more frames.
    assert diff.frames - same.frames >= PAYLOAD_PAGES * 3 // 4
    assert not _children()


@needs_qemu
def test_aligned_demo_pair_uses_fewer_frames(demo_workspace: Path, tmp_path: Path) -> None:
    real_ksm_or_skip()
    from spacer.tasks.config import Settings
    from spacer.tasks.loader import run_tasks

    out = tmp_path / "out"
    settings = Settings(workspace=demo_workspace, out=out, demo=False, apps=("kvstore", "counter"))
    code, _, failures = run_tasks(settings, ["align"])
    assert code == 0, failures
    before = ksm.snapshot()
    with ksm.ksm_session() as session:
        result = memory.measure_fleet(session, memory.load_manifest(out / "manifest.json"), [2])
    assert ksm.snapshot() == before
    (orig,), (ali,) = result.original, result.aligned
    print(f"demo frames (kvstore + counter, 2 instances each): original {orig.frames}, "
          f"aligned {ali.frames}")
    assert ali.frames < orig.frames
    assert result.predicted_pages("aligned") < result.predicted_pages("original")
    assert not _children()


# --- guests never outlive spacer, and are started safely ---------------------------

def test_guests_are_started_without_python_code_in_the_child(
        tiny: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Forking while rich's refresh thread runs and then running Python in the child
    (``preexec_fn``) can deadlock: the parent-death signal is set by setpriv instead."""
    seen: list[tuple[list[str], dict]] = []

    class Recording:
        def __init__(self, argv: list[str], **kw: object):
            seen.append((argv, kw))
            raise KeyboardInterrupt  # stop right here: nothing to clean up

    monkeypatch.setattr(memory.subprocess, "Popen", Recording)
    with pytest.raises(KeyboardInterrupt), memory.running_guests([tiny["a"]]):
        pass
    (argv, kw), = seen
    assert kw.get("preexec_fn") is None
    assert Path(argv[0]).name == "setpriv"
    assert argv[1:3] == ["--pdeathsig", "KILL"]
    assert "qemu-system-x86_64" in Path(argv[argv.index("--") + 1]).name


@needs_qemu
def test_failure_to_set_the_parent_death_signal_is_not_swallowed(
        tiny: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "setpriv"
    fake.write_text("#!/bin/sh\necho 'setpriv: prctl failed: Operation not permitted' >&2\n"
                    "exit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(memory, "SETPRIV", str(fake))
    with pytest.raises(ExternalFailure, match="prctl failed"), \
            memory.running_guests([tiny["a"]], boot_timeout=10):
        pass
    assert not _children()


@needs_qemu
@pytest.mark.parametrize("how", ["SIGKILL", "SIGHUP", "SIGTERM"])
def test_guests_die_with_spacer(tiny: dict[str, Path], tmp_path: Path, how: str) -> None:
    """Killed outright (SIGKILL), the kernel stops the guests; on SIGHUP and SIGTERM
    spacer stops them itself and restores the KSM settings, like on Ctrl-C."""
    import signal
    import subprocess
    import sys
    import time

    root = tmp_path / "sysfs"
    for name, value in FAKE.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(value)
    before = ksm.snapshot(root)
    out = tmp_path / "out"
    out.mkdir()
    entry = {s: {"image": str(tiny["a"]), "debug": str(tiny["a"])} for s in memory.SETS}
    (out / "manifest.json").write_text(json.dumps({"apps": {"a": entry, "b": entry}}))
    env = {**os.environ, "PYTHONPATH": str(Path(memory.__file__).parents[2])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "spacer.bench_memory", "memory", "-w", str(tmp_path), "-o",
         str(out), "--instances", "1", "--sysfs", str(root), "--timeout", "60"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        guests: list[int] = []
        while len(guests) < 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            guests = [c.pid for c in _children(proc.pid)]
        assert len(guests) == 2, proc.stderr.read() if proc.poll() is not None else "no guests"
        time.sleep(0.5)
        proc.send_signal(getattr(signal, how))
        rc = proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    deadline = time.monotonic() + 10
    while not all(gone(pid) for pid in guests) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(gone(pid) for pid in guests)
    if how != "SIGKILL":
        assert rc == 130
        assert ksm.snapshot(root) == before


def test_plot_hint_names_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails
    with pytest.raises(ToolMissing) as info:
        bench_memory._matplotlib()
    line = str(info.value)
    assert "matplotlib" in line and "spacer[plot]" not in line.replace("-e '.[plot]'", "")
