"""KSM settings are always restored, guests never outlive a run, and KSM sees sharing."""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import pytest
from tinyelf import PAGE, multiboot_image

from spacer.bench import memory as bench_memory
from spacer.core.errors import BAD_INPUT, BadInput, ExternalFailure, ToolMissing
from spacer.core.formats.manifest import ImageFiles, Manifest, ManifestEntry
from spacer.measure import fleet, frames, ksm
from spacer.measure import guests as guest_mod

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
    """Three bootable images that differ in PAYLOAD_PAGES pages, and nothing else."""
    d = tmp_path_factory.mktemp("tiny")
    return {name: multiboot_image(d, name, random.Random(seed).randbytes(PAYLOAD_PAGES * PAGE))
            for name, seed in (("a", 1), ("b", 2), ("c", 3))}


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


def test_session_maps_empty_pages_to_the_zero_page_only_when_asked(sysfs: Path) -> None:
    with ksm.ksm_session(sysfs):
        assert ksm.read_setting(ksm.USE_ZERO_PAGES, sysfs) == "0"
    with ksm.ksm_session(sysfs, zero_pages=True):
        assert ksm.read_setting(ksm.USE_ZERO_PAGES, sysfs) == "1"
    assert (sysfs / ksm.USE_ZERO_PAGES).read_text() == FAKE[ksm.USE_ZERO_PAGES]


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
    argv = guest_mod.guest_argv(tiny["a"])
    assert "-no-reboot" not in argv
    assert not any(a.startswith("isa-debug-exit") for a in argv)
    assert argv[argv.index("-action") + 1] == "reboot=shutdown,shutdown=pause"


@pytest.mark.boot
@pytest.mark.slow
@needs_qemu
def test_guests_stay_resident_after_printing_and_are_stopped(tiny: dict[str, Path]) -> None:
    with guest_mod.running_guests([tiny["a"], tiny["b"]]) as guests:
        pids = [g.proc.pid for g in guests]
        assert all(g.proc.poll() is None for g in guests)
        assert all(b"tiny: up" in g.output() for g in guests)
        # The payload was loaded into guest RAM, so at least that much is resident.
        assert all(frames.mergeable_resident_pages(pid) >= PAYLOAD_PAGES for pid in pids)
    assert all(g.proc.returncode is not None for g in guests)
    assert all(gone(pid) for pid in pids)


@pytest.mark.boot
@pytest.mark.slow
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
        fleet.measure_set(session, [tiny["a"]], 2, "original")
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


@pytest.mark.boot
@pytest.mark.slow
@needs_qemu
def test_bench_command_with_fake_sysfs(tmp_path: Path, sysfs: Path, tiny: dict[str, Path],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    _manifest(out, {"a": tiny["a"], "b": tiny["b"]})
    before = ksm.snapshot(sysfs)
    rc = bench_memory.main(["memory", "-w", str(tmp_path), "-o", str(out), "--instances", "1",
                            "--json", "--sysfs", str(sysfs), "--timeout", "0.2"])
    assert rc == 0
    data = json.loads(capsys.readouterr().out)
    assert data["version"] == fleet.JSON_VERSION and data["x"] == "instances"
    assert [p["original"]["guests"] for p in data["points"]] == [2]
    (point,) = data["points"]
    assert point["original"]["predicted_pages"] == point["aligned"]["predicted_pages"] > 0
    assert ksm.snapshot(sysfs) == before
    assert not _children()

    rc = bench_memory.main(["memory", "-w", str(tmp_path), "-o", str(out), "--apps", "zzz",
                            "--sysfs", str(sysfs)])
    err = capsys.readouterr().err
    assert rc == BAD_INPUT and "zzz" in err and len(err.strip().splitlines()) == 1


# --- real KSM ----------------------------------------------------------------

@pytest.mark.boot
@pytest.mark.slow
@needs_qemu
def test_identical_pair_needs_fewer_frames_than_different_pair(tiny: dict[str, Path]) -> None:
    real_ksm_or_skip()
    before = ksm.snapshot()
    with ksm.ksm_session() as session:
        same = fleet.measure_set(session, [tiny["a"], tiny["a"]], 1, "same")
        diff = fleet.measure_set(session, [tiny["a"], tiny["b"]], 1, "different")
    assert ksm.snapshot() == before
    print(f"frames: identical pair {same.frames}, different pair {diff.frames}, "
          f"KSM wait {same.ksm_seconds} s / {diff.ksm_seconds} s")
    assert same.stable and diff.stable
    # b's payload cannot merge with a's: about PAYLOAD_PAGES more frames.
    assert diff.frames - same.frames >= PAYLOAD_PAGES * 3 // 4
    assert not _children()
    # The split finds the payload where it went: shared by the identical pair, one copy
    # per guest in the different pair; the runtime part is about the same.
    for m in (same, diff):
        assert m.method == "pagemap" and m.split.frames == m.frames
        assert m.split.runtime_written is not None  # the guests' RAM was found
    print(f"split: identical {same.split}, different {diff.split}")
    assert same.split.image_shared >= PAYLOAD_PAGES * 3 // 4
    assert diff.split.image_private >= 2 * PAYLOAD_PAGES * 3 // 4
    assert diff.split.image_shared < PAYLOAD_PAGES // 4
    assert abs(same.split.runtime - diff.split.runtime) < PAYLOAD_PAGES // 2


@pytest.mark.boot
@pytest.mark.slow
@needs_qemu
def test_aligned_demo_sweep_uses_fewer_frames(demo_workspace: Path, tmp_path: Path) -> None:
    """A sweep over 2 then 3 demo apps (2 guests each), with real KSM: aligned needs
    fewer frames at each point, because the guests' image pages need fewer frames."""
    real_ksm_or_skip()
    from spacer.run.loader import run_tasks
    from spacer.run.settings import Settings

    out = tmp_path / "out"
    settings = Settings(workspace=demo_workspace, out=out, demo=False,
                        apps=("kvstore", "counter", "sched"))
    code, _, failures = run_tasks(settings, ["align"])
    assert code == 0, failures
    before = ksm.snapshot()
    with ksm.ksm_session() as session:
        result = fleet.measure_sweep(session, fleet.load_manifest(out / "manifest.json"),
                                      [2, 3], instances=2)
    assert ksm.snapshot() == before
    assert not _children()
    assert result.x == "apps" and [p.apps for p in result.points] == [2, 3]
    for point in result.points:
        orig, ali = point.original, point.aligned
        print(f"demo frames ({point.apps} apps, 2 instances each): original {orig.frames} "
              f"{orig.split}, aligned {ali.frames} {ali.split}")
        assert orig.guests == ali.guests == 2 * point.apps
        assert ali.frames < orig.frames
        assert ali.predicted_pages < orig.predicted_pages
        for m in (orig, ali):
            assert m.split.frames == m.frames
        # The saving is in the image pages; runtime memory is what no layout changes.
        image = {m.label: m.split.image_shared + m.split.image_private for m in (orig, ali)}
        assert image["aligned"] < image["original"]
    for label in guest_mod.SETS:
        two, three = (p.of(label).frames for p in result.points)
        assert three > two


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

    monkeypatch.setattr(guest_mod.subprocess, "Popen", Recording)
    with pytest.raises(KeyboardInterrupt), guest_mod.running_guests([tiny["a"]]):
        pass
    (argv, kw), = seen
    assert kw.get("preexec_fn") is None
    assert Path(argv[0]).name == "setpriv"
    assert argv[1:3] == ["--pdeathsig", "KILL"]
    assert "qemu-system-x86_64" in Path(argv[argv.index("--") + 1]).name


@pytest.mark.boot
@pytest.mark.slow
@needs_qemu
def test_failure_to_set_the_parent_death_signal_is_not_swallowed(
        tiny: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "setpriv"
    fake.write_text("#!/bin/sh\necho 'setpriv: prctl failed: Operation not permitted' >&2\n"
                    "exit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(guest_mod, "SETPRIV", str(fake))
    with pytest.raises(ExternalFailure, match="prctl failed"), \
            guest_mod.running_guests([tiny["a"]], boot_timeout=10):
        pass
    assert not _children()


@pytest.mark.boot
@pytest.mark.slow
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
    _manifest(out, {"a": tiny["a"], "b": tiny["a"]})
    env = {**os.environ, "PYTHONPATH": str(Path(fleet.__file__).parents[2])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "spacer.bench.memory", "memory", "-w", str(tmp_path), "-o",
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


# --- the split of the frames, and the sweep over apps --------------------------------

def test_split_sorts_frames_by_content_and_by_who_maps_them() -> None:
    img_a, img_b = frozenset({b"A1", b"A2", b"S"}), frozenset({b"B1", b"S"})
    zero = frames.ZERO_DIGEST
    owners = {1: {0, 1},  # S: a page of both images, merged: image, shared
              2: {0},  # A1: guest 0's own image page
              3: {1},  # B1
              4: {1},  # A2 held by guest 1, whose image lacks it: runtime
              5: {0, 1},  # firmware both map: runtime, shared
              6: {0, 1},  # zeros: runtime, shared, zero
              7: {0},  # unreadable frame: runtime
              8: {1}}  # guest 1 wrote to a page of its image: runtime, written
    digests = {1: b"S", 2: b"A1", 3: b"B1", 4: b"A2", 5: b"bios", 6: zero, 8: b"B2 written"}
    at_image = {1, 2, 3, 6, 8}  # frames mapped where the guest's image loads
    split = frames.split_frames(owners, digests, [img_a, img_b], at_image)
    assert split == frames.Split(image_shared=1, image_private=2, runtime=5,
                                 runtime_shared=2, runtime_zero=1, runtime_written=1)
    assert split.frames == len(owners)
    assert frames.split_frames(owners, digests, [img_a, img_b]).runtime_written is None


def test_image_content_leaves_zero_pages_out(tiny: dict[str, Path]) -> None:
    from spacer.core.sharing.pages import image_pages

    facts = frames.image_content(tiny["a"])
    pages = image_pages(tiny["a"])
    assert frames.ZERO_DIGEST not in facts.digests
    assert facts.digests == {p.digest for p in pages if not p.zero}
    assert len(facts.digests) >= PAYLOAD_PAGES
    assert facts.addresses == {p.vaddr for p in pages}


def test_sweep_steps_ascend_and_fit_the_manifest(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.json"
    assert fleet.sweep_steps([50, 10, 25, 10], 101, manifest) == [10, 25, 50]
    for bad in ([0, 3], [102]):
        with pytest.raises(BadInput) as info:
            fleet.sweep_steps(bad, 101, manifest)
        line = str(info.value)
        assert "\n" not in line and str(manifest) in line and "--sweep" in line


def _manifest(out: Path, images: dict[str, Path]) -> None:
    out.mkdir(exist_ok=True)
    files = {name: ImageFiles(str(img), str(img)) for name, img in images.items()}
    manifest = Manifest({name: ManifestEntry(f, f) for name, f in files.items()})
    (out / "manifest.json").write_text(json.dumps(manifest.to_json()))


@pytest.mark.boot
@pytest.mark.slow
@needs_qemu
def test_sweep_writes_json_and_png_with_the_same_figures(
        tmp_path: Path, sysfs: Path, tiny: dict[str, Path],
        capsys: pytest.CaptureFixture[str]) -> None:
    """``--sweep 3 2`` on three tiny apps (KSM faked: nothing merges): one guest per app,
    points in ascending app counts, parts that add up, and a PNG that holds what the
    JSON says."""
    pytest.importorskip("matplotlib")
    out = tmp_path / "out"
    _manifest(out, {"c": tiny["c"], "a": tiny["a"], "b": tiny["b"]})
    png, js = tmp_path / "fleet.png", tmp_path / "fleet.json"
    before = ksm.snapshot(sysfs)
    rc = bench_memory.main(["memory", "-w", str(tmp_path), "-o", str(out), "--sweep", "3", "2",
                            "--plot", str(png), "--json-out", str(js), "--sysfs", str(sysfs),
                            "--timeout", "0.2"])
    assert rc == 0, capsys.readouterr().err
    table = capsys.readouterr().out
    assert ksm.snapshot(sysfs) == before and not _children()
    data = json.loads(js.read_text())
    assert data["version"] == fleet.JSON_VERSION and data["x"] == "apps"
    assert data["apps"] == ["a", "b", "c"]
    assert [p["apps"] for p in data["points"]] == [2, 3]
    for p in data["points"]:
        for label in guest_mod.SETS:
            m = p[label]
            assert m["instances"] == 1 and m["guests"] == p["apps"] == p["guests"]
            assert m["mib"] == pytest.approx(m["frames"] * 4096 / 2**20, abs=1e-3)
            assert m["predicted_pages"] >= PAYLOAD_PAGES * p["apps"]
            if m["method"] != "pagemap":
                continue  # not root: no split
            split = m["split"]
            assert split["image_shared"] + split["image_private"] + split["firmware"] \
                + split["runtime"] == split["frames"] == m["frames"]
            # The guests' RAM is not firmware; QEMU's BIOS, ROM and ACPI blocks are.
            assert 0 < split["firmware"] and m["firmware_pages"] >= 64 * p["guests"]
            assert m["firmware_blocks"]["pc.bios"] == 64 * p["guests"]
            # Every payload differs from the others': a private image page per guest.
            assert split["image_private"] >= PAYLOAD_PAGES * p["apps"] * 3 // 4
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    drawn = json.loads(bench_memory.png_text(png)[bench_memory.PLOT_KEY])
    assert drawn["x"] == "apps" and drawn["xs"] == [2, 3]
    for label in guest_mod.SETS:
        assert drawn["mib"][label] == [p[label]["mib"] for p in data["points"]]
    for word in ("apps", "runtime", "private"):
        assert word in table


def test_sweep_larger_than_the_manifest_is_one_line_before_anything_runs(
        tmp_path: Path, sysfs: Path, tiny: dict[str, Path],
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    _manifest(out, {"a": tiny["a"], "b": tiny["b"]})
    rc = bench_memory.main(["memory", "-w", str(tmp_path), "-o", str(out), "--sweep", "2", "5",
                            "--sysfs", str(sysfs)])
    err = capsys.readouterr().err
    assert rc == BAD_INPUT and len(err.strip().splitlines()) == 1
    assert "manifest.json" in err and "--sweep 5" in err
    rc = bench_memory.main(["memory", "-w", str(tmp_path), "-o", str(out), "--sweep", "2",
                            "--json-out", str(tmp_path / "no" / "x.json"), "--sysfs", str(sysfs)])
    err = capsys.readouterr().err
    assert rc == BAD_INPUT and len(err.strip().splitlines()) == 1 and "--json-out" in err
    assert ksm.read_setting(ksm.RUN, sysfs) == "0" and not _children()


# --- QEMU's firmware blocks, --lean, and the timeline --------------------------------

SMAPS = """\
55d0c0000000-55d0c0100000 r-xp 00000000 08:01 123                        /usr/bin/qemu-system-x86_64
Rss:                 512 kB
VmFlags: rd ex mr mw me
7fe73b200000-7fe73b400000 rw-p 00000000 00:00 0
Size:               2048 kB
Rss:                 128 kB
VmFlags: rd wr mr mw me ac sd mg
7fe780400000-7fe780420000 rw-p 00000000 00:00 0
Rss:                   0 kB
VmFlags: rd wr mr mw me ac mg
7fe780600000-7fe782600000 rw-p 00000000 00:00 0
Rss:                1000 kB
VmFlags: rd wr mr mw me ac sd mg
7fe782800000-7fe782840000 rw-p 00000000 00:00 0
Rss:                 256 kB
VmFlags: rd wr mr mw me ac mg
7fe782900000-7fe782901000 rw-p 00000000 00:00 0
Rss:                   4 kB
VmFlags: rd wr mr mw me ac mg
"""

# HMP `info ramblock` of QEMU 7.2, -m 32 -nodefaults (as QMP's human-monitor-command
# returns it), plus a second 4 KiB block to show blocks of one size.
RAMBLOCKS = """\
              Block Name    PSize              Offset               Used              Total
                  pc.ram    4 KiB  0x0000000000000000 0x0000000002000000 0x0000000002000000
    /rom@etc/acpi/tables    4 KiB  0x0000000002080000 0x0000000000020000 0x0000000000200000
                 pc.bios    4 KiB  0x0000000002000000 0x0000000000040000 0x0000000000040000
                  pc.rom    4 KiB  0x0000000002040000 0x0000000000020000 0x0000000000020000
      /rom@etc/acpi/rsdp    4 KiB  0x00000000022c0000 0x0000000000001000 0x0000000000001000
          my odd block 2    4 KiB  0x00000000022d0000 0x0000000000001000 0x0000000000001000
"""


def test_smaps_parsing_keeps_mergeable_mappings_with_their_rss() -> None:
    ranges = frames.parse_mergeable_ranges(SMAPS.splitlines(keepends=True))
    assert [(hex(s), e - s, rss) for s, e, rss in ranges] == [
        ("0x7fe73b200000", 2 << 20, 128), ("0x7fe780400000", 128 << 10, 0),
        ("0x7fe780600000", 32 << 20, 1000), ("0x7fe782800000", 256 << 10, 256),
        ("0x7fe782900000", 4096, 4)]


def test_ramblock_list_names_each_mapping_by_size() -> None:
    from spacer.measure import ramblocks

    blocks = ramblocks.parse_ramblocks(RAMBLOCKS)
    assert ramblocks.RamBlock("my odd block 2", 4096) in blocks
    assert ramblocks.RamBlock("pc.bios", 256 << 10) in blocks and len(blocks) == 6
    ranges = frames.parse_mergeable_ranges(SMAPS.splitlines())
    ranges.append((0x7fe790000000, 0x7fe790003000, 12))  # a size no block has
    names = ramblocks.name_ranges(ranges, blocks, 32 << 20)
    assert names == ["/rom@etc/acpi/tables", "pc.rom", "pc.ram", "pc.bios",
                     "/rom@etc/acpi/rsdp", ramblocks.UNKNOWN]
    # Two blocks of one size: named in address order, whatever the ranges' order.
    two = [(0x2000, 0x3000, 4), (0x1000, 0x2000, 4)]
    assert ramblocks.name_ranges(two, blocks, 32 << 20) == ["my odd block 2",
                                                            "/rom@etc/acpi/rsdp"]
    # Without the list: the RAM by its size, all else firmware.
    assert ramblocks.name_ranges(ranges[:3], None, 32 << 20) == [
        ramblocks.FIRMWARE, ramblocks.FIRMWARE, "pc.ram"]
    assert [ramblocks.is_firmware(n) for n in names] == [True, True, False, True, True, True]
    assert frames.firmware_resident(ranges, names) == {
        "/rom@etc/acpi/tables": 32, "pc.rom": 0, "pc.bios": 64, "/rom@etc/acpi/rsdp": 1,
        ramblocks.UNKNOWN: 3}


def test_firmware_frames_are_a_part_of_their_own() -> None:
    img = frozenset({b"A", b"S"})
    owners = {1: {0, 1},  # image page, shared
              2: {0, 1},  # BIOS, merged across the guests: firmware
              3: {0},  # an ACPI table page: firmware
              4: {0, 1},  # zeros the RAM maps too: runtime, not firmware
              5: {1}}  # stack: runtime
    digests = {1: b"S", 2: b"bios", 3: b"acpi", 4: frames.ZERO_DIGEST, 5: b"stack"}
    split = frames.split_frames(owners, digests, [img, img], firmware={2, 3})
    assert (split.image_shared, split.firmware, split.runtime) == (1, 2, 2)
    assert split.runtime_zero == 1 and split.runtime_shared == 1
    assert split.frames == len(owners)
    assert frames.split_frames(owners, digests, [img, img]).firmware == 0


def test_lean_guests_drop_acpi_and_ask_qmp(tiny: dict[str, Path], tmp_path: Path) -> None:
    plain = guest_mod.guest_argv(tiny["a"])
    assert "-machine" not in plain and "-qmp" not in plain and "-nodefaults" in plain
    lean = guest_mod.guest_argv(tiny["a"], lean=True, qmp=tmp_path / "q.sock")
    assert lean[lean.index("-machine") + 1] == "pc,acpi=off"
    assert lean[lean.index("-qmp") + 1] == f"unix:{tmp_path / 'q.sock'},server=on,wait=off"


def test_crashed_guest_is_found_by_its_last_words() -> None:
    out = ("Powered by Unikraft\nCRIT: [libukboot] <boot.c @  216> Assertion failure: "
           "(md)->pg_count * 0x1000UL == (md)->len\n")
    assert guest_mod.crash_line(out).startswith("CRIT: [libukboot]")
    assert guest_mod.crash_line("hello: done\n") is None


def test_samples_fall_due_on_whole_seconds() -> None:
    from spacer.measure import timeline

    now = [100.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(round(s, 3))
        now[0] += s

    costs = iter([0.2, 1.5, 0.1, 0.1, 0.1])  # the second sample is late

    def sample() -> tuple[int, int]:
        now[0] += next(costs)
        return 900 - len(slept) * 100, 1000

    series = timeline.sample_every(timeline.Series("original", "fast", "pagemap"), sample,
                                   seconds=4, clock=lambda: now[0], sleep=sleep)
    assert series.t == [0.2, 2.5, 2.6, 3.1, 4.1]
    assert series.frames == [900, 800, 800, 700, 600] and series.resident_pages == [1000] * 5
    assert slept == [0.8, 0.4, 0.9]


def test_timeline_runs_every_set_at_each_rate_and_restores_ksm(
        sysfs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from contextlib import contextmanager

    from spacer.measure import timeline

    seen = []

    @contextmanager
    def fake_guests(images: list[Path], memory_mib: int = 32, **kw: object):
        rate = (ksm.read_setting(ksm.PAGES_TO_SCAN, sysfs), ksm.read_setting(ksm.SLEEP, sysfs))
        seen.append((tuple(images), rate, kw.get("wait"), kw.get("lean")))
        yield []

    frames_now = iter(range(1000, 0, -7))
    monkeypatch.setattr(timeline, "running_guests", fake_guests)
    monkeypatch.setattr(timeline, "frame_sampler",
                        lambda *_a: lambda: (next(frames_now), 2000))
    monkeypatch.setattr(timeline, "sample_every",
                        lambda series, sample, seconds, interval: [
                            series.add(float(t), *sample()) for t in range(int(seconds) + 1)]
                        and series)
    before = ksm.snapshot(sysfs)
    sets = {"original": [tmp_path / "a.o", tmp_path / "b.o"],
            "aligned": [tmp_path / "a.a", tmp_path / "b.a"]}
    with ksm.ksm_session(sysfs) as session:
        tl = timeline.measure_timeline(session, sets, ["a", "b"], 2, seconds=3, lean=True)
        assert ksm.read_setting(ksm.PAGES_TO_SCAN, sysfs) == ksm.FAST_SCAN[ksm.PAGES_TO_SCAN]
    assert ksm.snapshot(sysfs) == before
    assert [(s.set, s.rate) for s in tl.series] == [
        ("original", "default"), ("aligned", "default"), ("original", "fast"),
        ("aligned", "fast")]
    assert [rate for _, rate, _, _ in seen] == [("100", "20")] * 2 + [("5000", "10")] * 2
    assert all(wait is False and lean is True for _, _, wait, lean in seen)
    assert seen[0][0] == (sets["original"][0],) * 2 + (sets["original"][1],) * 2
    assert tl.guests == 4 and all(s.t == [0, 1, 2, 3] for s in tl.series)
    data = json.loads(json.dumps(tl.to_json()))
    assert data["rates"] == {"default": {"sleep_millisecs": 20, "pages_to_scan": 100},
                             "fast": {"sleep_millisecs": 10, "pages_to_scan": 5000}}
    assert data["series"][1]["frames"] == tl.series[1].frames


def test_timeline_plot_holds_the_series(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from spacer.measure import timeline

    tl = timeline.Timeline(2, 1, ["a"], 1, 1, [
        timeline.Series(label, rate, "pagemap", [0.0, 1.0, 2.0], [600, 300, 200], [600] * 3)
        for rate in timeline.RATES for label in guest_mod.SETS])
    png = tmp_path / "t.png"
    bench_memory.plot_timeline(tl, png)
    drawn = json.loads(bench_memory.png_text(png)[bench_memory.TIMELINE_KEY])
    assert [(x["set"], x["rate"]) for x in drawn["lines"]] == [
        (s.set, s.rate) for s in tl.series]
    assert drawn["lines"][0]["mib"] == [round(f * 4096 / 2**20, 3) for f in (600, 300, 200)]
    text = "\n".join(str(c) for c in bench_memory.timeline_table(tl).columns[3]._cells)
    assert "300" in text


@pytest.mark.boot
@pytest.mark.slow
@needs_qemu
def test_firmware_part_plain_and_lean(tiny: dict[str, Path]) -> None:
    """QEMU's BIOS, ROM and ACPI blocks are found and split off the runtime part; lean
    QEMU leaves only the BIOS (64 pages)."""
    real_ksm_or_skip()
    before = ksm.snapshot()
    with ksm.ksm_session() as session:
        plain = fleet.measure_set(session, [tiny["a"], tiny["a"]], 1, "plain")
        lean = fleet.measure_set(session, [tiny["a"], tiny["a"]], 1, "lean", lean=True)
    assert ksm.snapshot() == before and not _children()
    print(f"firmware pages per guest before KSM: plain {plain.firmware_pages / 2}, lean "
          f"{lean.firmware_pages / 2}; frames after: {plain.split}, {lean.split}")
    assert lean.firmware_blocks == {"pc.bios": 128, "pc.rom": 0}
    assert plain.firmware_pages > lean.firmware_pages
    assert "/rom@etc/acpi/tables" in plain.firmware_blocks
    for m in (plain, lean):
        assert m.split.frames == m.frames and 0 < m.split.firmware <= m.firmware_pages
        assert m.split.runtime_written is not None
