"""Every file one stage writes and another reads is a versioned dataclass: it comes
back equal through JSON, and a file of another version or shape is refused with one
line that names the file and says what to do."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from spacer.core.errors import BadInput
from spacer.core.formats.facts import AppFacts, DirectCopy, KindFacts, ObjectFacts, read_facts
from spacer.core.formats.layout import AreaRoom, Layout, Move, UnitRecord, read_layout
from spacer.core.formats.manifest import ImageFiles, Manifest, ManifestEntry, read_manifest
from spacer.core.formats.report import (
    AslrLayouts,
    ClassPages,
    DifferingPage,
    FleetPages,
    ImageBytes,
    References,
    Report,
    SharedLibraries,
    read_report,
)
from spacer.core.formats.slices import Area, AreaBase, Part, Slice, Slot, Table
from spacer.core.formats.symbols import (
    AppSymbols,
    Definer,
    DirectRef,
    LibraryRefs,
    TableEntry,
    read_symbols,
)
from spacer.core.formats.verify import LibraryPages, PageFingerprint, VerifyResult, read_verify
from spacer.core.readers.placement import Anchor
from spacer.core.readers.recipe import Command, LinkRecipe

TABLE = Table("__spacer_got_libukhash", [("memcpy", False), ("uk_weak", True)])


def facts() -> AppFacts:
    """Pic facts: every optional field filled in."""
    kinds = {"text": KindFacts([".text", ".text.hash"], 300, 16, 290, False, 0, ["memcpy"]),
             "data": KindFacts([".data"], 8, 8, 8, True)}
    obj = ObjectFacts("/out/pic/hello/objects/libukhash.o", "libukhash", "d1", kinds,
                      ["uk_hash"], 0, {"text": [("c1", 300)]}, TABLE,
                      "/ws/apps/hello/build/libukhash.o",
                      DirectCopy("/out/pic/hello/direct/libukhash.o", TABLE), {"text": 12})
    plain = ObjectFacts("/ws/apps/hello/build/hello.o", "hello", "d2", {}, ["main"], 64)
    recipe = LinkRecipe("/b/hello.dbg.cmd", "/src", ("gcc", "-o", "/b/hello.dbg"),
                        ("/ws/apps/hello/build/libukhash.o",), (("dT", "/b/link64.lds"),),
                        "/b/hello.dbg", "/b/hello", (Command(("strip", "/b/hello"),
                                                             "/b/hello.cmd"),))
    return AppFacts("hello", "/b", recipe, {"text": Anchor("text", ".text", 2)}, 64,
                    [obj, plain], {"text": 0x100000}, rebuilt_commands=3)


def piece() -> Slice:
    part = Part("libukhash", "d1", 0, "/ws/apps/hello/build/libukhash.o", [".text"], False)
    slot = Slot("libukhash", 0, 4096, 0x105000, [part], False)
    return Slice("hello", 0x100000, {"rodata": AreaBase(0x200000, ".rodata")}, 0x105000, True,
                 {"text": Area(".text", 2, [slot], False)}, None,
                 {"/ws/apps/hello/build/libukhash.o": "/ws/apps/hello/build/libukhash.o"},
                 [TABLE], None)


def layout() -> Layout:
    unit = UnitRecord("libukhash", ["a", "hello"], ["libukhash"],
                      {"libukhash": {"a": "d1", "hello": "d1"}}, {"text": 4096},
                      {"text": 0}, {"text": False}, {"text": 4096}, {"text": [0]},
                      {"text": 4096})
    return Layout({"aslr": 0, "loc": None, "headroom": 0.0}, ["a", "hello"],
                  {"text": AreaRoom(0x105000, 4096), "tbss": AreaRoom(None, 0)},
                  {"tdata_total": 0, "tbss_total": 64}, [unit],
                  [Move("libukhash", "text", "outgrew its slot", ["a"], 1)],
                  {"hello": piece()}, 7)


def symbols() -> AppSymbols:
    who = Definer("libc", "d3")
    return AppSymbols("hello", {"libukhash": LibraryRefs(
        "d1", [TableEntry("memcpy", False, who), TableEntry("uk_weak", True, None)], 5,
        [DirectRef("main", "R_X86_64_PC32", 2, None)])})


def verify() -> VerifyResult:
    page = PageFingerprint(0, 16, 0x105000, "ab" * 16, {"memcpy": 0x107000})
    return VerifyResult("hello", [], {"libukhash/text/d1": LibraryPages([page])})


def report() -> Report:
    counts = ClassPages(10, 8, 1, 1, 4, 2)
    pages = FleetPages(2, counts, counts)
    return Report({"hello": ImageBytes(1000, 1200)}, pages, pages, 6, 2, 1.333,
                  SharedLibraries(3, 10, 1, 1),
                  [DifferingPage("libukhash/text", 0, 0x105000, ["a", "hello"], 2, ["main"])],
                  References(5, {"R_X86_64_PC32": 2}), {"layout.json": "00" * 32},
                  AslrLayouts(7, 9.5, 16.0, 2, 2, 2))


def manifest() -> Manifest:
    files = ImageFiles("/b/hello", "/b/hello.dbg")
    return Manifest({"hello": ManifestEntry(files, files)})


# (sample, its reader from a file, the key that holds its version, what the line says
# to do, a field deep inside, and a field that holds records)
FORMATS = [
    (facts, read_facts, "version", "run spacer align again",
     ["objects", 0, "kinds", "text", "size"], "objects"),
    (symbols, read_symbols, "version", "run spacer align again",
     ["libraries", "libukhash", "direct", 0, "count"], "libraries"),
    (layout, read_layout, "version", "--replan",
     ["slices", "hello", "areas", "text", "slots", 0, "parts", 0, "offset"], "units"),
    (verify, read_verify, "version", "run spacer align again",
     ["libraries", "libukhash/text/d1", "pages", 0, "digest"], "libraries"),
    (report, read_report, "schema", "run spacer align again",
     ["shared_libraries", "extra_copies"], "differing_pages"),
    (manifest, read_manifest, "version", "run spacer align again",
     ["apps", "hello", "aligned", "image"], "apps"),
]
IDS = [f[0].__name__ for f in FORMATS]


def _write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data, indent=1, sort_keys=True))
    return path


def _refused(read, path: Path, hint: str) -> str:
    with pytest.raises(BadInput) as caught:
        read(path)
    line = caught.value.line()
    assert "\n" not in line and str(path) in line and hint in line, line
    return line


@pytest.mark.parametrize(("sample", "read", "key", "hint", "deep", "records"), FORMATS,
                         ids=IDS)
def test_every_format_round_trips_through_its_file(tmp_path: Path, sample, read, key, hint,
                                                      deep, records):
    value = sample()
    path = _write(tmp_path / "f.json", value.to_json())
    assert read(path) == value
    assert key in json.loads(path.read_text())


@pytest.mark.parametrize(("sample", "read", "key", "hint", "deep", "records"), FORMATS,
                         ids=IDS)
def test_another_version_is_refused_with_one_line(tmp_path: Path, sample, read, key, hint,
                                                      deep, records):
    data = sample().to_json()
    data[key] = 999 if key == "version" else "spacer-report/999"
    line = _refused(read, _write(tmp_path / "f.json", data), hint)
    assert "999" in line
    del data[key]
    _refused(read, _write(tmp_path / "f.json", data), hint)


@pytest.mark.parametrize(("sample", "read", "key", "hint", "deep", "records"), FORMATS,
                         ids=IDS)
def test_a_wrong_shape_is_refused_with_one_line(tmp_path: Path, sample, read, key, hint,
                                                deep, records):
    good = sample().to_json()
    # Each field missing (but the report's aslr_layouts, there under --aslr 2 only, and
    # the fields added since: a file of the same version written before them lacks them).
    added = ("aslr_layouts", "pool", "image_end")
    for field in [k for k in good if k not in ("version", "schema", *added)]:
        missing = copy.deepcopy(good)
        del missing[field]
        _refused(read, _write(tmp_path / "f.json", missing), hint)
    inner = copy.deepcopy(good)
    holder = inner
    for step in deep[:-1]:
        holder = holder[step]
    del holder[deep[-1]]
    _refused(read, _write(tmp_path / "f.json", inner), hint)
    _refused(read, _write(tmp_path / "f.json", {**good, records: 5}), hint)
    _refused(read, _write(tmp_path / "f.json", [good]), hint)  # not an object
    (tmp_path / "f.json").write_text("{")  # cut short
    _refused(read, tmp_path / "f.json", hint)


def test_a_report_without_aslr_layouts_reads_as_none(tmp_path: Path):
    plain = Report(**{**report().__dict__, "aslr_layouts": None})
    data = plain.to_json()
    assert "aslr_layouts" not in data
    assert read_report(_write(tmp_path / "r.json", data)) == plain
