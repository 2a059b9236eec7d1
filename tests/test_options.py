"""One definition of each option: spacer align and doit align refuse a bad value alike
(one line, exit status 2, before any work), record what shapes the layout, and the
command line starts without importing what it does not use."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from spacer import cli
from spacer.core.errors import BAD_INPUT
from spacer.core.options import OPTIONS, from_variables, validate

REPO = Path(__file__).resolve().parents[1]

# (spacer align arguments, doit variables, words the line must hold)
DRIFT = [
    (["--aslr", "3"], ["aslr=3"], "not one of 0, 1, 2"),
    (["--seed", "5"], ["seed=5"], "only applies to"),
    (["--aslr-same-mapping"], ["same_mapping=1"], "only applies to"),
    (["--headroom", "nan"], ["headroom=nan"], "not a finite number"),
    (["--headroom", "-1"], ["headroom=-1"], "out of range"),
    (["--headroom", "1e9"], ["headroom=1e9"], "out of range"),
    (["-l", "0x100000000"], ["loc=0x100000000"], "small code model"),
    (["-l", "0x1000"], ["loc=0x1000"], "out of range"),
    (["-l", "0x200001"], ["loc=0x200001"], "not page-aligned"),
    (["-l", "zz"], ["loc=zz"], "not a whole number"),
    (["-c", "--aslr", "2"], ["custom_loader=1", "aslr=2"], "does not go with"),
    (["-c", "--no-align"], ["custom_loader=1", "align=0"], "does not go with"),
    (["--pool-memory", "64"], ["pool_memory=64"], "only applies to"),
    (["-c", "--pool-memory", "8"], ["custom_loader=1", "pool_memory=8"], "out of range"),
]


def _doit(*variables: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "doit", "-f", str(REPO / "dodo.py"), "align",
                           *variables], cwd=REPO, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("argv,variables,words", DRIFT)
def test_bad_option_is_refused_alike_by_both_entry_points(demo_workspace, tmp_path, capsys,
                                                          argv, variables, words):
    out = tmp_path / "out"
    code = cli.main(["align", "-w", str(demo_workspace), "-o", str(out), *argv])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == BAD_INPUT and len(lines) == 1 and words in lines[0], lines
    doit = _doit(f"workspace={demo_workspace}", f"out={out}", *variables)
    doit_lines = doit.stderr.strip().splitlines()
    assert doit.returncode == BAD_INPUT and len(doit_lines) == 1, doit.stderr
    assert words in doit_lines[0]
    assert not out.exists()  # refused before any work


def test_unknown_doit_variable_is_refused(demo_workspace, tmp_path):
    doit = _doit(f"workspace={demo_workspace}", f"out={tmp_path / 'out'}", "bogus=1")
    lines = doit.stderr.strip().splitlines()
    assert doit.returncode == BAD_INPUT and len(lines) == 1 and "bogus=" in lines[0]


def test_unknown_option_is_one_line(capsys):
    assert cli.main(["align", "--bogus"]) == BAD_INPUT
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_both_entry_points_take_the_same_values():
    spelled = {"aslr": "2", "seed": "0x10", "loc": "0x200000", "headroom": "0.25",
               "align": "0", "same_mapping": "1"}
    typed = {"aslr": 2, "seed": 16, "loc": 0x200000, "headroom": 0.25, "align": False,
             "same_mapping": True}
    assert from_variables(spelled) == validate(typed)
    assert from_variables({})["aslr"] == 0 and from_variables({})["align"] is True


def test_every_flag_of_the_schema_is_an_argument_of_align():
    parser = cli.parser()
    align = parser._subparsers._group_actions[0].choices["align"]
    assert {o.name for o in OPTIONS if o.flags} <= {a.dest for a in align._actions}


@pytest.mark.slow
def test_plan_replans_with_the_recorded_seed_and_finds_nothing_to_move(demo_workspace,
                                                                       tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["-w", str(demo_workspace), "-o", str(out)]
    assert cli.main(["align", *argv, "-u", "hello", "counter", "hashsum", "--aslr", "2",
                     "--seed", "5", "--plain"]) == 0
    layout = json.loads((out / "layout.json").read_text())
    assert layout["options"]["seed"] == 5 and layout["options"]["aslr"] == 2
    capsys.readouterr()
    assert cli.main(["plan", *argv]) == 0  # --diff is what plan does
    printed = capsys.readouterr().out
    assert "a replan would relink 0 of 3 apps" in printed
    assert "(+0 pages)" in printed


def test_plan_never_builds_the_demo_fleet(monkeypatch, tmp_path):
    """plan aligns the fleet afresh as it is: no fleet task, whatever the workspace."""
    import spacer.run.loader as loader

    seen = []

    def fake_run_tasks(settings, targets, **_kw):
        seen.append((settings.demo, targets))
        return 1, [], []

    (tmp_path / "layout.json").write_text("{}")
    monkeypatch.setattr(loader, "run_tasks", fake_run_tasks)
    monkeypatch.setattr("spacer.core.formats.layout.read_layout",
                        lambda _p: type("L", (), {"options": {"aslr": 1}, "apps": ["a", "b"]}))
    cli.main(["plan", "-o", str(tmp_path)])
    assert seen == [(False, ["align"])]


def test_command_line_mistakes_are_one_line(tmp_path, capsys):
    afile = tmp_path / "file"
    afile.write_text("")
    assert cli.main(["align", "-w", str(afile)]) == BAD_INPUT
    assert "a file, not a folder" in capsys.readouterr().err
    assert cli.main(["report", "-w", str(tmp_path / "nope")]) == BAD_INPUT
    assert "does not exist" in capsys.readouterr().err
    assert cli.main(["boot", str(afile), "--timeout", "-1"]) == BAD_INPUT
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "--timeout" in lines[0]


def test_report_help_describes_it(capsys):
    assert cli.main(["report", "--help"]) == 0
    assert "static page sharing" in capsys.readouterr().out


def test_bench_memory_takes_out_like_align():
    ns = cli.parser().parse_args(["bench", "memory", "-w", "ws", "--out", "o"])
    assert str(ns.out) == "o"


def test_help_imports_neither_doit_nor_rich():
    probe = ("import sys, contextlib, io\nfrom spacer import cli\n"
             "with contextlib.redirect_stdout(io.StringIO()):\n"
             "    cli.main(['--help']); cli.main(['align', '--help'])\n"
             "print(sorted(m for m in ('doit', 'rich', 'matplotlib') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=REPO, check=True)
    assert done.stdout.strip() == "[]"


def test_every_planner_option_reaches_the_planner_through_both_entry_points(tmp_path):
    """PlanOptions is built from the schema's planner options: one left out (as
    --copy-objs once was) would be accepted, recorded, and do nothing."""
    from dataclasses import fields

    from spacer.core.options import PLAN_OPTIONS
    from spacer.core.outputs.paths import OutputLayout
    from spacer.core.planner.model import PlanOptions
    from spacer.run.settings import option_values, settings_from_vars, settings_of
    from spacer.tasks.common import Pipeline

    assert set(PLAN_OPTIONS) == {f.name for f in fields(PlanOptions)}
    # Two runs, since -c goes with neither --aslr 2 nor --no-align; between them every
    # field differs from its default.
    runs = [
        ({"loc": "0x200000", "align": "0", "group": "0", "copy_objs": "1", "aslr": "2",
          "same_mapping": "1", "headroom": "0.5"},
         PlanOptions(loc=0x200000, align=False, group=False, copy_objs=True, aslr=2,
                     same_mapping=True, headroom=0.5),
         ["-l", "0x200000", "--no-align", "--no-group", "--copy-objs", "--aslr", "2",
          "--aslr-same-mapping", "--headroom", "0.5"]),
        ({"custom_loader": "1", "aslr": "1"}, PlanOptions(custom_loader=True, aslr=1),
         ["-c", "--aslr", "1"]),
    ]
    changed = {f.name for _, expected, _ in runs for f in fields(PlanOptions)
               if getattr(expected, f.name) != f.default}
    assert changed == {f.name for f in fields(PlanOptions)}
    for spelled, expected, argv in runs:
        ns = cli.parser().parse_args(["align", *argv])
        spacer = settings_of(validate({o.name: getattr(ns, o.name) for o in OPTIONS
                                       if o.flags}))
        doit = settings_from_vars(spelled)
        for settings in (spacer, doit):
            pipeline = Pipeline([], OutputLayout(tmp_path), option_values(settings))
            assert pipeline.options == expected


def test_report_imports_no_pipeline_stage(tmp_path):
    """spacer report reads report.json and prints it: no doit, no ELF reading, no page
    analysis (the report stage's imports), so it starts fast."""
    probe = ("import sys\nfrom spacer import cli\n"
             f"code = cli.main(['report', '-o', {str(tmp_path)!r}])\n"
             "heavy = ('doit', 'elftools', 'matplotlib', 'spacer.core.sharing.pages',\n"
             "         'spacer.core.stages.report')\n"
             "print(code, sorted(m for m in heavy if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=REPO, check=True)
    assert "no report yet" in done.stderr  # the command ran its check
    assert done.stdout.strip() == f"{BAD_INPUT} []"
