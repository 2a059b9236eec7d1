"""The demo's function family: many small handlers on one large runtime. The family
is deterministic, its handlers differ in code and size, every function links the
same runtime, and (booting) each function prints exactly what the Python model
says, before and after alignment, while the runtime's pages become one copy."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from spacer import cli
from spacer.core.options import BY_NAME
from spacer.core.readers.elf import ElfFile
from spacer.demo import SRC_DIR
from spacer.demo.apps import CORE, fleet, function_app, functions_of, is_function
from spacer.demo.build import CFLAGS, app_source_dir, app_steps, build_fleet
from spacer.demo.functions import FUNCTION_LIBS, KINDS, REQUESTS, function_kind
from spacer.measure.qemu import boot
from spacer.run.loader import demo_builds, run_tasks
from spacer.run.settings import Settings, settings_from_vars

RUNTIME = ("libnolibc", "libukalloc", "libukhash", "libukjson", "libukhttp", "libukcalc",
           "libukfaas")


def test_the_family_is_deterministic_and_covers_every_kind():
    first, again = functions_of(8), functions_of(8)
    assert first == again and first[5] == function_app(5)
    assert [a.name for a in first] == [f"fn{i:03d}" for i in range(8)]
    assert {function_kind(i) for i in range(len(KINDS))} == set(KINDS)
    assert len({a.expected_output for a in first}) == len(first)
    for app in first:
        lines = app.expected_output.splitlines()
        assert len(lines) == len(REQUESTS) + 2  # one per request, the refused one, a total
        assert all(line.startswith(f"{app.name}: ") for line in lines)
        assert is_function(app)


def test_every_function_links_the_same_runtime_built_the_same_way(tmp_path: Path):
    apps = functions_of(3)
    assert all(a.libs == CORE + FUNCTION_LIBS for a in apps)

    def library_commands(app):
        build = str(tmp_path / "apps" / app.name / "build")
        return {s.name.split("/", 1)[1]: [arg.replace(build, "BUILD") for arg in s.argv]
                for s in app_steps(tmp_path, app) if s.name.split("/")[1].startswith("lib")}

    # Same sources, flags and defines: each library's object is the same in every app.
    assert library_commands(apps[0]) == library_commands(apps[1]) == library_commands(apps[2])


def _code_size(obj: Path) -> int:
    with obj.open("rb") as f, ElfFile.open(f) as elf:
        return sum(s.size for s in elf.sections if s.name.startswith((".text", ".rodata")))


def test_handlers_differ_in_code_and_size(tmp_path: Path):
    apps = functions_of(len(KINDS) + 2)
    includes = [f"-I{SRC_DIR / f'lib{lib}'}" for lib in CORE + FUNCTION_LIBS]
    sizes, codes = {}, set()
    for app in apps:
        source = app_source_dir(tmp_path, app) / "main.c"
        obj = tmp_path / f"{app.name}.o"
        subprocess.run(["gcc", *CFLAGS, *includes, "-c", str(source), "-o", str(obj)],
                       check=True, capture_output=True)
        sizes[app.name] = _code_size(obj)
        codes.add(source.read_text().split("int main(")[0])
    assert len(codes) == len(apps)
    assert len(set(sizes.values())) >= len(apps) - 1, sizes
    assert all(200 <= size <= 8192 for size in sizes.values()), sizes


def test_the_built_in_requests_match_their_model():
    text = (SRC_DIR / "libukfaas" / "requests.c").read_text()
    assert f"Content-Length: {len(REQUESTS[1].body)}" in text
    assert text.count("HTTP/1.1\\r\\n") == len(REQUESTS) + 1  # and the malformed one


def test_functions_option_reaches_the_fleet_through_both_entry_points():
    assert BY_NAME["functions"].default == 0
    settings = settings_from_vars({"functions": "2", "count": "1"})
    names = [b.name for b in demo_builds(settings)]
    assert names[-3:] == ["gen0000", "fn000", "fn001"]
    assert [a.name for a in fleet(0, 2)][-2:] == ["fn000", "fn001"]
    parsed = cli.parser("fleet").parse_args(["fleet", "--functions", "3"])
    assert parsed.functions == 3


@pytest.fixture(scope="module")
def aligned_functions(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Six function apps (one of each kind) built and aligned into their own folder."""
    ws = tmp_path_factory.mktemp("functions")
    apps = functions_of(len(KINDS))
    build_fleet(ws, apps)
    out = ws / "out"
    code, _, failures = run_tasks(Settings(workspace=ws, out=out, demo=False), ["align"])
    assert code == 0, failures
    return {"out": out, "apps": {a.name: a for a in apps}}


@pytest.mark.slow
@pytest.mark.boot
@pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="QEMU not installed")
def test_functions_behave_as_modelled_and_share_their_runtime(aligned_functions):
    out, apps = aligned_functions["out"], aligned_functions["apps"]
    manifest = json.loads((out / "manifest.json").read_text())["apps"]
    for name, app in apps.items():
        for which in ("original", "aligned"):
            result = boot(Path(manifest[name][which]["image"]), timeout=30)
            assert not result.timed_out, (name, which)
            assert result.output.rstrip("\n") == app.expected_output, (name, which)
            assert result.exit_code == app.exit_code, (name, which)

    report = json.loads((out / "report.json").read_text())
    spoilt = [p for p in report["differing_pages"] if p["library"].split("/")[0] in RUNTIME]
    assert not spoilt, spoilt
    before, after = report["original"]["readonly"], report["aligned"]["readonly"]
    assert after["distinct"] * 2 < before["distinct"], (before, after)
    # Each runtime library has the same pages, byte for byte, in every aligned image.
    pages: dict[str, set] = {}
    for name in apps:
        checked = json.loads((out / "apps" / name / "verify.json").read_text())
        for key, lib in checked["libraries"].items():
            if key.split("/")[0] in RUNTIME:
                pages.setdefault(key, set()).add(tuple(p["digest"] for p in lib["pages"]))
    assert {key.split("/")[0] for key in pages} >= set(RUNTIME)
    assert all(len(versions) == 1 for versions in pages.values()), pages
