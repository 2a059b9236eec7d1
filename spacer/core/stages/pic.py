"""Stage ``pic``, per app (``--aslr 1`` and up): the app's objects as position-
independent code with per-library indirection tables.

Each object of the link (the libraries and the app's own) is rebuilt from its recorded commands with
``-fPIC -fno-plt`` (:mod:`spacer.core.rewrite.rebuild`), its strings that hold a value of
the build's configuration go last (:mod:`spacer.core.rewrite.strings`), and its GOT
relocations are aimed at the library's own table (:mod:`spacer.core.rewrite.indirect`). The result has the
shape of the extract stage's output, with the rebuilt objects' facts, so the
planner works on what will really be linked; each object also names its
``original`` path (the one the link command and the scripts' patterns use) and
its table, and a ``direct`` copy for images whose copy of the library is private.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from spacer.core.errors import SpacerError
from spacer.core.formats.facts import AppFacts, DirectCopy, read_facts
from spacer.core.formats.slices import Table
from spacer.core.outputs.atomic import read_json, write_json_atomic
from spacer.core.readers.placement import find_anchors
from spacer.core.readers.recipe import read_link_recipe
from spacer.core.readers.workspace import AppBuild
from spacer.core.rewrite.indirect import TableEntry, redirect_got, table_symbol
from spacer.core.rewrite.compiles import CACHE_VERSION, REDIRECTED, CompileCache
from spacer.core.rewrite.rebuild import Rebuilder
from spacer.core.rewrite.strings import configured_last, configured_values
from spacer.core.stages.extract import load_scripts, movable_names, object_facts


def pic_app(extract: AppFacts, out_root: Path, jobs: int = 2,
            log: Callable[[str], None] | None = None,
            cache: Path | None = None) -> AppFacts:
    """Rebuild ``extract``'s objects into ``out_root``, compiling only what the fleet's
    ``cache`` folder does not hold yet; its facts, with theirs."""
    recipe = extract.recipe
    compiles = CompileCache(cache) if cache is not None else None
    rebuilder = Rebuilder(Path(extract.build_dir), Path(recipe.cwd), out_root / "build", log,
                          compiles)
    # Every object of the link, the app's own too: its calls into the libraries then
    # cost what the libraries' calls cost, and nothing stays position-dependent.
    rebuilt = {p: rebuilder.plan(Path(p)) for p in recipe.objects}
    rebuilder.run(jobs)
    # The configured name and folder of the app go after a library's other strings.
    values = configured_values(Path(extract.build_dir))
    for path in recipe.objects:
        configured_last(Path(rebuilt[path]), values)
    scripts, default_index = load_scripts(list(recipe.scripts), recipe.default_script)
    anchors = find_anchors(scripts[default_index])
    objects, head_total = [], 0
    before = {o.path: o.kinds for o in extract.objects}
    for path in recipe.objects:
        name = Path(path).name.removesuffix(".o")
        final = out_root / "objects" / Path(path).name
        movable = movable_names(rebuilt[path], path, scripts, default_index, anchors)
        entries = _redirected(compiles, rebuilt[path], final, name, movable=movable)
        facts, head = object_facts(final, path, scripts, default_index, anchors)
        # The copy for an image that keeps the library to itself: its calls go direct.
        direct = out_root / "direct" / Path(path).name
        direct_entries = _redirected(compiles, rebuilt[path], direct, name, direct=True)
        table = Table(table_symbol(name), [(e.symbol, e.weak) for e in entries])
        objects.append(replace(
            facts,
            # The same bytes with another table are another variant: two configurations
            # of a library can compile alike and still reach other symbols through its
            # table (libukboot calling one allocator's init or another's).
            digest=_with_table(facts.digest, table),
            table=table,
            original=path,
            direct=DirectCopy(str(direct), Table(table_symbol(name),
                                                 [(e.symbol, e.weak) for e in direct_entries])),
            # What the rebuild added per kind: the original image's layout, on which
            # the planner bases its estimates, did not have it.
            grown={k: grown for k, part in facts.kinds.items() if k != "got"
                   and (grown := part.size - (old.size if (old := before[path].get(k))
                                              else 0)) > 0}))
        head_total += head
    return replace(extract, objects=objects, text_head=head_total,
                   rebuilt_commands=len(rebuilder.steps))


def _with_table(digest: str, table: Table) -> str:
    """``digest`` of the object's bytes, made to name its table's entries too."""
    named = "\n".join(f"{symbol} {int(weak)}" for symbol, weak in table.entries)
    return hashlib.sha256(f"{digest}\n{named}".encode()).hexdigest()[:len(digest)]


def _redirected(cache: CompileCache | None, source: Path, out: Path, library: str,
                direct: bool = False, movable: set[str] | None = None) -> list[TableEntry]:
    """:func:`redirect_got`, kept in the fleet's cache by the source's bytes: the same
    library rebuilt for many apps is rewritten once."""
    if cache is None:
        return redirect_got(source, out, library, direct=direct, movable=movable)
    with open(source, "rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
    key = REDIRECTED + hashlib.sha256(
        f"{CACHE_VERSION}\n{digest}\n{library}\n{direct}\n"
        f"{sorted(movable) if movable is not None else None}".encode()).hexdigest()
    listed = cache.root / f"{key}.entries.json"

    def rewrite(tmp: Path) -> None:
        entries = redirect_got(source, tmp, library, direct=direct, movable=movable)
        write_json_atomic(listed, [[e.symbol, e.weak] for e in entries])

    cache.provide_keyed(key, out, rewrite)
    return [TableEntry(symbol, weak) for symbol, weak in read_json(listed)]


def run_pic(extract_file: Path, out: Path, objects_dir: Path, cache: Path,
            log: Callable[[str], None] | None = None) -> None:
    """The app's libraries rebuilt position-independent, with their facts (``--aslr``)."""
    facts = pic_app(read_facts(extract_file), objects_dir, log=log, cache=cache)
    write_json_atomic(out, facts.to_json(), only_if_changed=True)


def pic_inputs(app: AppBuild, memo: Path | None = None) -> list[str]:
    """Every file the pic stage of ``app`` reads from its build besides the objects:
    the recorded commands of each object's chain, the compiled sources (and their
    headers and dependency lists where the build recorded them), and the configuration.
    Empty when the build cannot be read yet: the stage says why when it runs.

    Finding them reads every record of the build (libmusl's 1,500 among them) at each
    run's start; ``memo`` keeps the answer with the size and time of every file it
    came from, and the next run takes it while none of those changed."""
    if memo is not None and (kept := _remembered(memo)) is not None:
        return kept
    try:
        recipe = read_link_recipe(Path(app.link_cmd), Path(app.app_dir))
        rebuilder = Rebuilder(Path(app.build_dir), Path(recipe.cwd), Path("/nonexistent"),
                              walk_only=True)
        for path in recipe.objects:
            rebuilder.plan(Path(path))
    except SpacerError:
        return []
    build_dir = Path(app.build_dir)
    config = [p for p in (build_dir / "config", build_dir.parent / ".config") if p.is_file()]
    inputs = sorted({*map(str, rebuilder.read), *map(str, config[:1])})
    if memo is not None:
        sources = {app.link_cmd, *inputs, *map(str, rebuilder.steps),
                   *(str(p) for p in (build_dir / "config", build_dir.parent / ".config"))}
        try:
            write_json_atomic(memo, {"version": INPUTS_MEMO_VERSION, "inputs": inputs,
                                     "files": {p: _stamp(p) for p in sorted(sources)}})
        except OSError:
            pass  # a read-only output folder: the next run walks the records again
    return inputs


INPUTS_MEMO_VERSION = 1


def _stamp(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_size, st.st_ino]


def _remembered(memo: Path) -> list[str] | None:
    """The memo's inputs, when every file they came from is as it was."""
    try:
        data = read_json(memo)
        if data.get("version") != INPUTS_MEMO_VERSION:
            return None
        files, inputs = data["files"], data["inputs"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if any(_stamp(p) != stamp for p, stamp in files.items()):
        return None
    return list(inputs)


def pic_outputs(objects: list[str], out_root: Path) -> list[str]:
    """The objects the pic stage writes for the build objects ``objects``: the copy
    with tables, and the one with direct calls (:func:`pic_app`)."""
    return [str(out_root / kind / Path(p).name) for p in objects for kind in ("objects", "direct")]
