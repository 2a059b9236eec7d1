"""Every file a stage writes is a declared target, and every file it reads a declared
dependency: deleting any output leads to a rebuild with the same images, and the run
after a first one (the demo fleet built in it too) has nothing to do."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from spacer.core.outputs.paths import OutputLayout
from spacer.core.rewrite.compiles import CompileCache
from spacer.run.loader import namespace, run_tasks
from spacer.run.progress import RichReporter
from spacer.run.settings import Settings


def _settings(ws: Path, out: Path) -> Settings:
    return Settings(workspace=ws, out=out, demo=False, plan={"aslr": 2}, seed=3)


def _images(out: Path) -> dict[str, str]:
    return {p.parent.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((out / "apps").glob("*/*_qemu-x86_64"))}


def _declared_targets(settings: Settings, app: str) -> list[Path]:
    """The targets of ``app``'s tasks and of the fleet's, each kind of pic object once."""
    found: list[Path] = []
    for task in namespace(settings)["task_align"]():
        name = task.get("name")
        if name is not None and name != app:
            continue
        targets = [Path(t) for t in task.get("targets", [])]
        if task["basename"] == "pic":
            objects = [t for t in targets if t.suffix == ".o"]
            targets = [t for t in targets if t.suffix != ".o"] + objects[:2] + objects[-2:]
        found += targets
    return found


@pytest.mark.slow
def test_deleting_any_declared_output_rebuilds_it(small_fleet):
    settings = _settings(small_fleet["ws"], small_fleet["out"])
    code, _, failures = run_tasks(settings, ["align"])
    assert code == 0, failures
    reference = _images(settings.out_dir)
    targets = _declared_targets(settings, "hashsum")
    kinds = {t.relative_to(settings.out_dir).parts[0] for t in targets}
    assert {"extract", "pic", "symbols", "plan", "aslr", "apps", "layout.json",
            "report.json", "manifest.json"} <= kinds
    for target in targets:
        target.unlink()
        code, ran, failures = run_tasks(settings, ["align"])
        assert code == 0, (target, failures)
        assert target.is_file(), f"{target} was not rebuilt"
        assert ran, target
        assert _images(settings.out_dir) == reference, target
    code, ran, _ = run_tasks(settings, ["align"])
    assert (code, ran) == (0, [])


@pytest.mark.slow
def test_pic_reruns_when_a_source_it_compiles_changes(small_fleet):
    settings = _settings(small_fleet["ws"], small_fleet["out"])
    assert run_tasks(settings, ["align"])[0] == 0
    source = next(p for t in namespace(settings)["task_align"]()
                  if t["basename"] == "pic" and t.get("name") == "hello"
                  for p in map(Path, t["file_dep"]) if p.suffix == ".c")
    source.write_text(source.read_text() + "\n/* touched */\n")
    code, ran, _ = run_tasks(settings, ["align"])
    assert code == 0
    assert "pic:hello" in ran


@pytest.mark.slow
def test_a_changed_source_or_record_recompiles_that_object_alone(small_fleet):
    """The fleet compiles each distinct object once; a rerun after one app's source or
    one recorded command changed compiles only that object, and finds the change
    although the inputs it looks for are remembered from the run before."""
    settings = _settings(small_fleet["ws"], small_fleet["out"])
    assert run_tasks(settings, ["align"])[0] == 0
    cache = CompileCache(OutputLayout(settings.out_dir).compile_cache)
    before = cache.entries()
    main = next(Path(small_fleet["ws"]).glob("apps/hello/build/apphello/*.o.cmd"))
    source = Path(next(a for a in main.read_text().split() if a.endswith(".c")))
    source.write_text(source.read_text() + "\nint spacer_test_extra(void) { return 7; }\n")
    code, ran, _ = run_tasks(settings, ["align"])
    assert code == 0 and "pic:hello" in ran
    assert not [t for t in ran if t.startswith("pic:") and t != "pic:hello"]
    assert cache.entries() == before + 1
    main.write_text(main.read_text().replace(" -c ", " -DSPACER_TEST=1 -c ", 1))
    code, ran, _ = run_tasks(settings, ["align"])
    assert code == 0 and "pic:hello" in ran
    assert cache.entries() == before + 2


@pytest.mark.slow
def test_first_rerun_of_the_demo_is_a_no_op(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = Settings(workspace=tmp_path / "demo", demo=True, apps=("hello", "counter"))
    code, _, failures = run_tasks(settings, ["fleet", "align"], jobs=2)
    assert code == 0, failures
    # The stage lines count the tasks created after the fleet was built, too.
    counts = {name: (s.total, s.run) for name, s in RichReporter.stages.items()}
    assert counts["extract"] == (2, 2) and counts["report"] == (1, 1), counts
    code, ran, _ = run_tasks(settings, ["fleet", "align"], jobs=2)
    assert (code, ran) == (0, [])
