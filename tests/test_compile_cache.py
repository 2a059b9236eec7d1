"""The fleet's compile cache: one compile per distinct object, the same bytes as a
compile of each app's own, and a private copy where the build folder's path reaches
the object's loaded bytes."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

from spacer.core.readers.deplist import fixdep_file, read_dependencies
from spacer.core.readers.workspace import find_apps
from spacer.core.rewrite.compiles import CompileCache, CompileJob
from spacer.core.rewrite.rebuild import pic_flags
from spacer.core.stages.extract import extract_app
from spacer.core.stages.pic import pic_app

SOURCE = "#include \"value.h\"\nint answer(void) { return VALUE * 2; }\n"
LEAKY = "const char *where(void) { return __FILE__; }\n"


def _app(root: Path, name: str, source: str, value: int = 21,
         source_in_build: bool = False) -> CompileJob:
    """An app folder whose build compiled one source, with a dependency list as
    Unikraft records it; its header search path names the app's own folder."""
    app = root / name
    build = app / "build"
    include = app / "include"
    include.mkdir(parents=True)
    (include / "value.h").write_text(f"#define VALUE {value}\n")
    src_dir = build / "src" if source_in_build else root / "shared"
    src_dir.mkdir(parents=True, exist_ok=True)
    src = src_dir / "unit.c"
    src.write_text(source)
    obj = build / "lib" / "unit.o"
    obj.parent.mkdir(parents=True, exist_ok=True)
    deps = obj.with_name(".unit.o.d")
    argv = ["gcc", "-O2", "-fno-PIC", f"-I{include}", f"-Wp,-MD,{deps}", "-c", str(src),
            "-o", str(obj)]
    subprocess.run(argv, cwd=app, check=True)
    listed = [Path(w) for w in deps.read_text().replace("\\\n", " ").split()[1:]]
    return CompileJob(pic_flags(argv), str(obj), app, build, tuple(listed), obj)


def _provide(cache: CompileCache, job: CompileJob, dest: Path) -> bool:
    def compile_to(out: Path) -> None:
        argv = list(job.argv)
        argv[argv.index("-o") + 1] = str(out)
        subprocess.run(argv, cwd=job.cwd, check=True)
    return cache.provide(job, dest, compile_to)[0]


def test_two_apps_share_one_compile_of_the_same_source(tmp_path: Path):
    cache = CompileCache(tmp_path / "cache")
    a = _app(tmp_path, "a", SOURCE)
    b = _app(tmp_path, "b", SOURCE)
    assert _provide(cache, a, tmp_path / "out-a.o") is True
    assert _provide(cache, b, tmp_path / "out-b.o") is False, "b reuses a's compile"
    assert cache.entries() == 1
    # What b got is what b's own compile gives.
    own = tmp_path / "own-b.o"
    _provide(CompileCache(tmp_path / "other"), b, own)
    assert (tmp_path / "out-b.o").read_bytes() == own.read_bytes()


def test_a_header_with_other_content_is_another_compile(tmp_path: Path):
    cache = CompileCache(tmp_path / "cache")
    a = _app(tmp_path, "a", SOURCE, value=21)
    b = _app(tmp_path, "b", SOURCE, value=22)
    assert cache.key(a) != cache.key(b)
    _provide(cache, a, tmp_path / "out-a.o")
    assert _provide(cache, b, tmp_path / "out-b.o") is True
    assert (tmp_path / "out-a.o").read_bytes() != (tmp_path / "out-b.o").read_bytes()


def test_an_object_that_holds_its_build_folder_stays_private(tmp_path: Path):
    """``__FILE__`` of a source unpacked into the build folder (lwIP's assertions) puts
    the app's path in ``.rodata``: each app gets the bytes of its own compile."""
    cache = CompileCache(tmp_path / "cache")
    a = _app(tmp_path, "a", LEAKY, source_in_build=True)
    b = _app(tmp_path, "b", LEAKY, source_in_build=True)
    assert cache.key(a) == cache.key(b), "the same command and sources, by their key"
    assert _provide(cache, a, tmp_path / "out-a.o") is True
    assert _provide(cache, b, tmp_path / "out-b.o") is True
    assert str(b.build_dir).encode() in (tmp_path / "out-b.o").read_bytes()
    assert str(a.build_dir).encode() not in (tmp_path / "out-b.o").read_bytes()
    # A rerun of either finds its own copy.
    assert _provide(cache, a, tmp_path / "again-a.o") is False
    assert (tmp_path / "again-a.o").read_bytes() == (tmp_path / "out-a.o").read_bytes()


def test_entries_are_read_only(tmp_path: Path):
    cache = CompileCache(tmp_path / "cache")
    a = _app(tmp_path, "a", SOURCE)
    dest = tmp_path / "out-a.o"
    _provide(cache, a, dest)
    entry = next((tmp_path / "cache").glob("*.o"))
    assert entry.stat().st_mode & 0o222 == 0, "no later step can change an entry in place"
    assert dest.read_bytes() == entry.read_bytes()


def test_demo_fleet_compiles_each_distinct_object_once(demo_workspace: Path, tmp_path: Path):
    """Two demo apps rebuilt with one cache: the second compiles only what the first
    did not, and gets the objects its rebuild without the cache gives."""
    cache = tmp_path / "cache"
    builds = {a.name: extract_app(a) for a in find_apps(demo_workspace)
              if a.name in ("hello", "counter")}
    pic_app(builds["hello"], tmp_path / "pic" / "hello", cache=cache)
    first = CompileCache(cache).entries()
    shared = pic_app(builds["counter"], tmp_path / "pic" / "counter", cache=cache)
    second = CompileCache(cache).entries() - first
    assert 0 < second < first, (first, second)
    alone = pic_app(builds["counter"], tmp_path / "alone" / "counter")
    for o, p in zip(shared.objects, alone.objects, strict=True):
        assert Path(o.path).read_bytes() == Path(p.path).read_bytes(), o.path


def test_fixdep_lists_give_files_and_the_options_the_sources_test(tmp_path: Path):
    """Unikraft keeps fixdep's form of gcc's list: the configuration header gives way
    to one marker per option, whose value then joins the key."""
    listed = tmp_path / ".ctx.o.d"
    kept = fixdep_file(listed)
    assert kept.name == "ctx.d"
    kept.write_text(
        f"cmd_{tmp_path}/ctx.o := /bin/bash {tmp_path}/ctx.o.cmd\n\n"
        f"source_{tmp_path}/ctx.o := /src/ctx.c\n\n"
        f"deps_{tmp_path}/ctx.o := \\\n"
        "  /src/include/uk/config.h \\\n"
        "    $(wildcard include/config/libukdebug/printk/err.h) \\\n"
        "    $(wildcard include/config/have/sched.h) \\\n"
        "  /src/include/uk/print.h \\\n\n"
        f"{tmp_path}/ctx.o: $(deps_{tmp_path}/ctx.o)\n\n$(deps_{tmp_path}/ctx.o):\n")
    deps = read_dependencies(kept)
    assert deps.files == ("/src/ctx.c", "/src/include/uk/config.h", "/src/include/uk/print.h")
    assert deps.options == ("CONFIG_HAVE_SCHED", "CONFIG_LIBUKDEBUG_PRINTK_ERR")


def test_a_generated_header_that_names_the_app_does_not_stop_reuse(tmp_path: Path):
    """A header the build generates in its own folder (uklibid's table names the app)
    differs between apps that compile the same code: the build's objects, the same
    bytes, stand for it. A source of other content is another compile."""
    cache = CompileCache(tmp_path / "cache")
    jobs = []
    for name in ("a", "b"):
        job = _app(tmp_path, name, SOURCE)
        generated = job.build_dir / "include" / "libid.h"
        generated.parent.mkdir(parents=True)
        generated.write_text(f"#define __UKLIBID_app{name} 0\n")
        jobs.append(replace(job, inputs=(*job.inputs, generated)))
    assert cache.key(jobs[0]) == cache.key(jobs[1])
    other = _app(tmp_path, "c", SOURCE.replace("* 2", "* 3"))
    assert cache.key(other) != cache.key(jobs[0])


def test_a_partial_link_is_keyed_by_its_inputs_and_the_files_it_names(tmp_path: Path):
    cache = CompileCache(tmp_path / "cache")
    symbols = tmp_path / "exportsyms.uk"
    symbols.write_text("answer\n")
    argv = ["objcopy", f"--keep-global-symbols={symbols}", "/a/lib.ld.o", "/a/lib.o"]
    key = cache.link_key(argv, "/a/lib.o", {"/a/lib.ld.o": "k1"}, tmp_path)
    other_app = ["objcopy", f"--keep-global-symbols={symbols}", "/b/lib.ld.o", "/b/lib.o"]
    assert cache.link_key(other_app, "/b/lib.o", {"/b/lib.ld.o": "k1"}, tmp_path) == key
    assert cache.link_key(argv, "/a/lib.o", {"/a/lib.ld.o": "k2"}, tmp_path) != key
    symbols.write_text("answer\nwhere\n")
    assert cache.link_key(argv, "/a/lib.o", {"/a/lib.ld.o": "k1"}, tmp_path) != key


def test_a_configuration_the_list_shows_only_as_options_keys_by_the_build_object(
        tmp_path: Path):
    """fixdep lists a generated configuration header as the options its sources test:
    two apps whose builds made different objects from the same sources (another
    banner, another log level) must not share a compile."""
    cache = CompileCache(tmp_path / "cache")
    a = replace(_app(tmp_path, "a", SOURCE), options=("CONFIG_LIBUKBOOT_BANNER_MINIMAL",))
    b = replace(_app(tmp_path, "b", SOURCE), options=a.options)
    assert cache.key(a) == cache.key(b), "the same objects: one compile"
    other = _app(tmp_path, "c", SOURCE.replace("* 2", "* 5")).original
    b = replace(b, original=other)  # as if the configuration changed b's code
    assert cache.key(a) != cache.key(b)
