"""Replaying a build's recorded link: relative programs, argument order, awkward paths,
time limits, stale scratch folders. Real builds of the demo apps, real linker runs."""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path

import pytest

from spacer.cli import main
from spacer.core import programs
from spacer.core.errors import BAD_INPUT, EXTERNAL
from spacer.core.stages import relink as link
from spacer.demo.scripts import multiboot
from spacer.run.loader import run_tasks
from spacer.run.settings import Settings


def align(ws: Path, out: Path, **kw) -> tuple[int, list[str], list]:
    return run_tasks(Settings(workspace=ws, out=out, demo=False, **kw), ["align"])


def rewrite_cmd(path: Path, edit) -> None:
    argv = shlex.split(path.read_text())
    path.write_text(shlex.join(edit(argv)) + "\n")


def test_relative_program_runs_from_the_recorded_folder(small_fleet, tmp_path, monkeypatch):
    """Unikraft records ``support/scripts/...`` relative to where make ran, not to where
    spacer runs."""
    app_dir = small_fleet["ws"] / "apps" / "hello"
    script = app_dir / "support" / "scripts" / "multiboot.py"
    script.parent.mkdir(parents=True)
    shutil.copy2(multiboot.__file__, script)
    script.chmod(0o755)
    cmd = app_dir / "build" / "hello_qemu-x86_64.multiboot.cmd"
    cmd.write_text("support/scripts/multiboot.py build/hello_qemu-x86_64\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, _, failures = align(small_fleet["ws"], small_fleet["out"])
    assert code == 0, failures
    image = next((small_fleet["out"] / "apps" / "hello").glob("*_qemu-x86_64"))
    assert image.read_bytes()[4] == 1, "the relative multiboot step ran: ELF32"


def test_output_option_anywhere_on_the_link_line(small_fleet):
    """``-o OUT`` first and a two-word option last: the link map option must not split it."""
    cmd = small_fleet["ws"] / "apps" / "counter" / "build" / "counter_qemu-x86_64.dbg.cmd"

    def reorder(argv: list[str]) -> list[str]:
        i = argv.index("-o")
        out = argv[i:i + 2]
        rest = argv[:i] + argv[i + 2:]
        return [rest[0], *out, *rest[1:], "-Xlinker", "--build-id=none"]

    rewrite_cmd(cmd, reorder)
    code, _, failures = align(small_fleet["ws"], small_fleet["out"])
    assert code == 0, failures
    assert next((small_fleet["out"] / "apps" / "counter").glob("*.map")).stat().st_size > 0


def test_double_quote_in_a_path_is_refused_not_dropped(demo_copy, tmp_path: Path, capsys):
    ws = demo_copy(tmp_path / 'ws"q', ("kvstore", "counter"))
    out = tmp_path / "out"
    code = main(["align", "-w", str(ws), "-o", str(out)])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("spacer:")]
    assert code == BAD_INPUT, err
    assert len(lines) == 1 and "Traceback" not in err
    assert "double quote" in lines[0] and 'ws"q' in lines[0]
    assert not list(out.glob("apps/*/*_qemu-x86_64"))


def test_a_step_that_runs_too_long_is_stopped(small_fleet, capsys, monkeypatch):
    monkeypatch.setattr(programs, "TIMEOUT_S", 0.001)
    code = main(["align", "-w", str(small_fleet["ws"]), "-o", str(small_fleet["out"])])
    err = capsys.readouterr().err
    line = [ln for ln in err.splitlines() if ln.startswith("spacer:")][-1]
    assert code == EXTERNAL
    assert "did not finish within" in line and "relink" in line
    assert not list(small_fleet["out"].glob("apps/*/.relink-*"))


def test_stale_scratch_folders_are_removed(small_fleet):
    out = small_fleet["out"]
    code, _, failures = align(small_fleet["ws"], out)
    assert code == 0, failures
    # What a relink killed by SIGKILL leaves behind.
    stale = out / "apps" / "hello" / ".relink-dead"
    (stale / "sub").mkdir(parents=True)
    (stale / "sub" / "hello_qemu-x86_64.dbg").write_bytes(b"half")
    plan = json.loads((out / "plan" / "hello.json").read_text())
    plan["spacer_test"] = 1  # a changed slice relinks hello
    (out / "plan" / "hello.json").write_text(json.dumps(plan))
    code, ran, failures = align(small_fleet["ws"], out)
    assert code == 0, failures
    assert "relink:hello" in ran
    assert not stale.exists()


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP"])
def test_terminated_relink_leaves_no_scratch_folder(small_fleet, monkeypatch, capsys,
                                                    signame: str):
    import os
    import signal

    real = link.run_argv

    def killed(argv, cwd, what, log, timeout=None):
        if "relink" in what:
            os.kill(os.getpid(), getattr(signal, signame))
        return real(argv, cwd, what, log, timeout)

    monkeypatch.setattr(link, "run_argv", killed)
    code = main(["align", "-w", str(small_fleet["ws"]), "-o", str(small_fleet["out"])])
    assert code == 130
    assert capsys.readouterr().err.strip().splitlines()[-1] == "spacer: interrupted"
    assert not list(small_fleet["out"].glob("apps/*/.relink-*"))


# --- stale outputs ------------------------------------------------------------------

def test_report_refuses_to_show_what_a_failed_realign_left(small_fleet, capsys, monkeypatch,
                                                          tmp_path):
    ws, out = small_fleet["ws"], small_fleet["out"]
    assert main(["align", "-w", str(ws), "-o", str(out)]) == 0
    assert main(["report", "-w", str(ws), "-o", str(out)]) == 0
    capsys.readouterr()
    # A new plan (other options) whose relink fails: the old report stays behind.
    empty = tmp_path / "no-tools"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert main(["align", "-w", str(ws), "-o", str(out), "--no-align"]) == EXTERNAL
    capsys.readouterr()
    code = main(["report", "-w", str(ws), "-o", str(out)])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("spacer:")]
    assert code == BAD_INPUT
    assert len(lines) == 1 and "report.json" in lines[0] and "out of date" in lines[0]
    monkeypatch.undo()
    assert main(["align", "-w", str(ws), "-o", str(out), "--no-align"]) == 0
    assert main(["report", "-w", str(ws), "-o", str(out)]) == 0


def test_damaged_original_image_is_found_by_extract(small_fleet, capsys):
    image = small_fleet["ws"] / "apps" / "kvstore" / "build" / "kvstore_qemu-x86_64"
    image.write_bytes(image.read_bytes()[:3000])
    out = small_fleet["out"]
    code, ran, failures = align(small_fleet["ws"], out)
    assert code != 0
    assert failures[0].line.startswith("extract:kvstore: ")
    assert str(image) in failures[0].line and failures[0].exit_code == BAD_INPUT
    assert not [t for t in ran if t.startswith(("relink", "verify", "report"))]


# --- a copied workspace -------------------------------------------------------------

def test_copied_workspace_uses_its_own_files(small_fleet, tmp_path: Path):
    """The .cmd records hold absolute paths into the first workspace; a copy must read
    and link its own objects."""
    ws1 = small_fleet["ws"]
    ws2 = tmp_path / "copy"
    shutil.copytree(ws1, ws2, symlinks=True)
    out = tmp_path / "out2"
    code, _, failures = align(ws2, out)
    assert code == 0, failures
    produced = [*out.glob("extract/*.json"), *out.glob("plan/*.json"), *out.glob("apps/*/*.map")]
    assert produced
    for path in produced:
        assert str(ws1) not in path.read_text(errors="replace"), path
    shutil.rmtree(ws1)  # and it does not need the original at all
    code, _, failures = align(ws2, tmp_path / "out3")
    assert code == 0, failures


def test_incomplete_copy_is_refused(small_fleet, tmp_path: Path, capsys):
    ws2 = tmp_path / "copy"
    shutil.copytree(small_fleet["ws"], ws2, symlinks=True)
    missing = ws2 / "apps" / "hashsum" / "build" / "libukhash.o"
    missing.unlink()
    code = main(["align", "-w", str(ws2), "-o", str(tmp_path / "out2")])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("spacer:")]
    assert code == BAD_INPUT and len(lines) == 1
    assert str(missing) in lines[0] and "copied" in lines[0]


@pytest.mark.slow
def test_copied_workspace_under_aslr_rebuilds_from_its_own_records(small_fleet, tmp_path: Path):
    """--aslr 1 replays every object's .cmd chain: in a copy they name the old place, and
    are mapped into the copy as the link's are; the images are the original's."""
    ws1 = small_fleet["ws"]
    code, _, failures = align(ws1, tmp_path / "out1", plan={"aslr": 1})
    assert code == 0, failures
    ws2 = tmp_path / "copy"
    shutil.copytree(ws1, ws2, symlinks=True)
    shutil.rmtree(ws1)  # the copy needs nothing of the original
    code, _, failures = align(ws2, tmp_path / "out2", plan={"aslr": 1})
    assert code == 0, failures
    for image in (tmp_path / "out1" / "apps").glob("*/*_qemu-x86_64"):
        copy = tmp_path / "out2" / image.relative_to(tmp_path / "out1")
        assert copy.read_bytes() == image.read_bytes(), image.name
