"""Errors reach the user once, as one plain line, with the exit status of their kind;
``spacer boot`` refuses what QEMU cannot boot; ``-o`` never lands in a build folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from spacer import cli
from spacer.core.errors import BAD_INPUT, EXTERNAL, INTERNAL
from spacer.measure import qemu
from spacer.measure.qemu import BootResult

needs_qemu = pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None,
                                reason="qemu-system-x86_64 not installed")


def spacer_lines(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if ln.startswith("spacer:")]


def one_line(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """Run ``spacer argv``; its stderr must be exactly one ``spacer:`` line."""
    code = cli.main(list(argv))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(spacer_lines(err)) == 1, err
    assert lines[-1].startswith("spacer:"), err
    return code, lines[-1]


# --- boot --------------------------------------------------------------------

@pytest.mark.parametrize("which", ["debug image", "object", "record"])
def test_boot_refuses_what_is_not_a_bootable_image(demo_workspace: Path, capsys, which: str):
    build = demo_workspace / "apps" / "hello" / "build"
    path = {"debug image": build / "hello_qemu-x86_64.dbg", "object": build / "libnolibc.o",
            "record": build / "hello_qemu-x86_64.cmd"}[which]
    code, line = one_line(capsys, "boot", str(path))
    assert code == BAD_INPUT
    assert str(path) in line and "_qemu-x86_64" in line  # says what to pass instead


@pytest.mark.boot
@pytest.mark.slow
@needs_qemu
def test_boot_reports_qemu_failing_to_load(demo_workspace: Path, tmp_path: Path, capsys):
    """An image that passes the up-front check but that QEMU cannot load (cut short):
    QEMU exits with 1, which must not read as the guest's exit code 0."""
    image = demo_workspace / "apps" / "hello" / "build" / "hello_qemu-x86_64"
    cut = tmp_path / "cut_qemu-x86_64"
    cut.write_bytes(image.read_bytes()[:9000])
    qemu.check_image(cut)  # the ELF header and multiboot header are still there
    code, line = one_line(capsys, "boot", str(cut), "--timeout", "30")
    assert code == EXTERNAL
    assert str(cut) in line and "QEMU" in line and "loading" in line


def test_boot_without_exit_code_names_qemu_status(monkeypatch, capsys, tmp_path: Path):
    monkeypatch.setattr(qemu, "boot", lambda *a, **k: BootResult("", None, False, 0))
    code, line = one_line(capsys, "boot", str(tmp_path / "x"))
    assert code == 125
    assert "QEMU status 0" in line and "{" not in line


# --- one line, once, with the exit status of its kind ---------------------------------

@pytest.mark.parametrize("name", ["[/nowhere]", "[bold]"])
def test_messages_are_printed_as_plain_text(tmp_path: Path, capsys, name: str):
    ws = tmp_path / name
    code, line = one_line(capsys, "align", "-w", str(ws))
    assert code == BAD_INPUT
    assert str(ws) in line


def test_missing_tool_is_external_with_a_readable_line(small_fleet, capsys, monkeypatch,
                                                       tmp_path: Path):
    settings = ["align", "-w", str(small_fleet["ws"]), "-o", str(small_fleet["out"])]
    empty = tmp_path / "no-tools"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    code, line = one_line(capsys, *settings)
    assert code == EXTERNAL
    assert "gcc not found (needed for the relink of" in line


def test_internal_error_is_one_line_and_traceback_with_v(small_fleet, capsys, monkeypatch):
    from spacer.core.stages import plan as stages

    def broken(*_args, **_kw):
        return {}["slices"]  # a bug: KeyError

    monkeypatch.setattr(stages, "plan_fleet", broken)
    argv = ["align", "-w", str(small_fleet["ws"]), "-o", str(small_fleet["out"])]
    code, line = one_line(capsys, *argv)
    assert code == INTERNAL
    assert "plan" in line and "KeyError" in line and "stages/plan.py" in line  # what, where
    assert "PythonAction Error" not in line

    code = cli.main([*argv, "-v"])
    err = capsys.readouterr().err
    assert code == INTERNAL
    assert "Traceback" in err and 'return {}["slices"]' in err
    assert spacer_lines(err)[-1] == line


def test_a_report_of_another_shape_is_refused_with_one_line(tmp_path: Path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.json").write_text('{"made_from": {}}')  # no schema, no figures
    code, line = one_line(capsys, "report", "-w", str(tmp_path), "-o", str(out))
    assert code == BAD_INPUT
    assert "report.json" in line and "spacer align again" in line


def test_unexpected_error_outside_tasks_is_one_line(tmp_path: Path, capsys, monkeypatch):
    from spacer.core.formats import report
    from spacer.views import report as view

    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setattr(report, "check_report_current", lambda root: None)
    monkeypatch.setattr(view, "read_report", lambda path: {"made_from": {}})  # a bug's dict
    code, line = one_line(capsys, "report", "-w", str(tmp_path), "-o", str(out))
    assert code == INTERNAL
    assert "AttributeError" in line and "views/report.py" in line


@pytest.mark.parametrize(("option", "words"), [
    ("--aslr-map", ("aslr-map", "README")),
    ("-c", ("custom-loader", "--aslr 2", "one pool file holds one content per address"))])
def test_research_options_that_do_not_fit_are_refused_with_the_reason(
        tmp_path: Path, capsys, option: str, words: tuple[str, ...]):
    out = tmp_path / "out"
    code, line = one_line(capsys, "align", "-w", str(tmp_path), "-o", str(out), "--aslr", "2",
                          option)
    assert code == BAD_INPUT
    assert all(word in line for word in words), line
    assert not out.exists(), "refused before anything is written"


@pytest.mark.slow
def test_too_many_program_headers_for_unikrafts_boot_info_is_one_line(small_fleet, capsys,
                                                                        monkeypatch):
    from spacer.core.planner import blocks

    monkeypatch.setattr(blocks, "MAX_SEGMENTS", 2)
    code, line = one_line(capsys, "align", "-w", str(small_fleet["ws"]), "-o",
                          str(small_fleet["out"]), "--aslr", "2", "-j", "1")
    assert code == BAD_INPUT
    assert "program headers" in line and "--aslr 1" in line
    assert any(app.name in line for app in small_fleet["apps"])


# --- -o ---------------------------------------------------------------------------

def test_output_folder_that_is_a_file(small_fleet, capsys):
    target = small_fleet["ws"] / "a-file"
    target.write_text("not a folder\n")
    code, line = one_line(capsys, "align", "-w", str(small_fleet["ws"]), "-o", str(target))
    assert code == BAD_INPUT and str(target) in line and "folder" in line


@pytest.mark.parametrize("where", ["build", "inside"])
def test_output_folder_in_a_build_folder_is_refused(small_fleet, capsys, where: str):
    build = small_fleet["ws"] / "apps" / "counter" / "build"
    before = sorted(p.name for p in build.rglob("*"))
    out = build if where == "build" else build / "spacer-out"
    code, line = one_line(capsys, "align", "-w", str(small_fleet["ws"]), "-o", str(out))
    assert code == BAD_INPUT and "build folder" in line and "counter" in line
    assert sorted(p.name for p in build.rglob("*")) == before
